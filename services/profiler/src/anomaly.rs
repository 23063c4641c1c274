//! Unusual days and orders: each store's daily orders, revenue and refund
//! rate scored against the store's previous 28 days by a robust z (median /
//! MAD), from the store-day figures in memory; and customers' orders against
//! their other orders in the filter, read from `customer_orders`.

use portrait_core::{
    Acc, Calendar, Day, Error as DomainError, next_page_token, page_size, page_start,
};
use portrait_models::anomaly::{robust_stats, robust_z};
use portrait_proto::v1::{
    Anomaly, AnomalyDirection, AnomalyKind, ListAnomaliesRequest, ListAnomaliesResponse,
};
use portrait_service::Result;

use crate::queries::Profiler;

mod orders;
mod refund_rate;

pub(crate) use orders::OrdersKey;

/// Days before the judged day that make its baseline.
pub(crate) const BASELINE_DAYS: Day = 28;
/// A store younger than this (in days with a baseline) is not judged.
pub(crate) const MIN_BASELINE_DAYS: usize = 14;
/// Days judged when the filter has no start.
const DEFAULT_WINDOW: Day = 30;
/// Iglewicz and Hoaglin's threshold for a robust z.
const DEFAULT_MIN_SCORE: f64 = 3.5;

impl Profiler {
    pub async fn anomalies(&self, req: &ListAnomaliesRequest) -> Result<ListAnomaliesResponse> {
        let size = page_size("page_size", req.page_size)?;
        let start = page_start(&req.page_token)?;
        let kind = AnomalyKind::try_from(req.kind)
            .map_err(|_| DomainError::invalid("kind", format!("unknown kind {}", req.kind)))?;
        let min_score = match req.min_score {
            0.0 => DEFAULT_MIN_SCORE,
            m if m.is_finite() && m > 0.0 => m,
            m => {
                let reason = format!("{m} is not a positive number (0 = {DEFAULT_MIN_SCORE})");
                return Err(DomainError::invalid("min_score", reason).into());
            }
        };
        let kinds: Vec<AnomalyKind> = match kind {
            AnomalyKind::Unspecified => vec![
                AnomalyKind::StoreOrders,
                AnomalyKind::StoreRevenue,
                AnomalyKind::RefundRate,
                AnomalyKind::CustomerOrder,
            ],
            k => vec![k],
        };
        let (mut all, f, orders) = self.with(req.filter.as_ref(), |s, f, sel, version| {
            let from = f.from.unwrap_or(f.to - DEFAULT_WINDOW);
            let stores = &s.customers.stores;
            let mut all = Vec::new();
            for store in (0..stores.len() as u32).filter(|st| sel.contains(*st)) {
                let days: Vec<(Day, Acc)> = s.days.store_days(store).collect();
                let (id, name) = (stores.name(store), store_name(s, store));
                for &k in &kinds {
                    match k {
                        AnomalyKind::StoreOrders | AnomalyKind::StoreRevenue => {
                            all.extend(judge(&days, from, f.to, k, min_score, id, &name)?);
                        }
                        AnomalyKind::RefundRate => {
                            let refunds = s.refunds.days(store);
                            let store = (id, name.as_str());
                            all.extend(refund_rate::judge(refunds, from, f.to, min_score, store)?);
                        }
                        _ => {}
                    }
                }
            }
            let orders = (kinds.contains(&AnomalyKind::CustomerOrder))
                .then(|| orders::Selected::new(s, f, sel, from, min_score, version));
            Ok::<_, portrait_service::Error>((all, f.clone(), orders))
        })??;
        if let Some(selected) = orders {
            all.extend(self.unusual_orders(selected).await?.iter().cloned());
        }
        all.sort_by(|a, b| {
            (b.score.abs().total_cmp(&a.score.abs()))
                .then_with(|| b.date.cmp(&a.date))
                .then_with(|| a.store_id.cmp(&b.store_id))
                .then(a.kind.cmp(&b.kind))
                .then_with(|| a.order_id.cmp(&b.order_id))
        });
        let total = all.len();
        let page: Vec<Anomaly> = all.drain(start.min(total)..).take(size).collect();
        let next = start + page.len();
        Ok(ListAnomaliesResponse {
            anomalies: page,
            next_page_token: next_page_token(next, total),
            total: total as i64,
            filter: Some(f.applied()),
        })
    }
}

fn store_name(s: &crate::projection::State, store: u32) -> String {
    (s.customers.stores.info(store)).map_or_else(String::new, |i| i.name.clone())
}

/// The anomalies of one store and kind among the days `[from, to)`. `days`
/// holds the store's figures by day; a day without figures counts 0.
fn judge(
    days: &[(Day, Acc)],
    from: Day,
    to: Day,
    kind: AnomalyKind,
    min_score: f64,
    store_id: &str,
    store_name: &str,
) -> Result<Vec<Anomaly>> {
    let value = |acc: &Acc| match kind {
        AnomalyKind::StoreRevenue => acc.revenue,
        _ => acc.orders,
    };
    let Some(first) = days.iter().find(|(_, a)| a.orders > 0).map(|(d, _)| *d) else {
        return Ok(Vec::new());
    };
    let on = |day: Day| {
        days.binary_search_by_key(&day, |(d, _)| *d)
            .map_or(0, |i| value(&days[i].1))
    };
    let mut out = Vec::new();
    for day in from.max(first)..to {
        let base_from = (day - BASELINE_DAYS).max(first);
        if ((day - base_from) as usize) < MIN_BASELINE_DAYS {
            continue;
        }
        let history: Vec<f64> = (base_from..day).map(|d| on(d) as f64).collect();
        let stats = robust_stats(&history).map_err(corrupt)?;
        let v = on(day);
        let Some(score) = robust_z(v as f64, &stats) else {
            continue;
        };
        if score.abs() < min_score {
            continue;
        }
        let spike = score > 0.0;
        let date = Calendar::format_day(day);
        let (what, unit) = match kind {
            AnomalyKind::StoreRevenue => ("营收", "分"),
            _ => ("订单数", "单"),
        };
        out.push(Anomaly {
            kind: kind as i32,
            direction: direction(score) as i32,
            reason: format!(
                "{store_name} {date} {what} {v} {unit}，前 {} 天中位数 {}，{}（稳健 Z 值 {score:.1}）",
                history.len(),
                stats.median,
                if spike { "异常激增" } else { "异常骤降" }
            ),
            date,
            store_id: store_id.to_owned(),
            store_name: store_name.to_owned(),
            value: v,
            baseline_median: stats.median,
            baseline_mad: stats.mad,
            baseline_days: history.len() as i32,
            baseline_from_date: Calendar::format_day(base_from),
            score,
            ..Default::default()
        });
    }
    Ok(out)
}

fn direction(score: f64) -> AnomalyDirection {
    if score > 0.0 {
        AnomalyDirection::Spike
    } else {
        AnomalyDirection::Collapse
    }
}

fn corrupt(e: portrait_models::Error) -> portrait_service::Error {
    portrait_service::Error::Corrupt(format!("anomaly baseline: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acc(orders: i64) -> Acc {
        Acc {
            orders,
            revenue: orders * 100,
        }
    }

    #[test]
    fn a_collapse_after_steady_days_is_flagged_and_young_stores_are_not() {
        // 20 days alternating 10 and 12 orders, then a day of 1.
        let mut days: Vec<(Day, Acc)> = (0..20)
            .map(|d| (d, acc(10 + 2 * i64::from(d % 2))))
            .collect();
        days.push((20, acc(1)));
        let found = judge(&days, 0, 21, AnomalyKind::StoreOrders, 3.5, "s", "S").unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        let a = &found[0];
        assert_eq!((a.value, a.baseline_days), (1, 20));
        assert_eq!(a.direction, AnomalyDirection::Collapse as i32);
        // median 11, MAD 1: 0.6745 * (1 - 11) / 1.
        assert!((a.score + 6.745).abs() < 1e-12, "{}", a.score);
        let young = judge(&days[7..], 0, 21, AnomalyKind::StoreOrders, 3.5, "s", "S").unwrap();
        assert!(young.is_empty(), "{young:?}");
    }

    #[test]
    fn a_missing_day_counts_zero() {
        let days: Vec<(Day, Acc)> = (0..20).map(|d| (d, acc(10 + i64::from(d % 3)))).collect();
        let found = judge(&days, 20, 21, AnomalyKind::StoreRevenue, 3.5, "s", "S").unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].value, 0);
    }
}
