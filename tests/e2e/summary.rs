//! The portrait summary by city and by store through the gateway against SQL
//! over the raw accepted orders.

use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{PortraitSummaryRequest, SummaryDimension, SummaryGroup};
use sqlx::Row;
use tonic::transport::Channel;

use crate::oracle::{BEFORE_END, FROM, IN_STORES, Oracle, Q};

/// (key, customers, orders, revenue, recency sum, spend before the end) per
/// group of `by` (a column of `raw`, or a constant for the total).
async fn groups(oracle: &Oracle, q: &Q, by: &str) -> Vec<(String, i64, i64, i64, i64, i64)> {
    let known = format!("customer_id <> '' AND {IN_STORES} AND {BEFORE_END}");
    let sql = format!(
        "WITH per AS (SELECT {by} AS g, customer_id, COUNT(*) AS o, SUM(amount) AS r, MAX(day) AS last \
           FROM raw WHERE {known} AND {FROM} GROUP BY 1, 2), \
         before AS (SELECT {by} AS g, customer_id, SUM(amount) AS s FROM raw WHERE {known} GROUP BY 1, 2) \
         SELECT per.g, COUNT(*), SUM(o)::bigint, SUM(r)::bigint, SUM($5::date - last)::bigint, \
           SUM(before.s)::bigint FROM per JOIN before USING (g, customer_id) \
         GROUP BY per.g ORDER BY COUNT(*) DESC, per.g"
    );
    Oracle::query(&sql, q)
        .fetch_all(&oracle.pool)
        .await
        .expect("summary")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
        .collect()
}

fn figures(g: &SummaryGroup) -> (String, i64, i64, i64, f64, f64, f64, f64) {
    (
        g.key.clone(),
        g.customers,
        g.orders,
        g.revenue_fen,
        g.average_order_value_fen,
        g.orders_per_customer,
        g.mean_recency_days,
        g.mean_historical_clv_fen,
    )
}

fn expected(
    row: &(String, i64, i64, i64, i64, i64),
) -> (String, i64, i64, i64, f64, f64, f64, f64) {
    let (key, n, o, r, recency, before) = row.clone();
    let ratio = |a: i64, b: i64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    (
        key,
        n,
        o,
        r,
        ratio(r, o),
        ratio(o, n),
        ratio(recency, n),
        ratio(before, n),
    )
}

pub(crate) async fn assert_summary(
    gateway: &mut PortraitServiceClient<Channel>,
    oracle: &Oracle,
    q: &Q,
) {
    let total = groups(oracle, q, "''").await;
    let all = total.first().map_or(0, |t| t.1);
    assert!(
        all > 0,
        "no customer in {q:?}: the test would prove nothing"
    );
    for (dimension, by) in [
        (SummaryDimension::City, "city"),
        (SummaryDimension::Store, "store_id"),
    ] {
        let answer = gateway
            .get_portrait_summary(PortraitSummaryRequest {
                filter: Some(q.filter()),
                dimension: dimension as i32,
            })
            .await
            .expect("summary")
            .into_inner();
        let got_total = answer.total.expect("a total");
        let mut want_total = expected(&total[0]);
        want_total.0 = String::new();
        assert_eq!(figures(&got_total), want_total, "total for {q:?}");
        let want: Vec<_> = groups(oracle, q, by).await.iter().map(expected).collect();
        let got: Vec<_> = answer.groups.iter().map(figures).collect();
        assert_eq!(got, want, "{dimension:?} for {q:?}");
        for g in &answer.groups {
            assert_eq!(g.customer_share, g.customers as f64 / all as f64);
        }
    }
    assert_by_segment(gateway, oracle, q).await;
}

/// By segment: the oracle's RFM rows grouped by segment, with each customer's
/// spend before the filter's end.
async fn assert_by_segment(gateway: &mut PortraitServiceClient<Channel>, oracle: &Oracle, q: &Q) {
    let sql = format!(
        "SELECT customer_id, SUM(amount)::bigint FROM raw WHERE customer_id <> '' AND {IN_STORES} \
         AND {BEFORE_END} GROUP BY customer_id"
    );
    let before: std::collections::BTreeMap<String, i64> = Oracle::query(&sql, q)
        .fetch_all(&oracle.pool)
        .await
        .expect("spend before the end")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let mut want: std::collections::BTreeMap<String, (String, i64, i64, i64, i64, i64)> =
        std::collections::BTreeMap::new();
    for r in oracle.rfm(q).await {
        let name = portrait_proto::v1::Segment::try_from(r.segment)
            .expect("a segment")
            .as_str_name()
            .to_owned();
        let e = want.entry(name.clone()).or_insert((name, 0, 0, 0, 0, 0));
        e.1 += 1;
        e.2 += r.frequency;
        e.3 += r.monetary;
        e.4 += r.recency;
        e.5 += before.get(&r.customer_id).copied().unwrap_or_default();
    }
    let mut want: Vec<_> = want.values().map(expected).collect();
    want.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let answer = gateway
        .get_portrait_summary(PortraitSummaryRequest {
            filter: Some(q.filter()),
            dimension: SummaryDimension::Segment as i32,
        })
        .await
        .expect("summary by segment")
        .into_inner();
    let got: Vec<_> = answer.groups.iter().map(figures).collect();
    assert_eq!(got, want, "by segment for {q:?}");
}
