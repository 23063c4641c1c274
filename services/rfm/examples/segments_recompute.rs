//! Benchmark (not a test): what one recompute + diff of the chain-wide
//! segment assignment costs the rfm service's publisher at 1,000,000
//! customers and about ten million (customer, day) rows.
//!
//!     cargo run -p portrait-rfm --example segments_recompute
//!
//! BENCH_CUSTOMERS overrides the number of customers. Timed: the first
//! publication (everyone enters), the same day after a batch of 1,000
//! customers' orders, and the next day (recency moves for everyone).

use std::time::Instant;

use portrait_core::memory::{BookLoader, CustomerState};
use portrait_core::{Acc, CustomerDays, RfmDefaults, RfmParams};
use portrait_rfm::segments::{Place, chain_table, diff};

/// A fixed LCG: the same book on every run.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// One recompute and diff against `places`, which then take the new places.
fn step(label: &str, state: &CustomerState, day: i32, params: &RfmParams, places: &mut Vec<Place>) {
    let started = Instant::now();
    let table = chain_table(state, day, params);
    let computed = started.elapsed();
    let changes = diff(places, &table);
    let total = started.elapsed();
    places.resize(state.book.customers().len(), Place::default());
    for c in &changes {
        places[c.customer as usize] = c.after;
    }
    println!(
        "{label}: {} customers, {} transitions; table {:.0} ms, diff {:.0} ms, together {:.0} ms",
        table.customers.len(),
        changes.len(),
        computed.as_secs_f64() * 1e3,
        (total - computed).as_secs_f64() * 1e3,
        total.as_secs_f64() * 1e3,
    );
}

fn main() {
    let n: u64 = std::env::var("BENCH_CUSTOMERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let (first_day, days) = (20_000, 365);
    let mut rng = Lcg(2026);
    let started = Instant::now();
    let mut loader = BookLoader::default();
    let mut rows = 0_u64;
    for c in 0..n {
        let id = format!("c{c:07}");
        let store = rng.below(300) as u32;
        for _ in 0..1 + rng.below(19) {
            let day = first_day + rng.below(days) as i32;
            let revenue = 1_000 + rng.below(9_000) as i64;
            loader.push(&id, store, day, Acc { orders: 1, revenue });
            rows += 1;
        }
    }
    let mut state = CustomerState {
        book: loader.finish(),
        ..CustomerState::default()
    };
    println!(
        "book: {n} customers, {rows} rows, built in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let params = RfmParams::resolve(None, &RfmDefaults::default()).expect("the default settings");
    let today = first_day + days as i32;
    let mut places = Vec::new();
    step("first publication", &state, today, &params, &mut places);
    let mut batch = CustomerDays::default();
    for _ in 0..1_000 {
        let id = format!("c{:07}", rng.below(n));
        let acc = Acc {
            orders: 1,
            revenue: 5_000,
        };
        batch
            .rows
            .entry((id, "s1".into(), today))
            .or_default()
            .add(acc);
    }
    state.apply(&batch);
    step(
        "after a batch of 1,000 orders",
        &state,
        today,
        &params,
        &mut places,
    );
    step("the next day", &state, today + 1, &params, &mut places);
    println!(
        "published places in memory: {} bytes a customer, {:.1} MB",
        std::mem::size_of::<Place>(),
        (places.len() * std::mem::size_of::<Place>()) as f64 / 1e6
    );
}
