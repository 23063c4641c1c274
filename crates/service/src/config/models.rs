use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The transaction model the suggest service fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    BgNbd,
    MbgNbd,
    /// Both fitted on the same customers; the one with the higher log-likelihood serves
    /// (both have four parameters, so the likelihoods compare directly).
    Auto,
}

/// The time unit of frequency, recency, age and the horizon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelPeriod {
    Day,
    Week,
    Month,
}

/// The customer models the suggest service fits (BG/NBD or MBG/NBD with Gamma-Gamma). The
/// defaults are `portrait models btyd`'s, so the service and the command agree.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSettings {
    pub model: ModelKind,
    pub period: ModelPeriod,
    /// Horizon of the expected purchases, in periods; 0 = one year (365 days, 52 weeks or
    /// 12 months), as the command.
    pub horizon_periods: f64,
    /// Months of predicted customer lifetime value.
    pub clv_months: u32,
    /// Monthly discount rate of the predicted lifetime value.
    pub discount_rate: f64,
    /// Minutes between scheduled refits; 0 = only at start and on demand.
    pub refit_minutes: u64,
    /// Fewer repeat customers than this and the answer is "not enough data", not a fit.
    pub min_customers: u64,
    /// Days held out to check the fit: the model is fitted again on the orders up to
    /// `as_of − holdout_days` and its predictions for those days compared with what the
    /// customers bought; 0 = no check.
    pub holdout_days: u32,
}

impl ModelSettings {
    pub fn defaults() -> Self {
        Self {
            model: ModelKind::BgNbd,
            period: ModelPeriod::Week,
            horizon_periods: 0.0,
            clv_months: 12,
            discount_rate: 0.01,
            refit_minutes: 60,
            min_customers: 20,
            holdout_days: 90,
        }
    }

    /// The horizon with 0 resolved to one year of periods.
    pub fn horizon(&self) -> f64 {
        if self.horizon_periods > 0.0 {
            return self.horizon_periods;
        }
        match self.period {
            ModelPeriod::Day => 365.0,
            ModelPeriod::Week => 52.0,
            ModelPeriod::Month => 12.0,
        }
    }

    pub(super) fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::Config(m.into()));
        if !(self.horizon_periods.is_finite() && (0.0..=100_000.0).contains(&self.horizon_periods))
        {
            return bad("models.horizon_periods must be 0 (one year) to 100000 periods");
        }
        if !(1..=600).contains(&self.clv_months) {
            return bad("models.clv_months must be 1-600");
        }
        if !(self.discount_rate.is_finite() && (0.0..1.0).contains(&self.discount_rate)) {
            return bad("models.discount_rate must be a monthly rate in [0, 1)");
        }
        if self.refit_minutes > 7 * 24 * 60 {
            return bad("models.refit_minutes must be 0 (never) to 10080 (a week)");
        }
        if self.holdout_days > 3_650 {
            return bad("models.holdout_days must be 0 (no check) to 3650");
        }
        if self.min_customers < 2 {
            return bad("models.min_customers must be at least 2 repeat customers");
        }
        Ok(())
    }
}
