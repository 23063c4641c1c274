//! The serving state's size by part: logged when the state is loaded and
//! again whenever the consumer catches up with the state grown or shrunk by
//! a sixteenth since the last line, so an operator (and the bench's logs)
//! read what a burst of orders cost; the gauge `portrait_state_bytes` is
//! refreshed at most every `EVERY` while batches keep coming.

use std::time::{Duration, Instant};

use tracing::info;

use crate::metrics;
use crate::projection::Projection;

/// How often the gauge is refreshed under load: a refresh walks every
/// customer's rows, a few milliseconds at a million customers.
const EVERY: Duration = Duration::from_secs(60);
/// How often at most a caught-up consumer measures again.
const IDLE_EVERY: Duration = Duration::from_secs(10);

pub(super) struct Sizes {
    measured: Instant,
    logged_total: usize,
    applied: bool,
}

/// Measures, logs every part, and sets the gauge: at load.
pub(super) fn loaded<P: Projection>(projection: &P) {
    log(projection.name(), &measure(projection));
}

impl Sizes {
    pub(super) fn new<P: Projection>(projection: &P) -> Self {
        Self {
            measured: Instant::now(),
            logged_total: total(&measure(projection)),
            applied: false,
        }
    }

    pub(super) fn applied<P: Projection>(&mut self, projection: &P) {
        self.applied = true;
        if self.measured.elapsed() >= EVERY {
            self.measured = Instant::now();
            measure(projection);
        }
    }

    /// The consumer found nothing to read: caught up.
    pub(super) fn idle<P: Projection>(&mut self, projection: &P) {
        if !self.applied || self.measured.elapsed() < IDLE_EVERY {
            return;
        }
        (self.applied, self.measured) = (false, Instant::now());
        let parts = measure(projection);
        let now = total(&parts);
        if now.abs_diff(self.logged_total) > self.logged_total / 16 {
            self.logged_total = now;
            log(projection.name(), &parts);
        }
    }
}

/// Sets `portrait_state_bytes` from the projection's parts and returns them.
fn measure<P: Projection>(projection: &P) -> Vec<(&'static str, usize)> {
    let parts = projection.state_bytes();
    if let Some(m) = metrics::get() {
        for (part, bytes) in &parts {
            let bytes = i64::try_from(*bytes).unwrap_or(i64::MAX);
            m.state_bytes
                .with_label_values(&[projection.name(), part])
                .set(bytes);
        }
    }
    parts
}

fn total(parts: &[(&'static str, usize)]) -> usize {
    parts.iter().map(|(_, b)| b).sum()
}

fn log(service: &str, parts: &[(&'static str, usize)]) {
    for (part, bytes) in parts {
        info!(service, part, mib = bytes >> 20, "serving state size");
    }
}
