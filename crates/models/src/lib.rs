//! Customer models: BG/NBD, Gamma-Gamma, cross-purchase, recommendations, clustering, anomalies.
//!
//! Pure library: no I/O, no async. Inputs are plain per-customer summaries and baskets; every
//! function returns [`Result`] and refuses bad input (empty populations, NaN, t_x > T, negative
//! spend …) with an [`Error`] instead of panicking or returning NaN.

pub mod anomaly;
pub mod btyd;
pub mod cross;
mod error;
pub mod kmeans;
mod optimize;
pub mod recommend;
mod special;
pub mod summary;

pub use error::{Error, Result};
