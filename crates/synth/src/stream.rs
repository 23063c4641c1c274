//! The chain's submissions a day at a time, so that a year of ten million
//! orders never has to be in memory at once.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use portrait_proto::v1::Order;
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::habits::{self, DayMaker};
use crate::{Chain, ChainSpec, DAY_MS};

/// One submission waiting for its sending time; ordered by (time, sequence)
/// like the batch generator's final sort.
struct Pending {
    at: i64,
    seq: u64,
    order: Order,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// Yields every submission of the chain in sending order, one chunk per day
/// (the last chunk also holds revisions sent after the period). Deterministic
/// by the spec's seed, but not the same sequence as [`crate::generate`]: the
/// random draws are interleaved day by day instead of all revisions last.
pub struct OrderStream {
    spec: ChainSpec,
    chain: Chain,
    customers: Vec<habits::Customer>,
    rng: StdRng,
    day: u32,
    next_id: u64,
    seq: u64,
    pending: BinaryHeap<Reverse<Pending>>,
}

impl OrderStream {
    /// `first_versions`: how many distinct orders the period should hold (about;
    /// walk-ins included). `None` keeps the spec's `intensity`.
    pub fn new(spec: &ChainSpec, first_versions: Option<u64>) -> Self {
        let mut rng = StdRng::seed_from_u64(spec.seed);
        let chain = Chain::new(spec, &mut rng);
        let customers = habits::customers(spec, chain.stores.len(), &mut rng);
        let mut spec = spec.clone();
        if let Some(target) = first_versions {
            spec.intensity = calibrate(&spec, &customers, target as f64);
        }
        Self {
            spec,
            chain,
            customers,
            rng,
            day: 0,
            next_id: 0,
            seq: 0,
            pending: BinaryHeap::new(),
        }
    }

    /// The stores and the menu (not `chain`: that name is `Iterator::chain`).
    pub fn layout(&self) -> &Chain {
        &self.chain
    }

    /// Distinct orders generated so far (first versions, walk-ins included).
    pub fn orders_so_far(&self) -> u64 {
        self.next_id
    }

    /// The spec in use, with the calibrated intensity.
    pub fn spec(&self) -> &ChainSpec {
        &self.spec
    }
}

/// The intensity whose expected order count is `target`, by bisection on the
/// closed-form expectation (monotone in the intensity).
fn calibrate(spec: &ChainSpec, customers: &[habits::Customer], target: f64) -> f64 {
    let expected = |k: f64| {
        customers
            .iter()
            .map(|c| habits::expected_orders(spec, c, k))
            .sum::<f64>()
            * (1.0 + spec.anonymous_rate)
    };
    let (mut lo, mut hi) = (0.0, 1.0);
    while expected(hi) < target && hi < 1e6 {
        hi *= 2.0;
    }
    for _ in 0..50 {
        let mid = (lo + hi) / 2.0;
        if expected(mid) < target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

impl Iterator for OrderStream {
    type Item = Vec<Order>;

    fn next(&mut self) -> Option<Vec<Order>> {
        if self.day >= self.spec.days && self.pending.is_empty() {
            return None;
        }
        let mut out = Vec::new();
        if self.day < self.spec.days {
            // Customers move into the maker for the day and back out, so the
            // maker can borrow the spec and chain for this call only.
            let customers = std::mem::take(&mut self.customers);
            let mut maker = DayMaker::resume(&self.spec, &self.chain, customers, self.next_id);
            let firsts = maker.day(self.day, &mut self.rng);
            (self.customers, self.next_id) = maker.into_parts();
            for o in firsts {
                let pending = &mut self.pending;
                let seq = &mut self.seq;
                habits::versions(&self.spec, o, &mut self.rng, |at, order| {
                    *seq += 1;
                    pending.push(Reverse(Pending {
                        at,
                        seq: *seq,
                        order,
                    }));
                });
            }
            self.day += 1;
        }
        // Every later first version is placed at or after this day's end, and
        // every revision after its first version: what is due before it is final.
        let due = if self.day >= self.spec.days {
            i64::MAX
        } else {
            self.spec.start_midnight_ms() + i64::from(self.day) * DAY_MS
        };
        while self.pending.peek().is_some_and(|Reverse(p)| p.at < due) {
            if let Some(Reverse(p)) = self.pending.pop() {
                out.push(p.order);
            }
        }
        Some(out)
    }
}
