//! What the suggestions borrow from the profiler per filter: the segments'
//! habits (GetGroupPatterns) and the cross-sell rules with their customers
//! (GetCrossSell), which only the profiler can compute. Fetched in the
//! background and kept per filter, so a list waits at most
//! `suggest.profiler_timeout_ms` and never fails for want of them.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use portrait_core::ResolvedFilter;
use portrait_proto::v1::profiler_query_client::ProfilerQueryClient;
use portrait_proto::v1::{
    Association, CrossSellRequest, GroupPatterns, GroupPatternsRequest, SummaryDimension,
};
use portrait_service::CustomerProjection;
use portrait_service::PeerChannel as Channel;
use tonic::Status;
use tracing::debug;

/// An answer younger than this is used without asking again.
const FRESH: Duration = Duration::from_secs(60);
/// After a failure, the profiler is asked again no sooner than this.
const RETRY: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(25);
/// Filters remembered; more and the settled ones are forgotten.
const KEPT: usize = 32;

/// Every answer fetched gets a number: plans built on one name it in their key.
static ANSWERS: AtomicU64 = AtomicU64::new(1);

type Answer<T> = Pin<Box<dyn Future<Output = Result<T, Status>> + Send>>;
type Fetch<T> = Box<dyn Fn(ResolvedFilter) -> Answer<T> + Send + Sync>;

struct Slot<T> {
    value: Option<(Arc<T>, u64)>,
    error: Option<String>,
    asked: Option<Instant>,
    pending: bool,
    /// A caller already waited the whole timeout for the running fetch: the
    /// fetch is slow (a large chain), and the next callers take what is held
    /// at once instead of each waiting as long again.
    waited_out: bool,
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Self {
            value: None,
            error: None,
            asked: None,
            pending: false,
            waited_out: false,
        }
    }
}

/// An answer with the number of its fetch, or why there is none.
pub(crate) type Held<T> = Result<(Arc<T>, u64), String>;

pub(crate) struct Fetched<T> {
    fetch: Fetch<T>,
    slots: Mutex<HashMap<ResolvedFilter, Slot<T>>>,
    timeout: Duration,
}

/// The segments' habits for a filter: with their top categories and
/// products, or `without_items` (hours and channels only, which the profiler
/// answers from memory while the items take seconds on a large chain).
pub(crate) fn habits(
    profiler: Channel,
    timeout: Duration,
    without_items: bool,
) -> Fetched<GroupPatterns> {
    let client = ProfilerQueryClient::new(profiler).max_decoding_message_size(64 << 20);
    Fetched::new(timeout, move |f: ResolvedFilter| {
        let mut client = client.clone();
        let request = GroupPatternsRequest {
            filter: Some(f.applied()),
            dimension: SummaryDimension::Segment as i32,
            key: String::new(),
            limit: 5,
            without_items,
        };
        Box::pin(async move { Ok(client.get_group_patterns(request).await?.into_inner()) })
    })
}

/// The habits a suggestion's words use: the answer with items when held,
/// else the one without them, or why there is neither.
pub(crate) struct Habits {
    pub(crate) held: Held<GroupPatterns>,
    /// Why the categories and products are missing from `held`, when they are.
    pub(crate) items_missing: Option<String>,
}

impl Habits {
    pub(crate) fn of(full: Held<GroupPatterns>, without_items: Held<GroupPatterns>) -> Self {
        match (full, without_items) {
            (Ok(full), _) => Self {
                held: Ok(full),
                items_missing: None,
            },
            (Err(why), Ok(rhythm)) => Self {
                held: Ok(rhythm),
                items_missing: Some(why),
            },
            (Err(_), Err(why)) => Self {
                held: Err(why),
                items_missing: None,
            },
        }
    }
}

/// The profiler's cross-sell rules with their audiences as this service's
/// dense ids (of one state incarnation): no customer's id is kept as a string.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct CrossRules {
    /// Each rule with its customers, ascending; customers this service has
    /// not consumed yet are left out.
    pub(crate) rules: Vec<(Association, Vec<u32>)>,
    pub(crate) incarnation: u64,
}

/// The strongest customer rules at a filter's stores with who has not acted on them.
pub(crate) fn cross_sell(
    profiler: Channel,
    timeout: Duration,
    projection: Arc<CustomerProjection>,
) -> Fetched<CrossRules> {
    let client = ProfilerQueryClient::new(profiler).max_decoding_message_size(256 << 20);
    Fetched::new(timeout, move |f: ResolvedFilter| {
        let mut client = client.clone();
        let projection = projection.clone();
        let request = CrossSellRequest {
            filter: Some(f.applied()),
            rules: 0,
            min_count: 0,
        };
        Box::pin(async move {
            let answer = client.get_cross_sell(request).await?.into_inner();
            let (state, _) = projection.live.read();
            let names = state.book.customers();
            let rules = (answer.rules.into_iter())
                .filter_map(|r| {
                    let mut ids: Vec<u32> =
                        r.customer_ids.iter().filter_map(|c| names.get(c)).collect();
                    ids.sort_unstable();
                    Some((r.rule?, ids))
                })
                .collect();
            Ok(CrossRules {
                rules,
                incarnation: projection.live.incarnation(),
            })
        })
    })
}

impl<T: PartialEq + Send + Sync + 'static> Fetched<T> {
    fn new(
        timeout: Duration,
        fetch: impl Fn(ResolvedFilter) -> Answer<T> + Send + Sync + 'static,
    ) -> Self {
        Self {
            fetch: Box::new(fetch),
            slots: Mutex::default(),
            timeout,
        }
    }

    /// The answer for `f`, waiting at most the timeout, and not at all when
    /// an earlier caller already waited it out for the same fetch.
    pub(crate) async fn get(self: &Arc<Self>, f: &ResolvedFilter) -> Held<T> {
        let deadline = Instant::now() + self.timeout;
        self.ask(f);
        loop {
            let (held, pending) = self.peek(f);
            if !pending {
                return held;
            }
            if Instant::now() >= deadline {
                let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(slot) = slots.get_mut(f) {
                    slot.waited_out = true;
                }
                return held;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// What is held for `f` now, with a fetch started if none runs and the
    /// answer is not fresh: the next caller may find it.
    pub(crate) fn now(self: &Arc<Self>, f: &ResolvedFilter) -> Held<T> {
        self.ask(f);
        self.peek(f).0
    }

    /// What is held for `f` now, without asking, and whether a fetch runs
    /// that is worth waiting for.
    pub(crate) fn peek(&self, f: &ResolvedFilter) -> (Held<T>, bool) {
        let slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(s) = slots.get(f) else {
            return (Err("画像服务的数据尚未取得".into()), false);
        };
        let held = s.value.clone().ok_or_else(|| {
            (s.error.clone()).unwrap_or_else(|| "画像服务仍在计算，稍后刷新可见".into())
        });
        (held, s.pending && !s.waited_out)
    }

    /// Makes the answer held for `f` stale: the next ask fetches again.
    pub(crate) fn expire(&self, f: &ResolvedFilter) {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = slots.get_mut(f) {
            slot.asked = None;
        }
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
        slot.waited_out = false;
        slot.asked = Some(Instant::now());
        let (this, f) = (self.clone(), f.clone());
        let answer = (self.fetch)(f.clone());
        tokio::spawn(async move {
            let answer = answer.await;
            let mut slots = this.slots.lock().unwrap_or_else(PoisonError::into_inner);
            let slot = slots.entry(f).or_default();
            slot.pending = false;
            match answer {
                Ok(value) => {
                    // The same answer again keeps its number, so the plans built on it stay.
                    if slot.value.as_ref().is_none_or(|(held, _)| **held != value) {
                        let number = ANSWERS.fetch_add(1, Ordering::Relaxed);
                        slot.value = Some((Arc::new(value), number));
                    }
                    slot.error = None;
                }
                Err(status) => {
                    debug!(code = ?status.code(), message = status.message(), "a profiler answer for suggestions failed");
                    slot.error = Some(format!("画像服务不可用（{:?}）", status.code()));
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plans are keyed by the answer's number: the same answer fetched again keeps it (the
    /// plans stay), a different one gets a new one.
    #[tokio::test]
    async fn the_same_answer_keeps_its_number_and_a_new_one_gets_another() {
        let queue = Arc::new(Mutex::new(vec![7, 7, 8]));
        let next = queue.clone();
        let fetched = Arc::new(Fetched::new(Duration::from_secs(5), move |_| {
            let value: i32 = next.lock().expect("queue").remove(0);
            Box::pin(async move { Ok(value) })
        }));
        let f = ResolvedFilter::resolve(None, 20_000).expect("filter");
        let (_, first) = fetched.get(&f).await.expect("an answer");
        fetched.expire(&f);
        let (_, again) = fetched.get(&f).await.expect("an answer");
        assert_eq!(again, first, "the same answer");
        fetched.expire(&f);
        let (value, other) = fetched.get(&f).await.expect("an answer");
        assert_eq!((*value, other == first), (8, false));
        assert!(queue.lock().expect("queue").is_empty(), "three fetches");
    }

    /// A fetch slower than the timeout costs the first caller the timeout and
    /// the callers after it nothing while it runs; its answer, once there, is
    /// taken without waiting.
    #[tokio::test]
    async fn only_the_first_caller_waits_out_a_slow_fetch() {
        let release = Arc::new(tokio::sync::Notify::new());
        let gate = release.clone();
        let timeout = Duration::from_secs(1);
        let fetched = Arc::new(Fetched::new(timeout, move |_| {
            let gate = gate.clone();
            Box::pin(async move {
                gate.notified().await;
                Ok(5)
            })
        }));
        let f = ResolvedFilter::resolve(None, 20_000).expect("filter");
        let started = Instant::now();
        assert!(fetched.get(&f).await.is_err(), "nothing held yet");
        assert!(started.elapsed() >= timeout, "the first caller waits");
        let started = Instant::now();
        assert!(fetched.get(&f).await.is_err(), "still nothing held");
        // An immediate return, with most of a second to spare on a busy machine.
        assert!(started.elapsed() < timeout / 2, "{:?}", started.elapsed());
        release.notify_one();
        let value = loop {
            if let (Ok((v, _)), _) = fetched.peek(&f) {
                break *v;
            }
            tokio::time::sleep(POLL).await;
        };
        assert_eq!(value, 5);
    }

    /// A profiler that does not answer costs a list at most the timeout and
    /// gives a reason, never an error.
    #[tokio::test]
    async fn an_unreachable_profiler_is_a_reason_within_the_timeout() {
        let url = "http://127.0.0.1:9";
        let remote = tonic::transport::Channel::from_static(url).connect_lazy();
        let nowhere = Channel::new(
            portrait_service::Peer::new(url, remote, None),
            portrait_service::Bearer::default(),
        );
        let habits = Arc::new(habits(nowhere, Duration::from_millis(300), false));
        let f = ResolvedFilter::resolve(None, 20_000).expect("filter");
        let started = Instant::now();
        let held = habits.get(&f).await;
        // Far above the 0.3 s asked for, far below a hang: a loaded CI machine
        // must not fail it.
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        let why = held.expect_err("nothing to hold");
        assert!(why.contains("画像服务"), "{why}");
        // Asked again at once: no new fetch (RETRY), the same reason, no wait.
        let started = Instant::now();
        assert!(habits.get(&f).await.is_err());
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
