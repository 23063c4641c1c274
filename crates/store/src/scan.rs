use futures::TryStreamExt;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgRow};
use sqlx::{AnyPool, ConnectOptions, Connection, Row};

use crate::{Arg, Error, Result, Sql};

mod page;

use page::Cell;

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
    Json(&'a [Cell<'a>]),
}

impl ScanRow<'_> {
    pub fn text(&self, column: &str) -> Result<&str> {
        let i = self.index(column)?;
        match self.values {
            Values::Pg(r) => Ok(r.try_get(i)?),
            Values::Json(v) => match &v[i] {
                Cell::Text(t) => Ok(t),
                _ => Err(wrong_type(column, "text")),
            },
        }
    }

    pub fn int(&self, column: &str) -> Result<i64> {
        let i = self.index(column)?;
        match self.values {
            Values::Pg(r) => Ok(r.try_get(i)?),
            Values::Json(v) => match v[i] {
                Cell::Int(n) => Ok(n),
                _ => Err(wrong_type(column, "an integer")),
            },
        }
    }

    fn index(&self, column: &str) -> Result<usize> {
        self.columns
            .iter()
            .position(|c| *c == column)
            .ok_or_else(|| Error::Config(format!("column {column} is not in the scan")))
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
        if keys.is_empty() {
            return Err(Error::Config(format!("a scan of {table} needs a key")));
        }
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

/// The SQLite path: a page comes back as one JSON array (see [`scan`]). A
/// task of its own asks for each next page while the caller reads this one:
/// SQLite builds a page on its connection's thread, so on two cores the
/// building and the reading overlap.
async fn scan_json(
    conn: sqlx::pool::PoolConnection<sqlx::Any>,
    table: &str,
    keys: &[Key],
    columns: &[&str],
    mut each: impl FnMut(&ScanRow<'_>) -> Result<()>,
) -> Result<u64> {
    let (send, mut pages) = tokio::sync::mpsc::channel(1);
    let statements = PageStatements::new(table, keys, columns);
    let producer = tokio::spawn(statements.produce(conn, send));
    // The producer stops at its next page once this side is gone, early or not.
    let _stop = AbortOnDrop(producer);
    let mut seen = 0;
    while let Some(text) = pages.recv().await {
        let text: String = text?;
        let cells = page::parse(&text, columns.len())
            .map_err(|e| Error::Corrupt(format!("a page of {table}: {e}")))?;
        for v in cells.chunks_exact(columns.len()) {
            each(&ScanRow {
                columns,
                values: Values::Json(v),
            })?;
            seen += 1;
        }
        // With the next page already waiting, `recv` would not yield: a
        // whole load would hold a worker of the runtime, and the embedded
        // stack's other tasks (its other loads, its servers) would wait.
        tokio::task::yield_now().await;
    }
    Ok(seen)
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The two statements of a page: where it ends, then its rows as JSON.
struct PageStatements {
    table: String,
    keys: Vec<Key>,
    columns: String,
    key_list: String,
}

impl PageStatements {
    fn new(table: &str, keys: &[Key], columns: &[&str]) -> Self {
        let key_list: Vec<&str> = keys.iter().map(|k| k.name()).collect();
        Self {
            table: table.to_owned(),
            keys: keys.to_vec(),
            columns: columns.join(", "),
            key_list: key_list.join(", "),
        }
    }

    /// Sends each page's text in key order, then hangs up; the first error
    /// is sent and ends the scan.
    async fn produce(
        self,
        mut conn: sqlx::pool::PoolConnection<sqlx::Any>,
        send: tokio::sync::mpsc::Sender<Result<String>>,
    ) {
        let mut after: Option<Vec<Arg>> = None;
        loop {
            let page = async {
                // The page's last key, found before its rows are built, is
                // where the next page starts: no wait for this one's parse.
                let end_sql = self.end_sql(after.as_deref());
                let end = match end_sql.query().fetch_optional(&mut *conn).await? {
                    Some(row) => Some(self.key_of(&row)?),
                    None => None,
                };
                let rows = self.rows_sql(after.as_deref(), end.as_deref());
                let text: String = rows.query().fetch_one(&mut *conn).await?.try_get(0)?;
                Ok::<_, Error>((text, end))
            };
            let (text, end) = match page.await {
                Ok(page) => page,
                Err(e) => {
                    let _ = send.send(Err(e)).await;
                    return;
                }
            };
            if send.send(Ok(text)).await.is_err() {
                return;
            }
            match end {
                Some(end) => after = Some(end),
                None => return,
            }
        }
    }

    /// The key of the `PAGE`th row after `after`; none when fewer are left.
    fn end_sql(&self, after: Option<&[Arg]>) -> Sql {
        let mut sql = Sql::new(&format!("SELECT {} FROM {}", self.key_list, self.table));
        self.push_after(&mut sql, after);
        sql.push(&format!(" ORDER BY {} LIMIT 1 OFFSET ", self.key_list))
            .bind(PAGE - 1);
        sql
    }

    /// The rows after `after` up to `end` (to the table's end when none) as
    /// one JSON array.
    fn rows_sql(&self, after: Option<&[Arg]>, end: Option<&[Arg]>) -> Sql {
        let columns = &self.columns;
        let mut sql = Sql::new(&format!(
            "SELECT json_group_array(json_array({columns})) FROM (SELECT {columns} FROM {}",
            self.table
        ));
        self.push_after(&mut sql, after);
        if let Some(end) = end {
            sql.push(if after.is_some() { " AND " } else { " WHERE " });
            push_tuple(&mut sql, &self.key_list, "<=", end);
        }
        sql.push(&format!(" ORDER BY {})", self.key_list));
        sql
    }

    fn push_after(&self, sql: &mut Sql, after: Option<&[Arg]>) {
        if let Some(after) = after {
            sql.push(" WHERE ");
            push_tuple(sql, &self.key_list, ">", after);
        }
    }

    fn key_of(&self, row: &sqlx::any::AnyRow) -> Result<Vec<Arg>> {
        (self.keys.iter().enumerate())
            .map(|(i, k)| {
                Ok(match k {
                    Key::Text(_) => Arg::Text(row.try_get(i)?),
                    Key::Int(_) => Arg::Int(row.try_get(i)?),
                })
            })
            .collect()
    }
}

/// `(keys) op (values)`, the values bound.
fn push_tuple(sql: &mut Sql, key_list: &str, op: &str, values: &[Arg]) {
    sql.push(&format!("({key_list}) {op} ("));
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.bind(v.clone());
    }
    sql.push(")");
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
