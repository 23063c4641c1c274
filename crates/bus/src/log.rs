//! The embedded log: an append-only SQLite table, one partition per topic.

use std::path::Path;
use std::str::FromStr;
use std::sync::LazyLock;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Acquire, Row};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::{Error, Message, Record, Result};

/// Wakes this process's consumers after a publish; a consumer in another
/// process notices by polling.
static APPENDED: LazyLock<Notify> = LazyLock::new(Notify::new);
const POLL: Duration = Duration::from_millis(50);

#[derive(Clone)]
pub(crate) struct LogBus {
    pool: SqlitePool,
    path: String,
}

impl LogBus {
    pub(crate) async fn open(path: &Path) -> Result<Self> {
        let name = path.display().to_string();
        let fail = |source| Error::Log {
            path: name.clone(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| fail(sqlx::Error::Io(e)))?;
        }
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{name}"))
            .map_err(fail)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // The log is the record of truth once ingest's outbox is cleared.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(fail)?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS log (topic TEXT NOT NULL, offset INTEGER NOT NULL, \
             key TEXT NOT NULL, payload BLOB NOT NULL, headers BLOB NOT NULL, PRIMARY KEY (topic, offset))",
        )
        .execute(&pool)
        .await
        .map_err(fail)?;
        Ok(Self { pool, path: name })
    }

    fn fail(&self) -> impl Fn(sqlx::Error) -> Error + '_ {
        |source| Error::Log {
            path: self.path.clone(),
            source,
        }
    }

    pub(crate) async fn publish(&self, topic: &str, messages: &[Message]) -> Result<()> {
        let mut conn = self.pool.acquire().await.map_err(self.fail())?;
        // IMMEDIATE takes the write lock up front, so concurrent publishers
        // queue on the busy timeout instead of failing to upgrade a read lock.
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut *conn)
            .await
            .map_err(self.fail())?;
        let result = async {
            let conn = conn.acquire().await?;
            let next: i64 =
                sqlx::query("SELECT COALESCE(MAX(offset) + 1, 0) FROM log WHERE topic = ?")
                    .bind(topic)
                    .fetch_one(&mut *conn)
                    .await?
                    .try_get(0)?;
            // Many rows per statement: each statement is a round trip to
            // the connection's thread, which one row a statement made the
            // embedded pipeline's narrowest point (12k events/s).
            let mut offset = next;
            for chunk in messages.chunks(ROWS_PER_INSERT) {
                let text = insert_text(chunk.len());
                let mut query = sqlx::query(&text).persistent(chunk.len() == ROWS_PER_INSERT);
                for m in chunk {
                    query = query
                        .bind(topic)
                        .bind(offset)
                        .bind(&m.key)
                        .bind(&m.payload)
                        .bind(encode_headers(&m.headers));
                    offset += 1;
                }
                query.execute(&mut *conn).await?;
            }
            sqlx::query("COMMIT").execute(&mut *conn).await?;
            Ok::<_, sqlx::Error>(())
        }
        .await;
        if let Err(e) = result {
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            return Err(self.fail()(e));
        }
        APPENDED.notify_waiters();
        Ok(())
    }

    pub(crate) async fn bounds(&self, topic: &str) -> Result<Vec<crate::Bounds>> {
        // Two subqueries, because SQLite reads a lone MIN or MAX from the end of
        // the index but scans the whole topic for both in one query: 1.5 s
        // at ten million records, and every consumer asks every second.
        let row = sqlx::query(
            "SELECT COALESCE((SELECT MIN(offset) FROM log WHERE topic = ?1), 0), \
             COALESCE((SELECT MAX(offset) FROM log WHERE topic = ?1) + 1, 0)",
        )
        .bind(topic)
        .fetch_one(&self.pool)
        .await
        .map_err(self.fail())?;
        Ok(vec![crate::Bounds {
            partition: 0,
            start: row.try_get(0).map_err(self.fail())?,
            end: row.try_get(1).map_err(self.fail())?,
        }])
    }

    pub(crate) fn consumer(&self, topic: &str, start: &[(i32, i64)]) -> LogConsumer {
        LogConsumer {
            log: self.clone(),
            topic: topic.to_owned(),
            next: start.iter().find(|(p, _)| *p == 0).map_or(0, |(_, o)| *o),
        }
    }
}

pub(crate) struct LogConsumer {
    log: LogBus,
    topic: String,
    next: i64,
}

impl LogConsumer {
    pub(crate) async fn next_batch(&mut self, max: usize, wait: Duration) -> Result<Vec<Record>> {
        let deadline = Instant::now() + wait;
        loop {
            // Registered before the read, so a publish in between still wakes us.
            let appended = APPENDED.notified();
            let batch = self.read(max).await?;
            if !batch.is_empty() {
                self.next = batch[batch.len() - 1].offset + 1;
                return Ok(batch);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(Vec::new());
            }
            let _ = tokio::time::timeout((deadline - now).min(POLL), appended).await;
        }
    }

    async fn read(&self, max: usize) -> Result<Vec<Record>> {
        let rows = sqlx::query(
            "SELECT offset, key, payload, headers FROM log WHERE topic = ? AND offset >= ? ORDER BY offset LIMIT ?",
        )
        .bind(&self.topic)
        .bind(self.next)
        .bind(max as i64)
        .fetch_all(&self.log.pool)
        .await
        .map_err(self.log.fail())?;
        rows.iter()
            .map(|r| {
                let headers: Vec<u8> = r.try_get(3).map_err(self.log.fail())?;
                Ok(Record {
                    topic: self.topic.clone(),
                    partition: 0,
                    offset: r.try_get(0).map_err(self.log.fail())?,
                    key: r.try_get(1).map_err(self.log.fail())?,
                    payload: r.try_get(2).map_err(self.log.fail())?,
                    headers: decode_headers(&headers)?,
                })
            })
            .collect()
    }
}

/// Rows per `INSERT`: 5 values a row, well under SQLite's 32,766 parameters.
const ROWS_PER_INSERT: usize = 200;

fn insert_text(rows: usize) -> String {
    let mut text = String::from("INSERT INTO log (topic, offset, key, payload, headers) VALUES ");
    for row in 0..rows {
        if row > 0 {
            text.push_str(", ");
        }
        text.push_str("(?, ?, ?, ?, ?)");
    }
    text
}

/// Length-prefixed pairs: values may hold any text, newlines included.
fn encode_headers(headers: &[(String, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in headers {
        for part in [k, v] {
            out.extend_from_slice(&(part.len() as u32).to_le_bytes());
            out.extend_from_slice(part.as_bytes());
        }
    }
    out
}

fn decode_headers(bytes: &[u8]) -> Result<Vec<(String, String)>> {
    let mut rest = bytes;
    let mut parts = Vec::new();
    while !rest.is_empty() {
        let (len, tail) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| Error::Corrupt("truncated header length".into()))?;
        let (text, tail) = tail
            .split_at_checked(u32::from_le_bytes(*len) as usize)
            .ok_or_else(|| Error::Corrupt("truncated header".into()))?;
        parts.push(
            String::from_utf8(text.to_vec())
                .map_err(|_| Error::Corrupt("header is not utf-8".into()))?,
        );
        rest = tail;
    }
    if parts.len() % 2 != 0 {
        return Err(Error::Corrupt("header without a value".into()));
    }
    let mut pairs = parts.into_iter();
    let mut out = Vec::new();
    while let (Some(k), Some(v)) = (pairs.next(), pairs.next()) {
        out.push((k, v));
    }
    Ok(out)
}
