#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Config(String),
    #[error("failed to connect to {0}: {1}")]
    Connect(String, #[source] sqlx::Error),
    #[error("migration {version} of {service} failed: {source}")]
    Migration {
        service: String,
        version: usize,
        #[source]
        source: sqlx::Error,
    },
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
