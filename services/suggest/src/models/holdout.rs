//! The fit checked on days it did not see, as lifetimes' `calibration_and_holdout_data` and
//! its purchases-vs-holdout table do it: the transaction model fitted again on the orders up
//! to the calibration end, and for each customer known then, its expected purchases over the
//! holdout against the purchase periods the customer actually had in it, grouped by the
//! customer's calibration frequency.

use portrait_core::Day;
use portrait_core::memory::CustomerBook;
use portrait_models::btyd::TransactionModel;
use portrait_models::summary::CustomerSummary;
use portrait_service::ModelKind;

use super::collect::{self, Collected, period_start};
use super::fit::{self, Chosen, Refusal, Terms, fit_transactions};

/// Rows for calibration frequencies 0 … ROWS − 1, then one for ROWS or more (lifetimes' plot
/// shows the first seven).
pub(crate) const ROWS: u32 = 7;

/// Customers of one calibration frequency (or more, for the last row) and their holdout.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Row {
    pub frequency: u32,
    pub and_more: bool,
    pub customers: u64,
    /// Sums over the row's customers; the answer divides by `customers`.
    pub actual: u64,
    pub predicted: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Holdout {
    /// Last day whose orders the calibration fit saw.
    pub calibration_end: Day,
    /// The holdout's length in the fit's period.
    pub duration: f64,
    pub chosen: Chosen,
    pub rows: Vec<Row>,
    pub total: Row,
}

/// What the check reads under the state's lock: the calibration population and, per dense
/// customer id, the periods with a purchase after the calibration end up to the as-of day.
#[derive(Debug)]
pub(crate) struct Gathered {
    calibration_end: Day,
    as_of: Day,
    collected: Collected,
    holdout: Vec<u32>,
}

/// Reads every customer's rows once, under the state's lock: the population as of `as_of`
/// (what `collect::collect` gives) and, for the check, as of the calibration end with each
/// customer's holdout periods.
pub(crate) fn gather(
    book: &CustomerBook,
    as_of: Day,
    days: u32,
    terms: Terms,
) -> (Collected, Gathered) {
    let period = terms.period;
    let calibration_end = as_of.saturating_sub(i32::try_from(days).unwrap_or(i32::MAX));
    let n = book.customers().len();
    let (mut all, mut calibration) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut holdout = Vec::with_capacity(n);
    let (mut rows, mut before, mut after) = (Vec::new(), Vec::new(), Vec::new());
    for c in 0..n as u32 {
        rows.clear();
        before.clear();
        after.clear();
        book.rows(c, |day, _, acc| {
            if acc.orders > 0 && day <= as_of {
                let start = period_start(period, day);
                rows.push((start, acc.revenue));
                if day <= calibration_end {
                    before.push((start, acc.revenue));
                } else {
                    after.push(start);
                }
            }
        });
        all.push(collect::periods(&mut rows));
        calibration.push(collect::periods(&mut before));
        after.sort_unstable();
        after.dedup();
        holdout.push(after.len() as u32);
    }
    let collected = Collected {
        end: period_start(period, as_of),
        customers: all,
    };
    let gathered = Gathered {
        calibration_end,
        as_of,
        collected: Collected {
            end: period_start(period, calibration_end),
            customers: calibration,
        },
        holdout,
    };
    (collected, gathered)
}

/// Fits `kind` on the calibration population and tabulates its holdout predictions.
pub(crate) fn check(g: &Gathered, terms: Terms, kind: ModelKind) -> Result<Holdout, Refusal> {
    let unit = terms.period.days();
    let end = g.collected.end;
    let present: Vec<(u32, &collect::Periods)> = (g.collected.customers.iter().enumerate())
        .filter_map(|(c, p)| Some((c as u32, p.as_ref()?)))
        .collect();
    let repeat = present.iter().filter(|(_, p)| p.frequency > 0).count();
    if (repeat as u64) < terms.min_customers {
        return Err(Refusal::NotEnoughData(format!(
            "{repeat} repeat customers up to the calibration end; models.min_customers is {}",
            terms.min_customers
        )));
    }
    let data: Vec<CustomerSummary> = (present.iter())
        .map(|(_, p)| fit::summary(p, end, unit))
        .collect();
    let chosen = fit_transactions(kind, &data)?;
    drop(data);
    let duration = f64::from(period_start(terms.period, g.as_of) - end) / unit;

    // Customers sharing (x, t_x, T) share a prediction: compute it once per triple.
    let mut keyed: Vec<((u32, Day, Day), u32)> = (present.iter())
        .map(|&(c, p)| {
            (
                (p.frequency, p.last - p.first, end - p.first),
                g.holdout[c as usize],
            )
        })
        .collect();
    keyed.sort_unstable_by_key(|k| k.0);
    let mut rows: Vec<Row> = (0..=ROWS)
        .map(|frequency| Row {
            frequency,
            and_more: frequency == ROWS,
            ..Row::default()
        })
        .collect();
    let mut i = 0;
    while i < keyed.len() {
        let key = keyed[i].0;
        let same = keyed[i..].iter().take_while(|k| k.0 == key).count();
        let c = CustomerSummary {
            frequency: key.0,
            recency: f64::from(key.1) / unit,
            age: f64::from(key.2) / unit,
            monetary: 0.0,
        };
        let expected = (chosen.transactions)
            .expected_purchases(duration, &c)
            .map_err(|e| Refusal::Failed(format!("holdout prediction: {e}")))?;
        let row = &mut rows[key.0.min(ROWS) as usize];
        row.customers += same as u64;
        row.predicted += expected * same as f64;
        row.actual += keyed[i..i + same]
            .iter()
            .map(|k| u64::from(k.1))
            .sum::<u64>();
        i += same;
    }
    // The whole population: calibration frequency 0 or more.
    let all = Row {
        and_more: true,
        ..Row::default()
    };
    let total = rows.iter().fold(all, |t, r| Row {
        customers: t.customers + r.customers,
        actual: t.actual + r.actual,
        predicted: t.predicted + r.predicted,
        ..t
    });
    rows.retain(|r| r.customers > 0);
    Ok(Holdout {
        calibration_end: g.calibration_end,
        duration,
        chosen,
        rows,
        total,
    })
}

#[cfg(test)]
mod tests {
    use portrait_core::Acc;
    use portrait_models::summary::Period;

    use super::*;

    #[test]
    fn one_pass_reads_what_collect_reads_at_both_ends_and_counts_holdout_periods() {
        let mut book = CustomerBook::default();
        // (customer, day, orders): a retracted day, a zero-order row, days after as_of.
        let rows: [(&str, Day, i64); 10] = [
            ("a", 20_000, 1),
            ("a", 20_001, 2),
            ("a", 20_020, 1),
            ("a", 20_021, 1),
            ("a", 20_040, 1),
            ("b", 20_030, 1),
            ("b", 20_031, 0),
            ("c", 20_005, 1),
            ("c", 20_050, 1),
            ("c", 20_060, 1),
        ];
        for (c, day, orders) in rows {
            book.add(
                c,
                0,
                day,
                Acc {
                    orders,
                    revenue: 100 * orders,
                },
            );
        }
        let as_of = 20_045;
        for period in [Period::Day, Period::Week, Period::Month] {
            let terms = Terms {
                kind: ModelKind::BgNbd,
                period,
                horizon: 1.0,
                clv_months: 1,
                discount_rate: 0.0,
                min_customers: 2,
                holdout_days: 25,
            };
            let (all, g) = gather(&book, as_of, 25, terms);
            assert_eq!(all.end, collect::collect(&book, as_of, period).end);
            assert_eq!(
                all.customers,
                collect::collect(&book, as_of, period).customers
            );
            let calibration = collect::collect(&book, 20_020, period);
            assert_eq!(g.calibration_end, 20_020);
            assert_eq!(g.collected.customers, calibration.customers, "{period:?}");
            assert_eq!(g.collected.end, calibration.end, "{period:?}");
            // Distinct periods after day 20,020 up to 20,045, by hand.
            let distinct = |days: &[Day]| {
                let mut p: Vec<Day> = days.iter().map(|d| period_start(period, *d)).collect();
                p.sort_unstable();
                p.dedup();
                p.len() as u32
            };
            let name = |c: &str| book.customers().get(c).expect("known") as usize;
            assert_eq!(
                g.holdout[name("a")],
                distinct(&[20_021, 20_040]),
                "{period:?}"
            );
            assert_eq!(g.holdout[name("b")], distinct(&[20_030]), "{period:?}");
            assert_eq!(g.holdout[name("c")], 0, "{period:?}");
        }
    }
}
