//! The segments' habits (hours, channels, categories, products) from the
//! profiler's GetGroupPatterns, which only the profiler can compute. Fetched in
//! the background and kept per filter, so a list waits at most
//! `suggest.profiler_timeout_ms` and never fails for want of them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use portrait_core::ResolvedFilter;
use portrait_proto::v1::profiler_query_client::ProfilerQueryClient;
use portrait_proto::v1::{GroupPatterns, GroupPatternsRequest, SummaryDimension};
use tonic::transport::Channel;
use tracing::debug;

/// An answer younger than this is used without asking again.
const FRESH: Duration = Duration::from_secs(60);
/// After a failure, the profiler is asked again no sooner than this.
const RETRY: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(25);
/// Filters remembered; more and the settled ones are forgotten.
const KEPT: usize = 32;

#[derive(Default)]
struct Slot {
    value: Option<Arc<GroupPatterns>>,
    error: Option<String>,
    asked: Option<Instant>,
    pending: bool,
}

pub(crate) struct Habits {
    client: ProfilerQueryClient<Channel>,
    slots: Mutex<HashMap<ResolvedFilter, Slot>>,
    timeout: Duration,
}

impl Habits {
    pub(crate) fn new(profiler: Channel, timeout: Duration) -> Self {
        Self {
            client: ProfilerQueryClient::new(profiler).max_decoding_message_size(64 << 20),
            slots: Mutex::default(),
            timeout,
        }
    }

    /// The segments' patterns for `f`, waiting at most the timeout; the reason
    /// when there are none to give.
    pub(crate) async fn get(
        self: &Arc<Self>,
        f: &ResolvedFilter,
    ) -> Result<Arc<GroupPatterns>, String> {
        let deadline = Instant::now() + self.timeout;
        self.ask(f);
        loop {
            let (value, error, pending) = self.peek(f);
            if !pending || Instant::now() >= deadline {
                return value.ok_or_else(|| {
                    error.unwrap_or_else(|| "画像服务未在时限内给出群体习惯".into())
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// What is held for `f` now, without asking: (patterns, last error, asking).
    pub(crate) fn peek(
        &self,
        f: &ResolvedFilter,
    ) -> (Option<Arc<GroupPatterns>>, Option<String>, bool) {
        let slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots.get(f).map_or((None, None, false), |s| {
            (s.value.clone(), s.error.clone(), s.pending)
        })
    }

    /// Starts a fetch for `f` unless one runs or the last answer is fresh.
    fn ask(self: &Arc<Self>, f: &ResolvedFilter) {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if slots.len() >= KEPT && !slots.contains_key(f) {
            slots.retain(|_, s| s.pending);
        }
        let slot = slots.entry(f.clone()).or_default();
        let wait = if slot.error.is_some() { RETRY } else { FRESH };
        if slot.pending || slot.asked.is_some_and(|t| t.elapsed() < wait) {
            return;
        }
        slot.pending = true;
        slot.asked = Some(Instant::now());
        let (habits, f) = (self.clone(), f.clone());
        tokio::spawn(async move {
            let request = GroupPatternsRequest {
                filter: Some(f.applied()),
                dimension: SummaryDimension::Segment as i32,
                key: String::new(),
                limit: 5,
            };
            let answer = habits.client.clone().get_group_patterns(request).await;
            let mut slots = habits.slots.lock().unwrap_or_else(PoisonError::into_inner);
            let slot = slots.entry(f).or_default();
            slot.pending = false;
            match answer {
                Ok(patterns) => {
                    slot.value = Some(Arc::new(patterns.into_inner()));
                    slot.error = None;
                }
                Err(status) => {
                    debug!(code = ?status.code(), message = status.message(), "group patterns from the profiler failed");
                    slot.error = Some(format!("画像服务不可用（{:?}）", status.code()));
                }
            }
        });
    }
}
