//! Keeps the lists people look at computed: once the state has settled (no
//! batch for a second), the default list and the last few lists asked for
//! (their first pages) are recomputed in the background, so the next ask is a
//! cache hit instead of a pass over every customer. While batches keep
//! coming nothing is warmed: the consumers need the cores more than a list
//! nobody asks for while orders pour in (warming after every batch took a
//! third of a core at 1M customers).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use portrait_proto::v1::ListCustomersRequest;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::CustomerList;

/// Lists kept warm besides the default one.
const KEPT: usize = 4;
/// A list not asked for this long is no longer kept warm.
const FORGET: Duration = Duration::from_secs(600);
const POLL: Duration = Duration::from_millis(100);
/// How long the state must stay at one version before it is warmed.
const SETTLE: Duration = Duration::from_secs(1);

/// The lists asked for lately, newest last (first pages only).
#[derive(Debug, Default)]
pub(crate) struct Recent(Mutex<Vec<(Instant, ListCustomersRequest)>>);

impl Recent {
    pub(crate) fn asked(&self, req: &ListCustomersRequest) {
        let first = ListCustomersRequest {
            page_token: String::new(),
            ..req.clone()
        };
        let mut held = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        held.retain(|(_, r)| *r != first);
        held.push((Instant::now(), first));
        if held.len() > KEPT {
            held.remove(0);
        }
    }

    fn lists(&self) -> Vec<ListCustomersRequest> {
        let mut held = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        held.retain(|(at, _)| at.elapsed() < FORGET);
        let mut out = vec![ListCustomersRequest::default()];
        out.extend(held.iter().map(|(_, r)| r.clone()));
        out
    }
}

impl CustomerList {
    pub fn spawn_warm(self: &Arc<Self>, shutdown: CancellationToken) {
        let list = self.clone();
        tokio::spawn(async move {
            let (mut warmed, mut seen) = (None, (u64::MAX, Instant::now()));
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(POLL) => {}
                }
                let version = list.projection.live.read().1;
                if version != seen.0 {
                    seen = (version, Instant::now());
                    continue;
                }
                if warmed == Some(version) || seen.1.elapsed() < SETTLE {
                    continue;
                }
                let _turn = list.models.heavy_turn().await;
                let started = Instant::now();
                let worker = list.clone();
                let done = tokio::task::spawn_blocking(move || {
                    for req in worker.recent.lists() {
                        if let Err(e) = worker.answer(&req) {
                            debug!(error = %e, "a kept list no longer answers");
                        }
                    }
                })
                .await;
                if let Err(e) = done {
                    warn!(error = %e, "warming the customer lists failed");
                }
                warmed = Some(version);
                let ms = started.elapsed().as_millis() as u64;
                debug!(ms, "customer lists warmed");
            }
        });
    }
}
