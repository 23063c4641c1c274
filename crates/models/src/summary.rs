//! Per-customer (x, t_x, T, mean spend) summaries from raw transactions.
//!
//! The rules are those of lifetimes' `summary_data_from_transaction_data`, so that models
//! fitted on our summaries are comparable with the reference: dates are bucketed into periods
//! (day; week starting Monday; calendar month), a customer's first period is their birth, all
//! purchases in one period count as one purchase whose amount is their sum, and only periods up
//! to and including the period that contains the calibration end are kept.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The time unit of x, t_x and T.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Day,
    Week,
    Month,
}

impl Period {
    /// Length of one period in days. A month is numpy's average Gregorian month
    /// (365.2425 / 12 days), which is what lifetimes divides by for `freq="M"`.
    pub fn days(self) -> f64 {
        match self {
            Period::Day => 1.0,
            Period::Week => 7.0,
            Period::Month => 365.2425 / 12.0,
        }
    }

    /// How many of these periods make one month, as lifetimes' CLV assumes
    /// (`{"D": 30, "W": 4.345, "M": 1}`).
    pub fn per_month(self) -> f64 {
        match self {
            Period::Day => 30.0,
            Period::Week => 4.345,
            Period::Month => 1.0,
        }
    }

    /// First day of the period containing `date`.
    pub fn start(self, date: NaiveDate) -> NaiveDate {
        match self {
            Period::Day => date,
            Period::Week => {
                date - chrono::Days::new(u64::from(date.weekday().num_days_from_monday()))
            }
            Period::Month => date.with_day(1).unwrap_or(date),
        }
    }
}

/// One purchase.
#[derive(Debug, Clone, PartialEq)]
pub struct Transaction<K> {
    pub customer: K,
    pub date: NaiveDate,
    pub amount: f64,
}

/// What the BTYD models know about one customer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CustomerSummary {
    /// x: number of repeat purchase periods (periods with a purchase, minus the first).
    pub frequency: u32,
    /// t_x: periods from the first to the last purchase.
    pub recency: f64,
    /// T: periods from the first purchase to the end of calibration.
    pub age: f64,
    /// Mean amount of the repeat purchase periods; 0 when there are none.
    pub monetary: f64,
}

/// Summarise transactions per customer as of `calibration_end`; customers whose first purchase
/// falls after it are left out. The result is sorted by customer.
pub fn summarize<K: Ord + Clone>(
    transactions: &[Transaction<K>],
    calibration_end: NaiveDate,
    period: Period,
) -> Result<Vec<(K, CustomerSummary)>> {
    let end = period.start(calibration_end);
    let mut per_customer: BTreeMap<&K, BTreeMap<NaiveDate, f64>> = BTreeMap::new();
    for (index, t) in transactions.iter().enumerate() {
        if !t.amount.is_finite() {
            return Err(Error::NotFinite {
                field: "amount",
                index,
            });
        }
        if t.amount < 0.0 {
            return Err(Error::Invalid {
                index,
                reason: format!("negative amount {}", t.amount),
            });
        }
        let start = period.start(t.date);
        if start <= end {
            *per_customer
                .entry(&t.customer)
                .or_default()
                .entry(start)
                .or_insert(0.0) += t.amount;
        }
    }
    if per_customer.is_empty() {
        return Err(Error::Empty(
            "no transaction on or before the calibration end",
        ));
    }
    let unit = period.days();
    let periods = |from: NaiveDate, to: NaiveDate| (to - from).num_days() as f64 / unit;
    let out = per_customer
        .into_iter()
        .map(|(customer, by_period)| {
            let mut iter = by_period.iter();
            // Every entry of the map holds at least one period.
            let (&first, _) = iter.next().unwrap_or((&end, &0.0));
            let (mut last, mut sum, mut repeats) = (first, 0.0, 0u32);
            for (&date, &amount) in iter {
                last = date;
                sum += amount;
                repeats += 1;
            }
            let summary = CustomerSummary {
                frequency: repeats,
                recency: periods(first, last),
                age: periods(first, end),
                monetary: if repeats > 0 {
                    sum / f64::from(repeats)
                } else {
                    0.0
                },
            };
            (customer.clone(), summary)
        })
        .collect();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn tx(c: u32, date: &str, amount: f64) -> Transaction<u32> {
        Transaction {
            customer: c,
            date: d(date),
            amount,
        }
    }

    #[test]
    fn weekly_summary_collapses_same_week_and_keeps_the_end_week() {
        // 2024-01-01 is a Monday. Customer 1 buys twice in week 0, once in week 2 and once in
        // the end week (after the end date but in the same week: lifetimes keeps it), and once
        // after; customer 2 only after the end.
        let t = vec![
            tx(1, "2024-01-01", 5.0),
            tx(1, "2024-01-07", 1.0),
            tx(1, "2024-01-15", 2.0),
            tx(1, "2024-01-16", 3.0),
            tx(1, "2024-02-01", 4.0),
            tx(1, "2024-02-05", 100.0),
            tx(2, "2024-03-01", 9.0),
        ];
        let s = summarize(&t, d("2024-01-31"), Period::Week).unwrap();
        assert_eq!(s.len(), 1);
        let c = s[0].1;
        assert_eq!((c.frequency, c.recency, c.age), (2, 4.0, 4.0));
        assert_eq!(c.monetary, (5.0 + 4.0) / 2.0);
    }

    #[test]
    fn month_periods_use_the_average_month() {
        let t = vec![
            tx(1, "2020-01-15", 1.0),
            tx(1, "2020-03-02", 2.0),
            tx(1, "2020-03-30", 3.0),
        ];
        let s = summarize(&t, d("2020-05-10"), Period::Month).unwrap();
        let c = s[0].1;
        // Same figures lifetimes prints for this input with freq="M".
        assert_eq!(c.frequency, 1);
        assert!((c.recency - 1.971293).abs() < 1e-6 && (c.age - 3.975441).abs() < 1e-6);
        assert_eq!(c.monetary, 5.0);
    }

    #[test]
    fn bad_transactions_are_errors() {
        let nan = vec![tx(1, "2024-01-01", f64::NAN)];
        assert!(matches!(
            summarize(&nan, d("2024-02-01"), Period::Day),
            Err(Error::NotFinite { .. })
        ));
        let neg = vec![tx(1, "2024-01-01", -1.0)];
        assert!(matches!(
            summarize(&neg, d("2024-02-01"), Period::Day),
            Err(Error::Invalid { .. })
        ));
        assert!(matches!(
            summarize::<u32>(&[], d("2024-02-01"), Period::Day),
            Err(Error::Empty(_))
        ));
        let late = vec![tx(1, "2024-05-01", 1.0)];
        assert!(matches!(
            summarize(&late, d("2024-02-01"), Period::Day),
            Err(Error::Empty(_))
        ));
    }
}
