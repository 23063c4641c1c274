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
    // SQLite allows 32,766 bind parameters per statement.
    let per_statement = (30_000 / columns.len().max(1)).clamp(1, 1000);
    for chunk in rows.chunks(per_statement) {
        let mut sql = Sql::new(&format!(
            "INSERT INTO {table} ({}) VALUES ",
            columns.join(", ")
        ));
        for (i, r) in chunk.iter().enumerate() {
            sql.push(if i == 0 { "(" } else { ", (" });
            for (j, v) in r.iter().enumerate() {
                if j > 0 {
                    sql.push(", ");
                }
                sql.bind(v.clone());
            }
            sql.push(")");
        }
        sql.push(&tail);
        sql.query().execute(&mut *conn).await?;
    }
    Ok(())
}
