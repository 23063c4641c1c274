use sqlx::AnyConnection;

use crate::{Arg, Result};

mod arrays;

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
    write_rows(conn, table, &columns, &tail, &rows).await
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
    write_rows(conn, table, columns, "", &rows).await
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
    match write_rows(conn, table, &columns, "", &new).await {
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
    rows: &[Vec<Arg>],
) -> Result<()> {
    let anonymous = crate::is_sqlite(conn);
    if !anonymous && let Some(arrays) = arrays::Columns::of(rows, columns.len()) {
        return arrays.write(conn, table, columns, tail).await;
    }
    let per_statement = (crate::PARAMS_PER_STATEMENT / columns.len().max(1)).max(1);
    let head = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
    for chunk in rows.chunks(per_statement) {
        let text = values_text(&head, columns.len(), chunk.len(), tail, anonymous);
        // A batch's last, partial statement stays out of the statement cache.
        let mut query = sqlx::query(&text).persistent(chunk.len() == per_statement);
        for v in chunk.iter().flatten() {
            query = match v {
                Arg::Int(v) => query.bind(*v),
                Arg::Text(v) => query.bind(v.as_str()),
            };
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// `head ($1, $2), ($3, $4) tail` for `rows` rows of `columns` values;
/// `anonymous` marks for SQLite, as [`Sql::for_conn`] explains.
pub fn values_text(head: &str, columns: usize, rows: usize, tail: &str, anonymous: bool) -> String {
    let mut text = String::with_capacity(head.len() + tail.len() + rows * columns * 6);
    text.push_str(head);
    for row in 0..rows {
        text.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..columns {
            if column > 0 {
                text.push_str(", ");
            }
            if anonymous {
                text.push('?');
            } else {
                crate::push_mark(&mut text, row * columns + column + 1);
            }
        }
        text.push(')');
    }
    text.push_str(tail);
    text
}
