//! Store-day anomalies through the gateway against a recount: the stores'
//! daily orders and revenue by SQL over the raw accepted orders, the median,
//! MAD and robust z written out again here from their definitions.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{AnomalyKind, ListAnomaliesRequest};
use sqlx::Row;
use tonic::transport::Channel;

use crate::oracle::{IN_STORES, Oracle, Q};

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

type Row5 = (i32, String, String, i64, i32);

pub(crate) async fn assert_anomalies(
    gateway: &mut PortraitServiceClient<Channel>,
    oracle: &Oracle,
    q: &Q,
) {
    let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("a date");
    let as_of = day(&q.as_of);
    let cap = as_of + Days::new(1);
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
    let sql = format!(
        "SELECT store_id, day::text, COUNT(*), SUM(amount)::bigint FROM raw WHERE {IN_STORES} \
         AND day < $4::date GROUP BY store_id, day ORDER BY store_id, day"
    );
    let rows = sqlx::query(&sql)
        .bind(q.stores.clone())
        .bind(q.cities.clone())
        .bind(q.from.clone())
        .bind(to.format("%Y-%m-%d").to_string())
        .fetch_all(&oracle.pool)
        .await
        .expect("store days");
    let mut stores: BTreeMap<String, BTreeMap<NaiveDate, (i64, i64)>> = BTreeMap::new();
    for r in &rows {
        let (store, d, n, s): (String, String, i64, i64) = (r.get(0), r.get(1), r.get(2), r.get(3));
        stores.entry(store).or_default().insert(day(&d), (n, s));
    }
    let mut want: Vec<(Row5, f64, f64, f64)> = Vec::new();
    for (store, days) in &stores {
        let Some(first) = days.keys().next().copied() else {
            continue;
        };
        for (kind, pick) in [
            (AnomalyKind::StoreOrders, 0_usize),
            (AnomalyKind::StoreRevenue, 1),
        ] {
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
                        let key = (
                            kind as i32,
                            d.format("%Y-%m-%d").to_string(),
                            store.clone(),
                            v,
                            history.len() as i32,
                        );
                        want.push((key, m, mad, z));
                    }
                }
                d = d + Days::new(1);
            }
        }
    }
    assert!(
        !want.is_empty(),
        "no judged day in {q:?}: the test would prove nothing"
    );

    let mut got = Vec::new();
    let mut token = String::new();
    loop {
        let page = gateway
            .list_anomalies(ListAnomaliesRequest {
                filter: Some(q.filter()),
                min_score: ALL,
                page_size: 1000,
                page_token: token,
                ..Default::default()
            })
            .await
            .expect("anomalies")
            .into_inner();
        assert_eq!(page.total as usize, want.len(), "anomalies in {q:?}");
        got.extend(page.anomalies);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let mut by_key: BTreeMap<Row5, (f64, f64, f64)> = BTreeMap::new();
    for a in &got {
        let key = (
            a.kind,
            a.date.clone(),
            a.store_id.clone(),
            a.value,
            a.baseline_days,
        );
        by_key.insert(key, (a.baseline_median, a.baseline_mad, a.score));
    }
    assert_eq!(by_key.len(), got.len(), "each store-day once per kind");
    for (key, m, mad, z) in &want {
        let (gm, gmad, gz) = by_key.get(key).copied().unwrap_or_else(|| {
            panic!("{key:?} missing from the answer for {q:?}");
        });
        assert_eq!((gm, gmad), (*m, *mad), "{key:?}");
        assert!(
            (gz - z).abs() <= 1e-9 * z.abs().max(1.0),
            "{key:?}: {gz} vs {z}"
        );
    }
    // Largest |score| first.
    assert!(got.windows(2).all(|w| w[0].score.abs() >= w[1].score.abs()));
}
