//! Store helpers shared by the services: one SQL dialect over SQLite (embedded
//! mode) and PostgreSQL (distributed mode) through sqlx's `Any` driver, named
//! migrations, the consumer's bookkeeping, and the customer-day component.
//!
//! Portable SQL rules kept here: `$n` placeholders numbered in order of first
//! appearance, BIGINT for every integer, `CAST(SUM(..) AS BIGINT)` because
//! PostgreSQL sums BIGINT into NUMERIC.

mod apart;
mod applied;
mod audit;
mod consumer;
mod customer_days;
mod error;
mod migrate;
mod scan;
mod sql;
mod upsert;

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions};

pub use apart::{Named, scan_apart};
pub use applied::Applied;
pub use audit::AUDIT_MIGRATIONS;
pub use consumer::{
    Counters, LogState, add_counters, load_counter, load_counters, load_log_state, load_positions,
    reset_tables, save_log_state, save_positions,
};
pub use customer_days::{
    CUSTOMER_DAYS_MIGRATIONS, TagOf, load_customer_days, load_customer_state, write_customer_days,
};
pub use error::{Error, Refusal, Result};
pub use migrate::{CONSUMER_MIGRATIONS, Migration};
pub use scan::{Key, ScanRow, scan, scan_ids};
pub use sql::{Arg, Sql, in_lists, push_mark};
pub use upsert::{add_rows, insert, upsert, values_text};

pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

const SQLITE_PRAGMAS: &[&str] = &[
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA busy_timeout = 10000",
];

/// A service's own database.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

/// How long a query waits for a database connection by default
/// (`store.acquire_timeout_ms`): a database that is away is said at once,
/// not after sqlx's 30 s.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

impl Store {
    /// Connects to `sqlite://path` (created if missing) or `postgres://…`,
    /// waiting at most [`DEFAULT_ACQUIRE_TIMEOUT`] for a connection.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, DEFAULT_ACQUIRE_TIMEOUT).await
    }

    /// Connects as `connect` does; a query waits at most `acquire_timeout`
    /// for a connection, then fails as unreachable (`Error::is_unreachable`)
    /// instead of hanging while the database is away.
    pub async fn connect_with(url: &str, acquire_timeout: Duration) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(Error::Config(format!(
                "store url {url:?} must start with sqlite:// or postgres://"
            )));
        };
        let (url, max) = match backend {
            Backend::Sqlite => (sqlite_url(url)?, 4),
            Backend::Postgres => (url.to_owned(), 8),
        };
        let options = AnyConnectOptions::from_str(&url)
            .map_err(|e| Error::Config(format!("bad store url: {e}")))?
            .log_statements(tracing::log::LevelFilter::Trace);
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(acquire_timeout)
            .after_connect(move |conn: &mut sqlx::AnyConnection, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets queries read while the consumer writes; a busy
                        // timeout turns writer contention into waiting, not errors.
                        for pragma in SQLITE_PRAGMAS {
                            sqlx::Executor::execute(&mut *conn, *pragma).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(|e| Error::Connect(redact(&url), e))?;
        Ok(Self { pool, backend })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Every transaction here writes. On SQLite it takes the write lock at
    /// BEGIN: a deferred one that read first fails with SQLITE_BUSY_SNAPSHOT
    /// if another connection wrote meanwhile, and the busy timeout cannot help.
    pub async fn begin(&self) -> Result<Tx> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    pub async fn acquire(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>> {
        Ok(self.pool.acquire().await?)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Makes sure the SQLite file and its folder exist, so a newcomer needs no setup.
fn sqlite_url(url: &str) -> Result<String> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path != ":memory:"
        && let Some(dir) = std::path::Path::new(path).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Config(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut query = query.to_owned();
    if !query.contains("mode=") {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str("mode=rwc");
    }
    Ok(format!("sqlite://{path}?{query}"))
}

/// How many bind parameters to put in one statement: many, to save round
/// trips (PostgreSQL) and sqlx's per-statement hand-off to its SQLite thread.
/// On SQLite only with anonymous marks ([`Sql::for_conn`]): named ones cost
/// the square of their count.
/// A full statement's compiled program stays in the connection's cache, so
/// this is also what each cached bulk statement costs in memory.
pub const PARAMS_PER_STATEMENT: usize = 2_000;

/// Whether a connection is SQLite (the embedded mode) rather than PostgreSQL.
pub fn is_sqlite(conn: &sqlx::AnyConnection) -> bool {
    conn.backend_name().eq_ignore_ascii_case("sqlite")
}

/// A stored day number, checked: a value outside `Day` is damage, not data.
pub fn day(stored: i64) -> Result<portrait_core::Day> {
    portrait_core::Day::try_from(stored)
        .map_err(|_| Error::Corrupt(format!("day {stored} is out of range")))
}

/// A URL fit for logs: no password.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}
