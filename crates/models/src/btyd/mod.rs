//! "Buy till you die" models: BG/NBD and MBG/NBD for purchase counts and survival,
//! Gamma-Gamma for spend, and their combination into customer lifetime value.

mod bgnbd;
mod clv;
mod common;
mod gamma_gamma;
mod mbgnbd;

pub use bgnbd::BgNbd;
pub use clv::{
    CustomerScore, PopulationFit, customer_lifetime_value, fit_population, fit_spend, score,
};
pub use common::{Fitted, TransactionModel};
pub use gamma_gamma::GammaGamma;
pub use mbgnbd::MbgNbd;

#[cfg(test)]
mod triples_tests;
