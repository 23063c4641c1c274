//! Benchmark (not a test): the suggestions over a customer book of 1,000,000 customers and
//! about ten million (customer, day) rows (models_fit's book), timed in parts: the fit they
//! read, the customer list's rows, and the plan of every suggestion.
//!
//!     cargo run -p portrait-suggest --example suggestions_plan
//!
//! BENCH_CUSTOMERS overrides the number of customers.

use std::time::Instant;

use portrait_core::Acc;
use portrait_core::memory::BookLoader;
use portrait_service::ModelSettings;

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

fn main() {
    let n: usize = std::env::var("BENCH_CUSTOMERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let (first_day, days) = (20_000, 365);
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
    let models = ModelSettings::defaults();
    let settings = portrait_service::SuggestSettings::defaults();
    for round in 1..=2 {
        let t = portrait_suggest::measure_plan(&book, first_day + days - 1, &models, &settings);
        println!(
            "round {round}: fit {:.3} s, rows {:.3} s, plan {:.3} s, largest audience in order {:.3} s over {} customers",
            t.fit.as_secs_f64(),
            t.rows.as_secs_f64(),
            t.plan.as_secs_f64(),
            t.first_page.as_secs_f64(),
            t.customers
        );
        if round == 1 {
            for (what, n) in &t.suggestions {
                println!("  {what}: {n} customers");
            }
        }
    }
}
