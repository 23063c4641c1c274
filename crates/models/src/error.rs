//! The one error type of the crate.

/// Why a model could not be fitted or evaluated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// There is nothing to fit or score.
    #[error("empty input: {0}")]
    Empty(&'static str),
    /// A value is NaN or infinite.
    #[error("{field} of item {index} is not a finite number")]
    NotFinite { field: &'static str, index: usize },
    /// A value is outside what the model accepts; the message says which rule it breaks.
    #[error("item {index} is invalid: {reason}")]
    Invalid { index: usize, reason: String },
    /// The data cannot identify the model (e.g. nobody ever bought twice).
    #[error("the data cannot identify the model: {0}")]
    Unidentifiable(String),
    /// An argument (not a data item) is out of range.
    #[error("invalid argument {name}: {reason}")]
    Argument { name: &'static str, reason: String },
    /// The optimiser stopped without reaching the optimum.
    #[error("the fit did not converge: {0}")]
    NoConvergence(String),
    /// A computation produced NaN or infinity; we refuse to return it.
    #[error("numerical failure: {0}")]
    Numerical(String),
}

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
