//! Keeps the suggestion plans people look at computed, as the customer lists are
//! (`customers/warm.rs`): once the state has settled, the plans of the default filter and of
//! the last few filters asked for are made in the background, so the next list is a cache
//! hit instead of a pass over every customer. Every half minute the profiler's cross-sell
//! answer is asked for again too (it is kept a minute), so a plan never waits for it.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use portrait_proto::v1::Filter;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::Suggestions;

/// Filters kept warm besides the default one.
const KEPT: usize = 3;
/// A filter not asked for this long is no longer kept warm.
const FORGET: Duration = Duration::from_secs(600);
const POLL: Duration = Duration::from_millis(100);
/// How long the state must stay at one version before it is warmed.
const SETTLE: Duration = Duration::from_secs(1);
/// Warmed again this often even when the state stands still: the fit or the profiler's
/// answer may have moved.
const AGAIN: Duration = Duration::from_secs(30);

/// The filters asked for lately, newest last.
#[derive(Debug, Default)]
pub(crate) struct Recent(Mutex<Vec<(Instant, Option<Filter>)>>);

impl Recent {
    pub(crate) fn asked(&self, filter: Option<&Filter>) {
        let filter = filter.cloned();
        let mut held = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        held.retain(|(_, f)| *f != filter);
        held.push((Instant::now(), filter));
        if held.len() > KEPT {
            held.remove(0);
        }
    }

    fn filters(&self) -> Vec<Option<Filter>> {
        let mut held = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        held.retain(|(at, _)| at.elapsed() < FORGET);
        let mut out = vec![None];
        out.extend(
            held.iter()
                .filter(|(_, f)| f.is_some())
                .map(|(_, f)| f.clone()),
        );
        out
    }
}

impl Suggestions {
    pub fn spawn_warm(self: &Arc<Self>, shutdown: CancellationToken) {
        let this = self.clone();
        tokio::spawn(async move {
            let mut seen = (u64::MAX, Instant::now());
            let mut warmed: Option<(u64, Instant)> = None;
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(POLL) => {}
                }
                let version = this.customers.projection.live.read().1;
                if version != seen.0 {
                    seen = (version, Instant::now());
                    continue;
                }
                let due = warmed.is_none_or(|(v, at)| v != version || at.elapsed() >= AGAIN);
                if !due || seen.1.elapsed() < SETTLE {
                    continue;
                }
                let _turn = this.customers.models.heavy_turn().await;
                let started = Instant::now();
                for filter in this.recent.filters() {
                    let Ok(f) = this.ctx().resolve(filter.as_ref()) else {
                        continue;
                    };
                    let cross = this.cross.get(&f).await;
                    let worker = this.clone();
                    let made = tokio::task::spawn_blocking(move || {
                        let (state, version) = worker.customers.projection.live.read();
                        worker.planned(&state, version, &f, &cross);
                    })
                    .await;
                    if let Err(e) = made {
                        warn!(error = %e, "warming a suggestion plan failed");
                    }
                }
                warmed = Some((version, Instant::now()));
                debug!(
                    ms = started.elapsed().as_millis() as u64,
                    "suggestion plans warmed"
                );
            }
        });
    }
}
