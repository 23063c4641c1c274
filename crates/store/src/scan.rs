use std::cmp::Ordering;

use futures::TryStreamExt;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgRow};
use sqlx::{AnyPool, ConnectOptions, Connection, Row};

use crate::{Arg, Error, Result, Sql};

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

/// One row of a scan, read by column name.
pub struct ScanRow<'a> {
    columns: &'a [&'a str],
    values: Values<'a>,
}

enum Values<'a> {
    Pg(&'a PgRow),
    Json(&'a [serde_json::Value]),
}

impl ScanRow<'_> {
    pub fn text(&self, column: &str) -> Result<&str> {
        let i = self.index(column)?;
        match self.values {
            Values::Pg(r) => Ok(r.try_get(i)?),
            Values::Json(v) => v[i].as_str().ok_or_else(|| wrong_type(column, "text")),
        }
    }

    pub fn int(&self, column: &str) -> Result<i64> {
        let i = self.index(column)?;
        match self.values {
            Values::Pg(r) => Ok(r.try_get(i)?),
            Values::Json(v) => v[i]
                .as_i64()
                .ok_or_else(|| wrong_type(column, "an integer")),
        }
    }

    fn index(&self, column: &str) -> Result<usize> {
        self.columns
            .iter()
            .position(|c| *c == column)
            .ok_or_else(|| Error::Config(format!("column {column} is not in the scan")))
    }

    fn key(&self, keys: &[Key], other: &ScanRow<'_>) -> Result<Ordering> {
        for k in keys {
            let order = match *k {
                Key::Text(n) => self.text(n)?.cmp(other.text(n)?),
                Key::Int(n) => self.int(n)?.cmp(&other.int(n)?),
            };
            if order != Ordering::Equal {
                return Ok(order);
            }
        }
        Ok(Ordering::Equal)
    }
}

fn wrong_type(column: &str, want: &str) -> Error {
    Error::Corrupt(format!("scanned column {column} is not {want}"))
}

/// Reads a whole table in key order without ever holding more than a page
/// of it. The key columns must be among `columns`.
///
/// On PostgreSQL the table is one statement streamed over a connection of
/// its own and read as PostgreSQL rows: the database sends rows ahead into
/// the socket while the caller visits the ones received, so on two cores the
/// two overlap. Through the pool's `Any` driver every row was first copied
/// into an `AnyRow` (owned strings, a column list per row), and that with
/// the allocator's churn was a third of the profiler's load.
///
/// On SQLite a page comes back as one JSON array built by SQLite itself:
/// sqlx hands each row from its SQLite thread to the caller separately, and
/// those hand-offs, not SQLite, took most of a load's time.
pub fn scan<'a>(
    pool: &'a AnyPool,
    table: &'a str,
    keys: &'a [Key],
    columns: &'a [&'a str],
    each: impl FnMut(&ScanRow<'_>) -> Result<()> + Send + 'a,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<u64>> + Send + 'a>> {
    Box::pin(async move {
        if let Some(k) = keys.iter().find(|k| !columns.contains(&k.name())) {
            return Err(Error::Config(format!(
                "scan key {} is not a column",
                k.name()
            )));
        }
        let conn = pool.acquire().await?;
        if crate::is_sqlite(&conn) {
            return scan_json(conn, table, keys, columns, each).await;
        }
        drop(conn);
        scan_pg(pool, table, keys, columns, each).await
    })
}

/// The PostgreSQL path (see [`scan`]).
async fn scan_pg(
    pool: &AnyPool,
    table: &str,
    keys: &[Key],
    columns: &[&str],
    mut each: impl FnMut(&ScanRow<'_>) -> Result<()>,
) -> Result<u64> {
    let url = &pool.connect_options().database_url;
    let options = PgConnectOptions::from_url(url)
        .map_err(|e| Error::Config(format!("bad store url: {e}")))?
        // One statement reads the whole table: a `statement_timeout` set for
        // the role or database to bound queries would fail every load.
        .options([("statement_timeout", "0")])
        .log_statements(tracing::log::LevelFilter::Trace);
    let redacted = || crate::redact(url.as_str());
    // The pool's wait for a connection bounds this one's, so a database
    // that is away is said as soon as for any other query.
    let connect = PgConnection::connect_with(&options);
    let mut conn = tokio::time::timeout(pool.options().get_acquire_timeout(), connect)
        .await
        .map_err(|_| Error::Connect(redacted(), sqlx::Error::PoolTimedOut))?
        .map_err(|e| Error::Connect(redacted(), e))?;
    let key_list: Vec<&str> = keys.iter().map(|k| k.name()).collect();
    let sql = format!(
        "SELECT {} FROM {table} ORDER BY {}",
        columns.join(", "),
        key_list.join(", ")
    );
    let mut seen = 0;
    {
        let mut rows = sqlx::query(&sql).fetch(&mut conn);
        while let Some(row) = rows.try_next().await? {
            each(&ScanRow {
                columns,
                values: Values::Pg(&row),
            })?;
            seen += 1;
        }
    }
    // Closing politely only tells the server; the rows are all read.
    let _ = conn.close().await;
    Ok(seen)
}

/// The SQLite path: a page comes back as one JSON array (see [`scan`]).
async fn scan_json(
    mut conn: sqlx::pool::PoolConnection<sqlx::Any>,
    table: &str,
    keys: &[Key],
    columns: &[&str],
    mut each: impl FnMut(&ScanRow<'_>) -> Result<()>,
) -> Result<u64> {
    let mut cursor: Option<Vec<Arg>> = None;
    let mut seen = 0;
    loop {
        let page = page_sql(table, keys, columns, cursor.as_deref());
        let text: String = page.query().fetch_one(&mut *conn).await?.try_get(0)?;
        let rows: Vec<Vec<serde_json::Value>> = serde_json::from_str(&text)
            .map_err(|e| Error::Corrupt(format!("a page of {table}: {e}")))?;
        let rows: Vec<ScanRow<'_>> = rows
            .iter()
            .map(|v| match v.len() == columns.len() {
                true => Ok(ScanRow {
                    columns,
                    values: Values::Json(v),
                }),
                false => Err(Error::Corrupt(format!("a row of {table} is short"))),
            })
            .collect::<Result<_>>()?;
        rows.iter().try_for_each(&mut each)?;
        seen += rows.len() as u64;
        match greatest(&rows, keys)? {
            Some(last) if rows.len() as i64 == PAGE => cursor = Some(last),
            _ => return Ok(seen),
        }
    }
}

/// The page's greatest key, where the next page starts: computed, not taken
/// from the last row, because an aggregate need not keep its input's order.
fn greatest(rows: &[ScanRow<'_>], keys: &[Key]) -> Result<Option<Vec<Arg>>> {
    let mut greatest: Option<&ScanRow<'_>> = None;
    for r in rows {
        greatest = match greatest {
            Some(g) if g.key(keys, r)? != Ordering::Less => Some(g),
            _ => Some(r),
        };
    }
    greatest
        .map(|g| {
            keys.iter()
                .map(|k| {
                    Ok(match *k {
                        Key::Text(n) => Arg::Text(g.text(n)?.to_owned()),
                        Key::Int(n) => Arg::Int(g.int(n)?),
                    })
                })
                .collect()
        })
        .transpose()
}

/// A page of the table as one JSON array, after the key `after`.
fn page_sql(table: &str, keys: &[Key], columns: &[&str], after: Option<&[Arg]>) -> Sql {
    let key_list: Vec<&str> = keys.iter().map(|k| k.name()).collect();
    let key_list = key_list.join(", ");
    let columns = columns.join(", ");
    let mut sql = Sql::new(&format!(
        "SELECT json_group_array(json_array({columns})) FROM ("
    ));
    sql.push(&format!("SELECT {columns} FROM {table}"));
    if let Some(after) = after {
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
    sql.push(")");
    sql
}

/// Every value of a table's text key `column`, in pages.
pub async fn scan_ids(
    pool: &AnyPool,
    table: &str,
    column: &'static str,
    mut each: impl FnMut(&str) + Send,
) -> Result<u64> {
    let keys = [Key::Text(column)];
    scan(pool, table, &keys, &[column], |r| {
        each(r.text(column)?);
        Ok(())
    })
    .await
}
