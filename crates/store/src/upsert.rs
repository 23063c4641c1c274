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
    let columns: Vec<&str> = keys.iter().chain(values).copied().collect();
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
        sql.push(&tail);
        sql.query().execute(&mut *conn).await?;
    }
    Ok(())
}
