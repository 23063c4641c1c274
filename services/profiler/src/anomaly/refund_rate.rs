//! A store's refund rate of one day, refunded / (refunded + paid) orders
//! placed that day, against the same rate on its previous 28 days. A day
//! without orders has no rate: it is neither judged nor part of a baseline.

use portrait_core::{Calendar, Day, RefundAcc};
use portrait_models::anomaly::{robust_stats, robust_z};
use portrait_proto::v1::{Anomaly, AnomalyKind};
use portrait_service::Result;

use super::{BASELINE_DAYS, MIN_BASELINE_DAYS, corrupt, direction};

/// (orders, rate) of a day with orders.
fn rate(a: &RefundAcc) -> Option<(i64, f64)> {
    let orders = a.paid + a.refunded;
    (orders > 0).then(|| (orders, a.refunded as f64 / orders as f64))
}

/// The refund-rate anomalies of one store among the days `[from, to)`;
/// `days` holds its counts by day. `store` is (id, name).
pub(super) fn judge(
    days: &[(Day, RefundAcc)],
    from: Day,
    to: Day,
    min_score: f64,
    store: (&str, &str),
) -> Result<Vec<Anomaly>> {
    let (store_id, store_name) = store;
    let mut out = Vec::new();
    let start = days.partition_point(|(d, _)| *d < from);
    for (i, (day, acc)) in days.iter().enumerate().skip(start) {
        if *day >= to {
            break;
        }
        let Some((orders, value)) = rate(acc) else {
            continue;
        };
        let first = days[..i].partition_point(|(d, _)| *d < day - BASELINE_DAYS);
        let base: Vec<(Day, f64)> = (days[first..i].iter())
            .filter_map(|(d, a)| rate(a).map(|(_, r)| (*d, r)))
            .collect();
        if base.len() < MIN_BASELINE_DAYS {
            continue;
        }
        let history: Vec<f64> = base.iter().map(|(_, r)| *r).collect();
        let stats = robust_stats(&history).map_err(corrupt)?;
        let Some(score) = robust_z(value, &stats) else {
            continue;
        };
        if score.abs() < min_score {
            continue;
        }
        let date = Calendar::format_day(*day);
        out.push(Anomaly {
            kind: AnomalyKind::RefundRate as i32,
            direction: direction(score) as i32,
            reason: format!(
                "{store_name} {date} 退款率 {:.1}%（{} / {} 单），前 {} 个有单日中位数 {:.1}%，{}（稳健 Z 值 {score:.1}）",
                100.0 * value,
                acc.refunded,
                orders,
                base.len(),
                100.0 * stats.median,
                if score > 0.0 { "退款异常偏高" } else { "退款异常偏低" }
            ),
            date,
            store_id: store_id.to_owned(),
            store_name: store_name.to_owned(),
            value: acc.refunded,
            baseline_median: stats.median,
            baseline_mad: stats.mad,
            baseline_days: base.len() as i32,
            baseline_from_date: Calendar::format_day(base[0].0),
            score,
            rate: value,
            orders,
            ..Default::default()
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acc(paid: i64, refunded: i64) -> RefundAcc {
        RefundAcc { paid, refunded }
    }

    #[test]
    fn a_day_of_many_refunds_is_flagged_against_days_with_orders_only() {
        // 20 days of 10 orders with one refund every other day, a day
        // without orders (no rate: left out of the baseline), then a day
        // with 5 refunds of 10.
        let mut days: Vec<(Day, RefundAcc)> = (0..20)
            .map(|d| (d, acc(10 - (d % 2) as i64, (d % 2) as i64)))
            .collect();
        days.push((20, acc(0, 0)));
        days.push((21, acc(5, 5)));
        let found = judge(&days, 21, 22, 3.5, ("s", "S")).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        let a = &found[0];
        // The 20 days before day 21 within 28, minus the empty one: 20 rates,
        // half 0 and half 0.1: median 0.05, MAD 0.05, z = 0.6745 * 0.45 / 0.05.
        assert_eq!((a.value, a.orders, a.baseline_days), (5, 10, 20));
        assert!((a.rate - 0.5).abs() < 1e-15);
        assert!((a.baseline_median - 0.05).abs() < 1e-15);
        assert!((a.score - 0.6745 * 0.45 / 0.05).abs() < 1e-9, "{}", a.score);
        assert_eq!(a.baseline_from_date, "1970-01-01");
        // The empty day is not judged, and 13 days with orders are too few.
        assert!(judge(&days, 20, 21, 1e-9, ("s", "S")).unwrap().is_empty());
        let young = &days[7..];
        assert!(judge(young, 21, 22, 3.5, ("s", "S")).unwrap().is_empty());
    }

    #[test]
    fn no_spread_at_all_judges_nothing_and_a_zero_mad_falls_back_to_the_mean_deviation() {
        let clean: Vec<(Day, RefundAcc)> = (0..20).map(|d| (d, acc(10, 0))).collect();
        let mut days = clean.clone();
        days.push((20, acc(5, 5)));
        assert!(judge(&days, 20, 21, 1e-9, ("s", "S")).unwrap().is_empty());
        // One refund day in 20: MAD 0, mean absolute deviation 0.1 / 20.
        days[3].1 = acc(9, 1);
        let found = judge(&days, 20, 21, 3.5, ("s", "S")).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].baseline_mad, 0.0);
        let want = 0.5 / (1.253_314 * (0.1 / 20.0));
        assert!((found[0].score - want).abs() < 1e-6, "{}", found[0].score);
    }
}
