//! The refund rate's oracle: the refunds the test sent (each order's latest
//! submitted version, when REFUNDED) beside the raw accepted orders, and a
//! wave of refunds on one store and day that must be flagged.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Days, NaiveDate};
use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{AnomalyKind, ListAnomaliesRequest, Order, OrderStatus};
use sqlx::Row;
use tonic::transport::Channel;

use super::{Want, date, parse, robust};
use crate::oracle::{IN_STORES, Oracle, Q};

/// The day of the wave, inside the first and second filters of the scenario.
pub(crate) const WAVE_DAY: &str = "2025-04-10";
/// A refund on this many days before the wave too, so that the store's
/// baseline has some spread (no spread at all judges nothing).
const EARLIER: [u64; 2] = [3, 11];

fn local_day(placed_at_ms: i64) -> NaiveDate {
    // Asia/Shanghai has no daylight saving: a fixed offset is exact.
    let t =
        chrono::DateTime::from_timestamp_millis(placed_at_ms + 8 * 3_600_000).expect("an instant");
    t.date_naive()
}

/// The scenario's stream with refunds added: three of every four paid orders
/// of the first order's store on `WAVE_DAY`, and one order of that store on
/// each `EARLIER` day. Each refund follows its order's last version in the
/// stream, so any prefix that holds a refund holds what it refunds.
pub(crate) fn refund_wave(mut orders: Vec<Order>) -> Vec<Order> {
    let Some(store) = orders.first().map(|o| o.store_id.clone()) else {
        return orders;
    };
    let mut last: BTreeMap<String, usize> = BTreeMap::new();
    for (i, o) in orders.iter().enumerate() {
        last.insert(o.order_id.clone(), i);
    }
    let wave = parse(WAVE_DAY);
    let mut picked: Vec<usize> = Vec::new();
    let mut on_day = |day: NaiveDate, every: usize, keep: usize| {
        let mut ids: Vec<usize> = (last.values().copied())
            .filter(|&i| {
                let o = &orders[i];
                o.store_id == store
                    && o.status == OrderStatus::Paid as i32
                    && local_day(o.placed_at_ms) == day
            })
            .collect();
        ids.sort_unstable();
        let chosen: Vec<usize> = (ids.iter().enumerate())
            .filter(|(n, _)| n % every != 0 || every == 1)
            .map(|(_, i)| *i)
            .take(keep)
            .collect();
        picked.extend(chosen);
    };
    on_day(wave, 4, usize::MAX);
    for back in EARLIER {
        on_day(wave - Days::new(back), 1, 1);
    }
    picked.sort_unstable();
    for i in picked.into_iter().rev() {
        let refund = Order {
            status: OrderStatus::Refunded as i32,
            ..orders[i].clone()
        };
        orders.insert(i + 1, refund);
    }
    orders
}

/// Loads the refunds among `submitted` (each order's latest version, when
/// refunded) next to the raw accepted orders.
pub(crate) async fn load_refunds(oracle: &Oracle, submitted: &[Order]) {
    let pool = &oracle.pool;
    for ddl in [
        "CREATE TABLE IF NOT EXISTS raw_refund_orders (order_id TEXT PRIMARY KEY, store_id TEXT NOT NULL, \
         city TEXT NOT NULL, placed_at_ms BIGINT NOT NULL)",
        "CREATE OR REPLACE VIEW raw_refunds AS SELECT *, \
         (to_timestamp(placed_at_ms / 1000.0) AT TIME ZONE 'Asia/Shanghai')::date AS day FROM raw_refund_orders",
        "TRUNCATE raw_refund_orders",
    ] {
        sqlx::query(ddl).execute(pool).await.expect("refund table");
    }
    let mut latest: BTreeMap<&str, &Order> = BTreeMap::new();
    for o in submitted {
        latest.insert(&o.order_id, o);
    }
    for o in latest.values() {
        if o.status == OrderStatus::Refunded as i32 {
            sqlx::query("INSERT INTO raw_refund_orders VALUES ($1, $2, $3, $4)")
                .bind(&o.order_id)
                .bind(&o.store_id)
                .bind(&o.city)
                .bind(o.placed_at_ms)
                .execute(pool)
                .await
                .expect("insert refund");
        }
    }
}

/// The refund-rate anomalies by their definition, or `None` when the test
/// loaded no refunds (`load_refunds` was not called).
pub(super) async fn refund_rates(
    oracle: &Oracle,
    q: &Q,
    from: NaiveDate,
    to: NaiveDate,
) -> Option<Vec<Want>> {
    let exists: Option<String> = sqlx::query_scalar("SELECT to_regclass('raw_refunds')::text")
        .fetch_one(&oracle.pool)
        .await
        .expect("refund table look-up");
    exists?;
    let sql = format!(
        "WITH paid AS (SELECT store_id, day, COUNT(*) AS n FROM raw WHERE {IN_STORES} \
         AND day < $4::date GROUP BY store_id, day), \
         refunded AS (SELECT store_id, day, COUNT(*) AS n FROM raw_refunds WHERE {IN_STORES} \
         AND day < $4::date GROUP BY store_id, day) \
         SELECT store_id, day::text, COALESCE(paid.n, 0), COALESCE(refunded.n, 0) \
         FROM paid FULL JOIN refunded USING (store_id, day)"
    );
    let rows = sqlx::query(&sql)
        .bind(q.stores.clone())
        .bind(q.cities.clone())
        .bind(date(from))
        .bind(date(to))
        .fetch_all(&oracle.pool)
        .await
        .expect("refund days");
    let mut stores: BTreeMap<String, BTreeMap<NaiveDate, (i64, i64)>> = BTreeMap::new();
    for r in &rows {
        let (store, d, paid, refunded): (String, String, i64, i64) =
            (r.get(0), r.get(1), r.get(2), r.get(3));
        stores
            .entry(store)
            .or_default()
            .insert(parse(&d), (paid + refunded, refunded));
    }
    let rate = |(n, r): (i64, i64)| r as f64 / n as f64;
    let mut want = Vec::new();
    for (store, days) in &stores {
        for (d, counts) in days.range(from..to) {
            let base: Vec<f64> = (days.range(*d - Days::new(28)..*d))
                .map(|(_, c)| rate(*c))
                .collect();
            if base.len() < 14 {
                continue;
            }
            if let (m, mad, Some(z)) = robust(rate(*counts), &base)
                && z.abs() >= super::ALL
            {
                let kind = AnomalyKind::RefundRate as i32;
                let n = base.len() as i32;
                let key = (
                    kind,
                    date(*d),
                    store.clone(),
                    counts.1,
                    n,
                    "".into(),
                    "".into(),
                );
                want.push((key, m, mad, z));
            }
        }
    }
    Some(want)
}

/// The wave of `refund_wave` is listed at the default least score.
pub(crate) async fn assert_refund_wave_flagged(
    gateway: &mut PortraitServiceClient<Channel>,
    orders: &[Order],
    as_of: &str,
) {
    let store = orders
        .first()
        .map(|o| o.store_id.clone())
        .unwrap_or_default();
    let page = gateway
        .list_anomalies(ListAnomaliesRequest {
            filter: Some(portrait_proto::v1::Filter {
                store_ids: vec![store.clone()],
                as_of_date: as_of.to_owned(),
                ..Default::default()
            }),
            kind: AnomalyKind::RefundRate as i32,
            ..Default::default()
        })
        .await
        .expect("refund-rate anomalies")
        .into_inner();
    let days: BTreeSet<&str> = page.anomalies.iter().map(|a| a.date.as_str()).collect();
    assert!(
        days.contains(WAVE_DAY),
        "the refund wave at {store} on {WAVE_DAY} is flagged: {page:?}"
    );
}
