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
}

impl Error {
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
