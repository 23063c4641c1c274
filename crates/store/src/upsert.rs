use sqlx::AnyConnection;

use crate::{Arg, Result, Sql};

/// Multi-row `INSERT … ON CONFLICT DO UPDATE`: values are added to the stored
/// ones when `additive`, else they replace them. Keys must be unique in `rows`.
pub async fn upsert(
    conn: &mut AnyConnection,
    table: &str,
    keys: &[&str],
    values: &[&str],
    additive: bool,
    rows: Vec<Vec<Arg>>,
) -> Result<()> {
    let update: Vec<String> = values
        .iter()
        .map(|v| {
            if additive {
                format!("{v} = {table}.{v} + excluded.{v}")
            } else {
                format!("{v} = excluded.{v}")
            }
        })
        .collect();
    let tail = format!(
        " ON CONFLICT ({}) DO UPDATE SET {}",
        keys.join(", "),
        update.join(", ")
    );
    let columns: Vec<&str> = keys.iter().chain(values).copied().collect();
    write_rows(conn, table, &columns, &tail, rows).await
}

/// Multi-row plain `INSERT`, for rows known to be new: on PostgreSQL it costs
/// about half an upsert, which checks the key before and after it writes. A
/// row that exists after all fails the statement (a unique violation).
pub async fn insert(
    conn: &mut AnyConnection,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<Arg>>,
) -> Result<()> {
    write_rows(conn, table, columns, "", rows).await
}

/// Adds rows' values to the stored ones, each row with whether the caller
/// believes it new (no stored row has its key): those by a plain insert, the
/// rest by an upsert. Should a "new" row be stored after all, the insert is
/// undone (a savepoint) and they are upserted too: slower, never wrong.
pub async fn add_rows(
    conn: &mut AnyConnection,
    table: &str,
    keys: &[&str],
    values: &[&str],
    rows: Vec<(bool, Vec<Arg>)>,
) -> Result<()> {
    let (new, known): (Vec<_>, Vec<_>) = rows.into_iter().partition(|(new, _)| *new);
    let unmark = |rows: Vec<(bool, Vec<Arg>)>| rows.into_iter().map(|(_, r)| r).collect();
    upsert(conn, table, keys, values, true, unmark(known)).await?;
    if new.is_empty() {
        return Ok(());
    }
    let new: Vec<Vec<Arg>> = unmark(new);
    let columns: Vec<&str> = keys.iter().chain(values).copied().collect();
    sqlx::query("SAVEPOINT new_rows")
        .execute(&mut *conn)
        .await?;
    match write_rows(conn, table, &columns, "", new.iter().cloned()).await {
        Ok(()) => {}
        Err(crate::Error::Sql(sqlx::Error::Database(e))) if e.is_unique_violation() => {
            tracing::warn!(
                table,
                rows = new.len(),
                error = %e,
                "rows taken for new were stored; adding them instead"
            );
            sqlx::query("ROLLBACK TO SAVEPOINT new_rows")
                .execute(&mut *conn)
                .await?;
            upsert(conn, table, keys, values, true, new).await?;
        }
        Err(e) => return Err(e),
    }
    sqlx::query("RELEASE SAVEPOINT new_rows")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn write_rows(
    conn: &mut AnyConnection,
    table: &str,
    columns: &[&str],
    tail: &str,
    rows: impl IntoIterator<Item = Vec<Arg>>,
) -> Result<()> {
    let per_statement = (crate::PARAMS_PER_STATEMENT / columns.len().max(1)).max(1);
    let head = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Arg>> = rows.by_ref().take(per_statement).collect();
        let mut sql = Sql::for_conn(conn, &head).once(chunk.len() < per_statement);
        for (i, r) in chunk.into_iter().enumerate() {
            sql.push(if i == 0 { "(" } else { ", (" });
            for (j, v) in r.into_iter().enumerate() {
                if j > 0 {
                    sql.push(", ");
                }
                sql.bind(v);
            }
            sql.push(")");
        }
        sql.push(tail);
        sql.query().execute(&mut *conn).await?;
    }
    Ok(())
}
