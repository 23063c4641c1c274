//! Synthetic order streams of a realistic food chain, for the demo and tests.
//!
//! Pure and deterministic: the same [`ChainSpec`] (seed included) always gives
//! the same chain and the same submissions.

mod chain;
mod habits;
mod stream;

use std::collections::BTreeMap;

use portrait_proto::v1::{Order, OrderStatus};
use rand::SeedableRng;
use rand::rngs::StdRng;

pub use chain::{Chain, MenuItem, Store};
pub use habits::Habit;
pub use stream::OrderStream;

const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone, PartialEq)]
pub struct ChainSpec {
    pub seed: u64,
    pub stores: usize,
    pub cities: usize,
    pub customers: usize,
    /// First day's start; rounded down to local (UTC+8) midnight.
    pub start_ms: i64,
    pub days: u32,
    /// Shares of orders re-sent verbatim, re-sent changed (partial refund),
    /// and cancelled or fully refunded later.
    pub resend_rate: f64,
    pub change_rate: f64,
    pub refund_rate: f64,
    /// Walk-in POS orders without a customer, as a share of customer orders.
    pub anonymous_rate: f64,
    /// Multiplies every customer's daily order probability (1.0 = the
    /// habits as described); [`OrderStream`] calibrates it to an order count.
    pub intensity: f64,
}

impl ChainSpec {
    /// The demo: 24 stores in 6 cities, 12,000 customers, the year up to `end_ms`.
    pub fn demo(end_ms: i64) -> Self {
        Self {
            seed: 7,
            stores: 24,
            cities: 6,
            customers: 12_000,
            start_ms: end_ms - 365 * DAY_MS,
            days: 365,
            resend_rate: 0.03,
            change_rate: 0.02,
            refund_rate: 0.015,
            anonymous_rate: 0.08,
            intensity: 1.0,
        }
    }

    /// A small chain for tests: 5 stores, 3 cities, 200 customers, 60 days.
    pub fn small(seed: u64) -> Self {
        Self {
            seed,
            stores: 5,
            cities: 3,
            customers: 200,
            // 2025-03-01T00:00:00+08:00
            start_ms: 1_740_758_400_000,
            days: 60,
            resend_rate: 0.05,
            change_rate: 0.05,
            refund_rate: 0.03,
            anonymous_rate: 0.1,
            intensity: 1.0,
        }
    }

    /// Local midnight of the first day. The chain's cities are all on China
    /// Standard Time, which has no daylight saving, so a fixed offset is exact.
    pub fn start_midnight_ms(&self) -> i64 {
        const OFFSET: i64 = 8 * 3_600_000;
        (self.start_ms + OFFSET).div_euclid(DAY_MS) * DAY_MS - OFFSET
    }
}

/// The chain and every submission in the order a source system sends them:
/// first versions in time order, with re-sends, changed re-sends and
/// cancellations/refunds a little after the version they follow.
pub fn generate(spec: &ChainSpec) -> (Chain, Vec<Order>) {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let chain = Chain::new(spec, &mut rng);
    let firsts = habits::orders(spec, &chain, &mut rng);
    let submissions = habits::with_revisions(spec, firsts, &mut rng);
    (chain, submissions)
}

/// What a source's submissions leave counting: the latest submitted version
/// of each order, if it is paid. The tests' oracles start from this.
pub fn accepted(submitted: &[Order]) -> Vec<Order> {
    let mut latest: BTreeMap<&str, &Order> = BTreeMap::new();
    for o in submitted {
        latest.insert(&o.order_id, o);
    }
    latest
        .into_values()
        .filter(|o| o.status == OrderStatus::Paid as i32)
        .cloned()
        .collect()
}
