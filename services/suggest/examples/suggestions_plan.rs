//! Benchmark (not a test): the suggestions over a customer book of 1,000,000 customers and
//! about ten million (customer, day) rows (models_fit's book), timed in parts: the fit they
//! read, the customer list's rows, and the plan of every suggestion.
//!
//!     cargo run -p portrait-suggest --example suggestions_plan
//!
//! BENCH_CUSTOMERS overrides the number of customers.

use portrait_service::ModelSettings;

mod common;

fn main() {
    let book = common::book();
    let models = ModelSettings::defaults();
    let settings = portrait_service::SuggestSettings::defaults();
    for round in 1..=2 {
        let t = portrait_suggest::measure_plan(
            &book,
            common::FIRST_DAY + common::DAYS - 1,
            &models,
            &settings,
        );
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
