use sqlx::AnyPool;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Arg, Result, Sql};

/// A key column of a table scan and its type.
#[derive(Debug, Clone, Copy)]
pub enum Key {
    Text(&'static str),
    Int(&'static str),
}

impl Key {
    fn name(self) -> &'static str {
        match self {
            Key::Text(n) | Key::Int(n) => n,
        }
    }
}

const PAGE: i64 = 20_000;

/// Reads a whole table in key order, a page at a time, so that loading ten
/// million rows never holds more than one page.
pub fn scan<'a>(
    pool: &'a AnyPool,
    table: &'a str,
    keys: &'a [Key],
    columns: &'a [&'a str],
    mut each: impl FnMut(&AnyRow) -> Result<()> + Send + 'a,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<u64>> + Send + 'a>> {
    Box::pin(async move {
        let key_list: Vec<&str> = keys.iter().map(|k| k.name()).collect();
        let key_list = key_list.join(", ");
        let select = format!("SELECT {} FROM {table}", columns.join(", "));
        let mut cursor: Option<Vec<Arg>> = None;
        let mut seen = 0;
        loop {
            let mut sql = Sql::new(&select);
            if let Some(after) = &cursor {
                sql.push(&format!(" WHERE ({key_list}) > ("));
                for (i, v) in after.iter().enumerate() {
                    if i > 0 {
                        sql.push(", ");
                    }
                    sql.bind(v.clone());
                }
                sql.push(")");
            }
            sql.push(&format!(" ORDER BY {key_list} LIMIT ")).bind(PAGE);
            let rows = sql.query().fetch_all(pool).await?;
            for r in &rows {
                each(r)?;
            }
            seen += rows.len() as u64;
            let Some(last) = rows.last().filter(|_| rows.len() as i64 == PAGE) else {
                return Ok(seen);
            };
            cursor = Some(
                keys.iter()
                    .map(|k| {
                        Ok(match *k {
                            Key::Text(n) => Arg::Text(last.try_get(n)?),
                            Key::Int(n) => Arg::Int(last.try_get(n)?),
                        })
                    })
                    .collect::<Result<_>>()?,
            );
        }
    })
}
