//! Every customer's (x, t_x, T, spend) as of a day, read from the customer book: the same
//! rules as `portrait_models::summary::summarize` (lifetimes'), so the service's fit equals
//! `portrait models btyd` on a CSV of the same orders.

use chrono::NaiveDate;
use portrait_core::Day;
use portrait_core::memory::CustomerBook;
use portrait_models::summary::Period;

/// Marks a customer without an order up to the as-of day.
pub(crate) const ABSENT: u32 = u32::MAX;

/// One customer's purchase periods, in whole days and fen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Periods {
    /// x: periods with a purchase, minus the first.
    pub frequency: u32,
    /// First day of the first and of the last purchase period.
    pub first: Day,
    pub last: Day,
    /// Net spend of the repeat periods (all but the first), and of all.
    pub repeat_fen: i64,
    pub total_fen: i64,
}

/// The book summarised as of a day: one entry per dense customer id known then.
#[derive(Debug, Default)]
pub(crate) struct Collected {
    /// First day of the as-of day's period: T is measured to it.
    pub end: Day,
    /// `None` for a customer with no order up to the as-of day.
    pub customers: Vec<Option<Periods>>,
}

const EPOCH: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");

/// First day of the period containing `day`, as `Period::start` does on dates.
pub(crate) fn period_start(period: Period, day: Day) -> Day {
    match period {
        Period::Day => day,
        // 1970-01-01 was a Thursday, three days after a Monday.
        Period::Week => day - (day + 3).rem_euclid(7),
        Period::Month => {
            let date = EPOCH + chrono::TimeDelta::days(day.into());
            (period.start(date) - EPOCH).num_days() as Day
        }
    }
}

/// Reads every customer's rows with an order on or before `as_of`; whole days and fen, so the
/// figures are exact and the read is short (it runs under the state's read lock).
pub(crate) fn collect(book: &CustomerBook, as_of: Day, period: Period) -> Collected {
    let n = book.customers().len();
    let mut customers = Vec::with_capacity(n);
    let mut rows: Vec<(Day, i64)> = Vec::new();
    for c in 0..n as u32 {
        rows.clear();
        book.rows(c, |day, _, acc| {
            if acc.orders > 0 && day <= as_of {
                rows.push((period_start(period, day), acc.revenue));
            }
        });
        customers.push(periods(&mut rows));
    }
    Collected {
        end: period_start(period, as_of),
        customers,
    }
}

/// Groups (period start, fen) rows into a customer's periods.
pub(super) fn periods(rows: &mut [(Day, i64)]) -> Option<Periods> {
    rows.sort_unstable_by_key(|r| r.0);
    let (&(first, first_fen), rest) = rows.split_first()?;
    let mut p = Periods {
        frequency: 0,
        first,
        last: first,
        repeat_fen: 0,
        total_fen: first_fen,
    };
    for &(day, fen) in rest {
        if day != p.last {
            p.frequency += 1;
            p.last = day;
        }
        // Orders are capped far below i64::MAX / 10^9 (domain.max_order_fen), so these cannot
        // overflow; saturate rather than wrap if a limit ever changes.
        p.total_fen = p.total_fen.saturating_add(fen);
        if day != first {
            p.repeat_fen = p.repeat_fen.saturating_add(fen);
        }
    }
    Some(p)
}

#[cfg(test)]
mod tests {
    use portrait_core::Acc;
    use portrait_models::summary::{Transaction, summarize};

    use super::*;

    #[test]
    fn period_starts_equal_the_models_crates() {
        for day in -800..800 {
            let date = EPOCH + chrono::TimeDelta::days(day.into());
            for period in [Period::Day, Period::Week, Period::Month] {
                let want = (period.start(date) - EPOCH).num_days() as Day;
                assert_eq!(period_start(period, day), want, "{period:?} {date}");
            }
        }
    }

    #[test]
    fn collected_periods_equal_summarize_on_the_same_orders() {
        // (customer, day, store, orders, fen): two stores on one day, a retracted row, an
        // order after the as-of day, a zero-amount order.
        let rows: [(&str, Day, u32, i64, i64); 9] = [
            ("a", 20_000, 0, 1, 500),
            ("a", 20_000, 1, 2, 700),
            ("a", 20_003, 0, 1, 100),
            ("a", 20_015, 1, 1, 0),
            ("a", 20_040, 0, 1, 900),
            ("b", 20_001, 0, 1, 300),
            ("b", 20_010, 0, 0, 0),
            ("c", 20_030, 1, 1, 250),
            ("d", 20_050, 0, 1, 800),
        ];
        let mut book = CustomerBook::default();
        let mut tx = Vec::new();
        for (c, day, store, orders, revenue) in rows {
            book.add(c, store, day, Acc { orders, revenue });
            for _ in 0..orders {
                // The CSV holds orders: split a row's spend over its orders.
                let fen = revenue / orders;
                let date = EPOCH + chrono::TimeDelta::days(day.into());
                tx.push(Transaction {
                    customer: c.to_owned(),
                    date,
                    amount: fen as f64,
                });
            }
        }
        let as_of: Day = 20_040;
        // Rows as added (the overflow), then folded into the columnar block.
        let mut compacted = book.clone();
        compacted.compact();
        for (book, period) in [&book, &compacted]
            .into_iter()
            .flat_map(|b| [Period::Day, Period::Week, Period::Month].map(|p| (b, p)))
        {
            let got = collect(book, as_of, period);
            let end = EPOCH + chrono::TimeDelta::days(as_of.into());
            let want = summarize(&tx, end, period).unwrap();
            let ours: Vec<(&str, Periods)> = (0..book.customers().len() as u32)
                .filter_map(|c| Some((book.customers().name(c), got.customers[c as usize]?)))
                .collect();
            let mut ours = ours;
            ours.sort_by_key(|(name, _)| *name);
            // "d" bought after the as-of day only; a week or month period would keep it
            // (lifetimes keeps the whole end period), the service does not.
            let want: Vec<_> = want.into_iter().filter(|(c, _)| c != "d").collect();
            assert_eq!(ours.len(), want.len(), "{period:?}");
            for ((name, p), (id, s)) in ours.iter().zip(&want) {
                assert_eq!(name, id);
                let unit = period.days();
                assert_eq!(p.frequency, s.frequency, "{period:?} {id}");
                assert_eq!(f64::from(p.last - p.first) / unit, s.recency, "{id}");
                assert_eq!(f64::from(got.end - p.first) / unit, s.age, "{id}");
                let m = if p.frequency > 0 {
                    p.repeat_fen as f64 / f64::from(p.frequency)
                } else {
                    0.0
                };
                assert_eq!(m, s.monetary, "{period:?} {id}");
            }
        }
    }
}
