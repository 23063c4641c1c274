//! The suggestions' cost over a customer book, timed in parts: for the
//! benchmark example (`cargo run -p portrait-suggest --example suggestions_plan`).

use std::time::{Duration, Instant};

use portrait_core::memory::{CustomerBook, Selection};
use portrait_core::{Day, ThresholdRule};
use portrait_service::{ModelSettings, SuggestSettings};

use super::plan::{Inputs, plan};
use crate::customers::rows_of;
use crate::models::{Served, collect_and_fit};

/// What [`measure_plan`] saw.
#[derive(Debug)]
pub struct PlanTimes {
    /// The fit the churn warning and the CLV decile read (not part of a list).
    pub fit: Duration,
    /// The customer list's rows (aggregates, RFM, the churn rule): shared
    /// with ListCustomers, cached per filter and version.
    pub rows: Duration,
    /// Every suggestion's audience and figures.
    pub plan: Duration,
    /// Putting the largest audience in order, once, for its first page.
    pub first_page: Duration,
    pub customers: usize,
    /// (type, audience size) per suggestion.
    pub suggestions: Vec<(String, usize)>,
}

/// Fits, then plans every suggestion over all stores and history as of `as_of`.
pub fn measure_plan(
    book: &CustomerBook,
    as_of: Day,
    models: &ModelSettings,
    settings: &SuggestSettings,
) -> PlanTimes {
    let started = Instant::now();
    let served: Option<Served> = collect_and_fit(book, as_of, models);
    let fit = started.elapsed();
    let started = Instant::now();
    let rows = rows_of(
        book,
        &Selection::All,
        (None, as_of + 1, as_of),
        ThresholdRule::Mean,
    );
    let rows_time = started.elapsed();
    let started = Instant::now();
    let names = book.customers();
    let mut rank = vec![0_u32; names.len()];
    for (i, (_, c)) in names.sorted().enumerate() {
        rank[c as usize] = i as u32;
    }
    let score = |c: u32| served.as_ref().and_then(|s| s.score(c));
    let inputs = Inputs {
        rows: &rows,
        score: served.as_ref().map(|_| &score as &dyn Fn(u32) -> _),
        book,
        sel: &Selection::All,
        from: None,
        to: as_of + 1,
        settings,
        cross: Err("not measured here: the profiler's part"),
    };
    let planned = plan(&inputs);
    let plan_time = started.elapsed();
    let started = Instant::now();
    if let Some(d) = planned.drafts.iter().max_by_key(|d| d.audience.len()) {
        d.ordered(&rows, &rank);
    }
    let first_page = started.elapsed();
    PlanTimes {
        fit,
        rows: rows_time,
        plan: plan_time,
        first_page,
        customers: rows.len(),
        suggestions: (planned.drafts.iter())
            .map(|d| (format!("{:?} {:?}", d.kind, d.segment), d.audience.len()))
            .collect(),
    }
}
