//! The benchmark examples' customer book: `BENCH_CUSTOMERS` customers (default
//! 1,000,000), each first seen on a day of a year of their own, buying on each
//! later day with a rate of their own and maybe stopping after any purchase,
//! as BG/NBD assumes; one row per purchase day at one of 300 stores.

use std::time::Instant;

use portrait_core::Acc;
use portrait_core::memory::{BookLoader, CustomerBook};

/// The book's first day and its length in days.
pub(crate) const FIRST_DAY: i32 = 20_000;
pub(crate) const DAYS: i32 = 365;

/// A fixed LCG: the same book on every run.
struct Lcg(u64);

impl Lcg {
    fn uniform(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1_u64 << 53) as f64
    }
}

/// Builds the book (the same on every run) and says how big it is.
pub(crate) fn book() -> CustomerBook {
    let n: usize = std::env::var("BENCH_CUSTOMERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let (first_day, days) = (FIRST_DAY, DAYS);
    let mut rng = Lcg(2026);
    let started = Instant::now();
    let mut loader = BookLoader::default();
    let mut rows = 0_usize;
    for c in 0..n {
        let id = format!("c{c:07}");
        let born = (rng.uniform() * f64::from(days)) as i32;
        let rate = (-0.06 * (1.0 - rng.uniform()).ln()).min(1.0);
        let drop = 0.05 * rng.uniform();
        let store = (rng.uniform() * 300.0) as u32;
        let fen = 1_000 + (rng.uniform() * 5_000.0) as i64;
        loader.push(
            &id,
            store,
            first_day + born,
            Acc {
                orders: 1,
                revenue: fen,
            },
        );
        rows += 1;
        for day in born + 1..days {
            if rng.uniform() < rate {
                let revenue = fen / 2 + (rng.uniform() * fen as f64) as i64;
                loader.push(&id, store, first_day + day, Acc { orders: 1, revenue });
                rows += 1;
                if rng.uniform() < drop {
                    break;
                }
            }
        }
    }
    let book = loader.finish();
    println!(
        "{n} customers, {rows} (customer, day) rows, built in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    book
}
