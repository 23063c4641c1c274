//! Anomalies through the gateway against a recount: the stores' daily
//! orders and revenue by SQL over the raw accepted orders, their refund rates
//! over those and the refunds the test itself sent, and customers' unusual
//! orders over the raw orders; the median, MAD and robust z written out
//! again here from their definitions.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{Anomaly, AnomalyKind, ListAnomaliesRequest};
use sqlx::Row;
use tonic::transport::Channel;

use crate::oracle::{IN_STORES, Oracle, Q};

mod refunds;
pub(crate) use refunds::{assert_refund_wave_flagged, load_refunds, refund_wave};

/// Every judged day is listed at this bound; a day equal to its median
/// (score 0) is not.
const ALL: f64 = 1e-9;

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// (median, MAD, z) of `value` against `history`, by the documented rule.
pub(crate) fn robust(value: f64, history: &[f64]) -> (f64, f64, Option<f64>) {
    let mut sorted = history.to_vec();
    sorted.sort_by(f64::total_cmp);
    let m = median(&sorted);
    let mut dev: Vec<f64> = sorted.iter().map(|v| (v - m).abs()).collect();
    let mean_ad = dev.iter().sum::<f64>() / dev.len() as f64;
    dev.sort_by(f64::total_cmp);
    let mad = median(&dev);
    let z = if mad > 0.0 {
        Some(0.6745 * (value - m) / mad)
    } else if mean_ad > 0.0 {
        Some((value - m) / (1.253_314 * mean_ad))
    } else {
        None
    };
    (m, mad, z)
}

/// (kind, date, store, value, baseline size, customer, order id) of one anomaly.
type Key = (i32, String, String, i64, i32, String, String);
/// Its baseline's median and MAD, and its score.
type Want = (Key, f64, f64, f64);

/// The filter's judged days, `[from, to)`, as the rpc resolves them.
fn judged_days(q: &Q) -> (NaiveDate, NaiveDate) {
    let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("a date");
    let cap = day(&q.as_of) + Days::new(1);
    let to = if q.to.is_empty() {
        cap
    } else {
        day(&q.to).min(cap)
    };
    let from = if q.from.is_empty() {
        to - Days::new(30)
    } else {
        day(&q.from)
    };
    (from, to)
}

fn date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn parse(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("a date")
}

/// Every listed anomaly of one kind (all pages) at the least score `ALL`.
async fn listed(
    gateway: &mut PortraitServiceClient<Channel>,
    q: &Q,
    kind: AnomalyKind,
) -> (i64, Vec<Anomaly>) {
    let mut got = Vec::new();
    let mut token = String::new();
    loop {
        let page = gateway
            .list_anomalies(ListAnomaliesRequest {
                filter: Some(q.filter()),
                kind: kind as i32,
                min_score: ALL,
                page_size: 1000,
                page_token: token,
            })
            .await
            .expect("anomalies")
            .into_inner();
        got.extend(page.anomalies);
        if page.next_page_token.is_empty() {
            return (page.total, got);
        }
        token = page.next_page_token;
    }
}

fn compare(kind: AnomalyKind, q: &Q, want: &[Want], total: i64, got: &[Anomaly]) {
    assert_eq!(total as usize, want.len(), "{kind:?} anomalies in {q:?}");
    assert_eq!(got.len(), want.len(), "{kind:?} anomalies listed in {q:?}");
    let mut by_key: BTreeMap<Key, (f64, f64, f64)> = BTreeMap::new();
    for a in got {
        assert_eq!(a.kind, kind as i32, "only the kind asked for");
        let key = (
            a.kind,
            a.date.clone(),
            a.store_id.clone(),
            a.value,
            a.baseline_days,
            a.customer_id.clone(),
            a.order_id.clone(),
        );
        by_key.insert(key, (a.baseline_median, a.baseline_mad, a.score));
    }
    assert_eq!(by_key.len(), got.len(), "each {kind:?} anomaly once");
    for (key, m, mad, z) in want {
        let (gm, gmad, gz) = by_key.get(key).copied().unwrap_or_else(|| {
            panic!("{key:?} missing from the answer for {q:?}");
        });
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1.0);
        assert!(
            close(gm, *m) && close(gmad, *mad),
            "{key:?}: {gm} {gmad} vs {m} {mad}"
        );
        assert!(
            (gz - z).abs() <= 1e-9 * z.abs().max(1.0),
            "{key:?}: {gz} vs {z}"
        );
    }
    // Largest |score| first.
    assert!(got.windows(2).all(|w| w[0].score.abs() >= w[1].score.abs()));
}

pub(crate) async fn assert_anomalies(
    gateway: &mut PortraitServiceClient<Channel>,
    oracle: &Oracle,
    q: &Q,
) {
    let (from, to) = judged_days(q);
    let sql = format!(
        "SELECT store_id, day::text, COUNT(*), SUM(amount)::bigint FROM raw WHERE {IN_STORES} \
         AND day < $4::date GROUP BY store_id, day ORDER BY store_id, day"
    );
    let rows = sqlx::query(&sql)
        .bind(q.stores.clone())
        .bind(q.cities.clone())
        .bind(q.from.clone())
        .bind(date(to))
        .fetch_all(&oracle.pool)
        .await
        .expect("store days");
    let mut stores: BTreeMap<String, BTreeMap<NaiveDate, (i64, i64)>> = BTreeMap::new();
    for r in &rows {
        let (store, d, n, s): (String, String, i64, i64) = (r.get(0), r.get(1), r.get(2), r.get(3));
        stores.entry(store).or_default().insert(parse(&d), (n, s));
    }
    let mut everything = 0;
    for (kind, pick) in [
        (AnomalyKind::StoreOrders, 0_usize),
        (AnomalyKind::StoreRevenue, 1),
    ] {
        let mut want: Vec<Want> = Vec::new();
        for (store, days) in &stores {
            let Some(first) = days.keys().next().copied() else {
                continue;
            };
            let value = |d: NaiveDate| {
                days.get(&d)
                    .map_or(0, |(n, s)| if pick == 0 { *n } else { *s })
            };
            let mut d = from.max(first);
            while d < to {
                let base_from = (d - Days::new(28)).max(first);
                let history: Vec<f64> = base_from
                    .iter_days()
                    .take_while(|x| *x < d)
                    .map(|x| value(x) as f64)
                    .collect();
                if history.len() >= 14 {
                    let v = value(d);
                    if let (m, mad, Some(z)) = robust(v as f64, &history)
                        && z.abs() >= ALL
                    {
                        let n = history.len() as i32;
                        let key = (
                            kind as i32,
                            date(d),
                            store.clone(),
                            v,
                            n,
                            "".into(),
                            "".into(),
                        );
                        want.push((key, m, mad, z));
                    }
                }
                d = d + Days::new(1);
            }
        }
        assert!(
            !want.is_empty(),
            "no judged day in {q:?}: the test would prove nothing"
        );
        let (total, got) = listed(gateway, q, kind).await;
        compare(kind, q, &want, total, &got);
        everything += want.len();
    }

    let want = unusual_orders(oracle, q, from, to).await;
    let (total, got) = listed(gateway, q, AnomalyKind::CustomerOrder).await;
    compare(AnomalyKind::CustomerOrder, q, &want, total, &got);
    for a in &got {
        let masked = &a.masked_customer_id;
        assert!(masked.contains('*') && *masked != a.customer_id, "{a:?}");
    }
    everything += want.len();

    // The refund rate, where the test sent the refunds (not the sync's tests).
    if let Some(want) = refunds::refund_rates(oracle, q, from, to).await {
        let (total, got) = listed(gateway, q, AnomalyKind::RefundRate).await;
        compare(AnomalyKind::RefundRate, q, &want, total, &got);
        everything += want.len();
        let (total, _) = listed(gateway, q, AnomalyKind::Unspecified).await;
        assert_eq!(total as usize, everything, "every kind together in {q:?}");
    }
}

/// Each known customer's orders inside the judged days against their other
/// orders there: at least 5 others, as the customer portrait judges them.
async fn unusual_orders(oracle: &Oracle, q: &Q, from: NaiveDate, to: NaiveDate) -> Vec<Want> {
    let sql = format!(
        "SELECT customer_id, order_id, day::text, store_id, amount FROM raw \
         WHERE customer_id <> '' AND {IN_STORES} AND day >= $3::date AND day < $4::date \
         ORDER BY customer_id, order_id"
    );
    let rows = sqlx::query(&sql)
        .bind(q.stores.clone())
        .bind(q.cities.clone())
        .bind(date(from))
        .bind(date(to))
        .fetch_all(&oracle.pool)
        .await
        .expect("customer orders");
    let mut customers: BTreeMap<String, Vec<(String, String, String, i64)>> = BTreeMap::new();
    for r in &rows {
        let c: String = r.get(0);
        customers
            .entry(c)
            .or_default()
            .push((r.get(1), r.get(2), r.get(3), r.get(4)));
    }
    let mut want = Vec::new();
    for (customer, orders) in &customers {
        if orders.len() < 6 {
            continue;
        }
        for (i, (id, day, store, amount)) in orders.iter().enumerate() {
            let others: Vec<f64> = (orders.iter().enumerate())
                .filter(|(j, _)| *j != i)
                .map(|(_, o)| o.3 as f64)
                .collect();
            if let (m, mad, Some(z)) = robust(*amount as f64, &others)
                && z.abs() >= ALL
            {
                let n = others.len() as i32;
                let kind = AnomalyKind::CustomerOrder as i32;
                let (c, id) = (customer.clone(), id.clone());
                let key = (kind, day.clone(), store.clone(), *amount, n, c, id);
                want.push((key, m, mad, z));
            }
        }
    }
    want
}
