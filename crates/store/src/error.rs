#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Config(String),
    #[error("failed to connect to {0}: {1}")]
    Connect(String, #[source] sqlx::Error),
    #[error("migration {name} of {scope} failed: {source}")]
    Migration {
        scope: String,
        name: &'static str,
        #[source]
        source: sqlx::Error,
    },
    /// The database's schema does not fit this build.
    #[error("schema: {0}")]
    Schema(String),
    /// A stored value this code wrote reads back wrong.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    /// A load's thread ended without an answer (the runtime is shutting down).
    #[error("a load stopped: {0}")]
    Stopped(String),
}

/// Why a store cannot take writes now, though it is reachable: the condition an
/// operator fixes (free space, remount read-write), after which writes resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// SQLite's SQLITE_FULL (the disk or `max_page_count`), PostgreSQL's 53100 disk_full.
    Full,
    /// SQLite's SQLITE_READONLY (a read-only file or file system), PostgreSQL's 25006.
    ReadOnly,
}

impl Error {
    /// Whether the store refused a write for want of space or write access.
    pub fn refusal(&self) -> Option<Refusal> {
        let (Error::Sql(sqlx::Error::Database(db))
        | Error::Migration {
            source: sqlx::Error::Database(db),
            ..
        }) = self
        else {
            return None;
        };
        // SQLite's extended codes keep the primary code in the low byte.
        let primary = db
            .code()
            .and_then(|c| c.parse::<i32>().ok())
            .map(|c| c & 0xff);
        match (db.code().as_deref(), primary) {
            (Some("53100"), _) | (_, Some(13)) => Some(Refusal::Full),
            (Some("25006"), _) | (_, Some(8)) => Some(Refusal::ReadOnly),
            _ => None,
        }
    }

    /// Whether the database could not be reached (worth retrying), as
    /// opposed to a statement or data problem (a bug).
    pub fn is_unreachable(&self) -> bool {
        match self {
            Error::Connect(..) => true,
            Error::Sql(e) | Error::Migration { source: e, .. } => matches!(
                e,
                sqlx::Error::Io(_)
                    | sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::WorkerCrashed
                    | sqlx::Error::Tls(_)
            ),
            _ => false,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
