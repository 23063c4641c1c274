//! Sync from the chain's order database (`cyrg2025`, docs/sync.md): reads the
//! source read-only, maps each order, submits it through ingest's API, and
//! records every rejected or corrected row with its reason.

pub mod import;
pub mod job;
pub mod map;
mod metrics;
pub mod money;
pub mod phone;
pub mod pii;
pub mod pii_store;
pub mod reason;
pub mod rules;
mod runner;
pub mod source;
pub mod state;
mod submit;
pub mod time;
pub mod wire;

pub use map::{Mapped, Outcome, Shop, Shops, SourceLine, SourceOrder, map_order, normalise_city};
pub use reason::{Finding, Kind, Reason};
pub use rules::Rules;
pub use runner::{Sync, Triggered, until_next};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("configuration: {0}")]
    Config(String),
    /// The source failed; the message holds no credentials.
    #[error("source {url}: {message}")]
    Source { url: String, message: String },
    #[error(transparent)]
    Store(#[from] portrait_store::Error),
    #[error("ingest refused the submission: {0}")]
    Ingest(tonic::Status),
    #[error("import {path}: {message}")]
    Import { path: String, message: String },
    #[error("corrupt data: {0}")]
    Corrupt(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Store(portrait_store::Error::Sql(e))
    }
}
