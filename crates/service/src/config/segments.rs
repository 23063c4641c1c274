use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Segment transitions (`segments.v1`): how often the rfm service recomputes
/// the chain-wide assignment it publishes, and how many days of flows a
/// follower keeps (docs/architecture.md §3 "Segment transitions").
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentSettings {
    /// At most one recompute per this many milliseconds, once batches were
    /// applied (or the local day changed) and the consumer has caught up.
    pub debounce_ms: u64,
    /// Days of transitions the suggest service keeps as flows.
    pub flow_days: i64,
    /// Test and diagnostic setting: the relay waits this long between
    /// publishing and deleting what it published, so a kill in between
    /// re-sends. 0 in production.
    pub relay_delay_ms: u64,
}

impl SegmentSettings {
    pub(super) fn defaults() -> Self {
        Self {
            debounce_ms: 5_000,
            flow_days: 90,
            relay_delay_ms: 0,
        }
    }

    pub(super) fn validate(&self) -> Result<()> {
        if !(50..=3_600_000).contains(&self.debounce_ms) {
            return Err(Error::Config(format!(
                "segments.debounce_ms must be 50-3600000, not {}",
                self.debounce_ms
            )));
        }
        if !(1..=3_660).contains(&self.flow_days) {
            return Err(Error::Config(format!(
                "segments.flow_days must be 1-3660, not {}",
                self.flow_days
            )));
        }
        if self.relay_delay_ms > 60_000 {
            return Err(Error::Config(format!(
                "segments.relay_delay_ms must be 0-60000, not {}",
                self.relay_delay_ms
            )));
        }
        Ok(())
    }
}
