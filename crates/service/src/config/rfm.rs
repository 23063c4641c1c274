use portrait_core::{Fixed, RfmDefaults, ThresholdKind};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RfmThresholds {
    Mean,
    Median,
    Fixed,
}

/// How the rfm service draws segments when a request does not say
/// (docs/architecture.md §3, "RFM").
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RfmSettings {
    /// Only orders on the last this many local days up to the as-of day; 0 = all history.
    pub window_days: i64,
    pub thresholds: RfmThresholds,
    /// With `fixed`: R is high with fewer days since the last order.
    pub fixed_recency_days: i64,
    /// With `fixed`: F is high with more orders.
    pub fixed_frequency: i64,
    /// With `fixed`: M is high with a larger net spend.
    pub fixed_monetary_fen: i64,
}

impl RfmSettings {
    pub(super) fn defaults() -> Self {
        let d = RfmDefaults::default();
        Self {
            window_days: d.window_days,
            thresholds: RfmThresholds::Mean,
            fixed_recency_days: d.fixed.recency_days,
            fixed_frequency: d.fixed.frequency,
            fixed_monetary_fen: d.fixed.monetary_fen,
        }
    }

    /// As the domain takes them.
    pub fn domain(&self) -> RfmDefaults {
        RfmDefaults {
            window_days: self.window_days,
            kind: match self.thresholds {
                RfmThresholds::Mean => ThresholdKind::Mean,
                RfmThresholds::Median => ThresholdKind::Median,
                RfmThresholds::Fixed => ThresholdKind::Fixed,
            },
            fixed: Fixed {
                recency_days: self.fixed_recency_days,
                frequency: self.fixed_frequency,
                monetary_fen: self.fixed_monetary_fen,
            },
        }
    }

    /// Refuses values out of range; the message names the key.
    pub(super) fn validate(&self) -> Result<()> {
        self.domain()
            .check()
            .map_err(|e| Error::Config(e.to_string()))
    }
}
