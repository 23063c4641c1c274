use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The suggestion rules' thresholds (docs/architecture.md §3 "Suggestions").
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuggestSettings {
    /// A suggestion is high priority from this value at stake (fen) up.
    pub high_priority_fen: i64,
    /// … and medium from this one up; below it, low.
    pub medium_priority_fen: i64,
    /// Churn warning: P(alive) strictly below this (and overdue by the rule).
    pub churn_alive_below: f64,
    /// Second-purchase nurture: one-order customers whose order is at most this many days old.
    pub nurture_days: i64,
    /// Win-back: high-spend, low-recency customers away at least this many days.
    pub win_back_days: i64,
    /// Days a suggestion stays valid after its as-of day.
    pub valid_days: i64,
    /// How long a list waits for the profiler's habits before answering without them.
    pub profiler_timeout_ms: u64,
}

impl SuggestSettings {
    pub fn defaults() -> Self {
        Self {
            high_priority_fen: 5_000_000,
            medium_priority_fen: 500_000,
            churn_alive_below: 0.5,
            nurture_days: 30,
            win_back_days: 60,
            valid_days: 7,
            profiler_timeout_ms: 3_000,
        }
    }

    pub(super) fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::Config(m.into()));
        if self.medium_priority_fen < 0 {
            return bad("suggest.medium_priority_fen must be 0 or more");
        }
        if self.high_priority_fen < self.medium_priority_fen {
            return bad("suggest.high_priority_fen must be at least suggest.medium_priority_fen");
        }
        if !(self.churn_alive_below.is_finite() && (0.0..=1.0).contains(&self.churn_alive_below)) {
            return bad("suggest.churn_alive_below must be a probability in [0, 1]");
        }
        if !(1..=3_650).contains(&self.nurture_days) {
            return bad("suggest.nurture_days must be 1-3650");
        }
        if !(1..=3_650).contains(&self.win_back_days) {
            return bad("suggest.win_back_days must be 1-3650");
        }
        if !(1..=365).contains(&self.valid_days) {
            return bad("suggest.valid_days must be 1-365");
        }
        if !(1..=60_000).contains(&self.profiler_timeout_ms) {
            return bad("suggest.profiler_timeout_ms must be 1-60000");
        }
        Ok(())
    }
}
