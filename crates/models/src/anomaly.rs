//! Unusual orders: robust (median / MAD) scores of an order against the customer's own history
//! and against its store's norm for that hour of day. Every flag says why.

use serde::Serialize;

use crate::{Error, Result};

/// Median and spread of a history.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RobustStats {
    pub median: f64,
    /// Median absolute deviation from the median.
    pub mad: f64,
    /// Mean absolute deviation from the median (the fallback spread when MAD is 0).
    pub mean_ad: f64,
    pub count: usize,
}

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// Median, MAD and mean absolute deviation of `values`.
pub fn robust_stats(values: &[f64]) -> Result<RobustStats> {
    if values.is_empty() {
        return Err(Error::Empty("no history to compare with"));
    }
    if let Some(index) = values.iter().position(|v| !v.is_finite()) {
        return Err(Error::NotFinite {
            field: "history value",
            index,
        });
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    Ok(robust_stats_sorted(&sorted, &mut Vec::new()))
}

/// `robust_stats` of finite, non-empty values already sorted ascending, with
/// `dev` as scratch: for judging many leave-one-out histories of one sorted
/// list (each order against the customer's others), where sorting again and
/// allocating per history made the chain-wide list O(n² log n) per customer.
/// The same figures to the bit: the deviations are summed in value order as
/// before, and sorted by merging the two runs either side of the median
/// (|v − m| falls to the median and rises after it), not by a sort.
pub fn robust_stats_sorted(sorted: &[f64], dev: &mut Vec<f64>) -> RobustStats {
    let m = median(sorted);
    let mean_ad = sorted.iter().map(|v| (v - m).abs()).sum::<f64>() / sorted.len() as f64;
    let split = sorted.partition_point(|v| *v < m);
    let (mut below, mut above) = (split, split);
    dev.clear();
    while below > 0 || above < sorted.len() {
        let down = (below > 0).then(|| (sorted[below - 1] - m).abs());
        let up = (above < sorted.len()).then(|| (sorted[above] - m).abs());
        match (down, up) {
            (Some(d), Some(u)) if d <= u => {
                dev.push(d);
                below -= 1;
            }
            (Some(d), None) => {
                dev.push(d);
                below -= 1;
            }
            (_, Some(u)) => {
                dev.push(u);
                above += 1;
            }
            (None, None) => break,
        }
    }
    RobustStats {
        median: m,
        mad: median(dev),
        mean_ad,
        count: sorted.len(),
    }
}

/// Robust z-score (Iglewicz & Hoaglin 1993): 0.6745 (x − median) / MAD, and when MAD is 0
/// (x − median) / (1.253314 · mean absolute deviation). `None` when the history has no spread
/// at all (every value identical), where any difference is unusual and no scale exists.
pub fn robust_z(value: f64, stats: &RobustStats) -> Option<f64> {
    if stats.mad > 0.0 {
        Some(0.6745 * (value - stats.median) / stats.mad)
    } else if stats.mean_ad > 0.0 {
        Some((value - stats.median) / (1.253_314 * stats.mean_ad))
    } else {
        None
    }
}

/// Tuning of [`check_order`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// |robust z| above this is flagged (3.5 is Iglewicz & Hoaglin's recommendation).
    pub threshold: f64,
    /// Histories shorter than this are not judged.
    pub min_history: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            threshold: 3.5,
            min_history: 5,
        }
    }
}

/// What an order was compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Baseline {
    /// The customer's own earlier orders.
    CustomerHistory,
    /// Orders at the same store in the same hour of day.
    StoreHour,
}

/// One reason an order looks unusual.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Flag {
    pub baseline: Baseline,
    /// Robust z-score; infinite when the history has no spread at all.
    pub score: f64,
    pub median: f64,
    pub history: usize,
    pub reason: String,
}

/// Score an order amount against the customer's earlier order amounts and against the amounts
/// of its store's orders in the same hour; returns the flags raised (possibly none).
pub fn check_order(
    amount: f64,
    customer_history: &[f64],
    store_hour_history: &[f64],
    settings: &Settings,
) -> Result<Vec<Flag>> {
    if !amount.is_finite() {
        return Err(Error::NotFinite {
            field: "amount",
            index: 0,
        });
    }
    if !(settings.threshold.is_finite() && settings.threshold > 0.0) {
        return Err(Error::Argument {
            name: "threshold",
            reason: format!("{} is not > 0", settings.threshold),
        });
    }
    let mut flags = Vec::new();
    for (baseline, history, whose) in [
        (
            Baseline::CustomerHistory,
            customer_history,
            "this customer's",
        ),
        (
            Baseline::StoreHour,
            store_hour_history,
            "this store's usual for this hour",
        ),
    ] {
        if history.len() < settings.min_history.max(1) {
            continue;
        }
        let stats = robust_stats(history)?;
        let n = stats.count;
        let m = stats.median;
        let flag = match robust_z(amount, &stats) {
            Some(z) if z.abs() > settings.threshold => {
                let side = if z > 0.0 { "above" } else { "below" };
                let reason = format!(
                    "amount {amount:.2} is {:.1} robust standard deviations {side} {whose} median of {m:.2} over {n} orders",
                    z.abs()
                );
                Some(Flag {
                    baseline,
                    score: z,
                    median: m,
                    history: n,
                    reason,
                })
            }
            None if amount != m => {
                let score = if amount > m {
                    f64::INFINITY
                } else {
                    f64::NEG_INFINITY
                };
                let reason = format!(
                    "amount {amount:.2} differs from {whose} {n} orders, which were all {m:.2}"
                );
                Some(Flag {
                    baseline,
                    score,
                    median: m,
                    history: n,
                    reason,
                })
            }
            _ => None,
        };
        flags.extend(flag);
    }
    Ok(flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The deviations merged around the median give the figures a plain
    /// sort gives, to the bit, on lists with ties, even and odd lengths.
    #[test]
    fn merged_deviations_equal_sorted_ones() {
        let mut seed: u64 = 11;
        let mut dev = Vec::new();
        for n in 1..60_usize {
            let mut values: Vec<f64> = (0..n)
                .map(|_| {
                    seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    ((seed >> 40) % 50) as f64 * 7.5
                })
                .collect();
            values.sort_unstable_by(f64::total_cmp);
            let m = median(&values);
            let mut plain: Vec<f64> = values.iter().map(|v| (v - m).abs()).collect();
            let mean_ad = plain.iter().sum::<f64>() / n as f64;
            plain.sort_unstable_by(f64::total_cmp);
            let s = robust_stats_sorted(&values, &mut dev);
            assert_eq!(dev, plain, "{values:?}");
            assert_eq!(
                (s.median, s.mad, s.mean_ad, s.count),
                (m, median(&plain), mean_ad, n)
            );
        }
    }

    #[test]
    fn stats_by_hand() {
        // sorted 1 2 3 4 100: median 3, deviations 2 1 0 1 97 → MAD 1, mean AD 101/5
        let s = robust_stats(&[4.0, 100.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!(
            (s.median, s.mad, s.mean_ad, s.count),
            (3.0, 1.0, 101.0 / 5.0, 5)
        );
        let s = robust_stats(&[1.0, 2.0, 3.0, 10.0]).unwrap();
        assert_eq!((s.median, s.mad), (2.5, 1.0));
        assert_eq!(robust_z(5.5, &s), Some(0.6745 * 3.0));
    }

    #[test]
    fn flags_carry_reasons() {
        let customer = [30.0, 32.0, 28.0, 31.0, 29.0, 30.0];
        let store = [25.0, 60.0, 40.0, 35.0, 50.0, 45.0];
        let flags = check_order(300.0, &customer, &store, &Settings::default()).unwrap();
        assert_eq!(flags.len(), 2);
        assert_eq!(flags[0].baseline, Baseline::CustomerHistory);
        assert!(
            flags[0]
                .reason
                .contains("above this customer's median of 30.00 over 6 orders"),
            "{}",
            flags[0].reason
        );
        assert!(
            check_order(31.0, &customer, &store, &Settings::default())
                .unwrap()
                .is_empty()
        );
        // No spread at all: any different amount is flagged, the same amount is not.
        let same = [20.0; 6];
        let f = check_order(21.0, &same, &[], &Settings::default()).unwrap();
        assert!(f.len() == 1 && f[0].score == f64::INFINITY && f[0].reason.contains("all 20.00"));
        assert!(
            check_order(20.0, &same, &[], &Settings::default())
                .unwrap()
                .is_empty()
        );
        // Too little history: no judgement.
        assert!(
            check_order(999.0, &[1.0, 2.0], &[], &Settings::default())
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(robust_stats(&[]).is_err());
        assert!(robust_stats(&[1.0, f64::NAN]).is_err());
        let h = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert!(check_order(f64::NAN, &h, &h, &Settings::default()).is_err());
        assert!(
            check_order(
                1.0,
                &[1.0, 2.0, 3.0, 4.0, f64::INFINITY],
                &h,
                &Settings::default()
            )
            .is_err()
        );
        let s = Settings {
            threshold: f64::NAN,
            ..Settings::default()
        };
        assert!(check_order(1.0, &h, &h, &s).is_err());
    }
}
