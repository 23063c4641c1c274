//! Benchmark (not a test): the suggest service's model fit over a customer book of 1,000,000
//! customers and about ten million (customer, day) rows, timed in its two halves.
//!
//!     cargo run -p portrait-suggest --example models_fit
//!
//! BENCH_CUSTOMERS overrides the number of customers. Each customer is first seen on a day of
//! a year of their own, buys on each later day with a rate of their own and may stop after any
//! purchase, as BG/NBD assumes; one row per purchase day at one of 300 stores.

use portrait_service::ModelSettings;

mod common;

fn main() {
    let book = common::book();
    let settings = ModelSettings::defaults();
    for round in 1..=2 {
        let m = portrait_suggest::measure(&book, common::FIRST_DAY + common::DAYS - 1, &settings);
        println!(
            "round {round}: collect {:.3} s, fit + score {:.3} s; {} customers, {} repeat, {} distinct (x, t_x, T); {:?}",
            m.collect.as_secs_f64(),
            m.fit.as_secs_f64(),
            m.customers,
            m.repeat_customers,
            m.triples,
            m.outcome
        );
        println!(
            "round {round}: holdout ({} days) read {:.3} s, fit + table {:.3} s; {:?}",
            settings.holdout_days,
            m.holdout_gather.as_secs_f64(),
            m.holdout_check.as_secs_f64(),
            m.holdout
        );
    }
}
