//! Customer clusters through the gateway: the features recomputed by SQL over
//! the raw accepted orders, clustered by the models crate with the settings
//! the profiler documents, must give the same k, silhouette, sizes and labels.

use std::collections::BTreeMap;

use portrait_models::kmeans::{CustomerFeatures, Settings, segment};
use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{
    ClusterStatus, Filter, GetCustomerRequest, PortraitSummaryRequest, RecomputeClustersRequest,
    SummaryDimension,
};
use sqlx::Row;
use tonic::transport::Channel;

use crate::oracle::Oracle;

/// (customer, features) in id byte order, as of `as_of`.
async fn features(oracle: &Oracle, as_of: &str) -> Vec<(String, CustomerFeatures)> {
    let top: Vec<String> = sqlx::query(
        "SELECT l.category_id FROM raw_lines l JOIN raw USING (order_id) \
         WHERE customer_id <> '' AND day <= $1::date GROUP BY 1 ORDER BY SUM(l.amount) DESC, 1 LIMIT 6",
    )
    .bind(as_of)
    .fetch_all(&oracle.pool)
    .await
    .expect("top categories")
    .iter()
    .map(|r| r.get(0))
    .collect();
    let rows = sqlx::query(
        "SELECT customer_id, COUNT(*), SUM(amount)::bigint, ($1::date - MAX(day))::bigint, \
           COUNT(*) FILTER (WHERE channel = 1), COUNT(*) FILTER (WHERE channel = 2), \
           COUNT(*) FILTER (WHERE channel = 3), COUNT(*) FILTER (WHERE channel = 4), \
           COUNT(*) FILTER (WHERE channel = 5), \
           COUNT(*) FILTER (WHERE hour >= 6 AND hour < 10), COUNT(*) FILTER (WHERE hour >= 10 AND hour < 14), \
           COUNT(*) FILTER (WHERE hour >= 14 AND hour < 17), COUNT(*) FILTER (WHERE hour >= 17 AND hour < 21), \
           COUNT(*) FILTER (WHERE hour < 6 OR hour >= 21) \
         FROM raw WHERE customer_id <> '' AND day <= $1::date GROUP BY customer_id",
    )
    .bind(as_of)
    .fetch_all(&oracle.pool)
    .await
    .expect("habits");
    let spend = sqlx::query(
        "SELECT customer_id, l.category_id, SUM(l.amount)::bigint FROM raw_lines l JOIN raw USING (order_id) \
         WHERE customer_id <> '' AND day <= $1::date GROUP BY 1, 2",
    )
    .bind(as_of)
    .fetch_all(&oracle.pool)
    .await
    .expect("category spend");
    let mut lines: BTreeMap<String, (i64, Vec<i64>)> = BTreeMap::new();
    for r in &spend {
        let (c, k, s): (String, String, i64) = (r.get(0), r.get(1), r.get(2));
        let e = lines.entry(c).or_insert((0, vec![0; top.len()]));
        e.0 += s;
        if let Some(i) = top.iter().position(|t| *t == k) {
            e.1[i] += s;
        }
    }
    let mut out: Vec<(String, CustomerFeatures)> = rows
        .iter()
        .map(|r| {
            let id: String = r.get(0);
            let n: i64 = r.get(1);
            let share = |a: i64, b: i64| if b > 0 { a as f64 / b as f64 } else { 0.0 };
            let mut extra: Vec<f64> = (4..14).map(|i| share(r.get::<i64, _>(i), n)).collect();
            let (total, cats) = lines.get(&id).cloned().unwrap_or((0, vec![0; top.len()]));
            extra.extend(cats.iter().map(|c| share(*c, total)));
            extra.resize(16, 0.0);
            let f = CustomerFeatures {
                recency: r.get::<i64, _>(3) as f64,
                frequency: n as f64,
                monetary: r.get::<i64, _>(2) as f64,
                extra,
            };
            (id, f)
        })
        .collect();
    out.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    out
}

pub(crate) async fn assert_clusters(
    gateway: &mut PortraitServiceClient<Channel>,
    oracle: &Oracle,
    as_of: &str,
) -> Vec<(String, usize)> {
    let got = gateway
        .recompute_clusters(RecomputeClustersRequest {
            as_of_date: as_of.into(),
        })
        .await
        .expect("clusters")
        .into_inner();
    assert_eq!(got.status, ClusterStatus::Computed as i32, "{got:?}");
    let customers = features(oracle, as_of).await;
    assert!(customers.len() <= 20_000, "the e2e chain is not sampled");
    let points: Vec<CustomerFeatures> = customers.iter().map(|(_, f)| f.clone()).collect();
    // The profiler's documented settings.
    let settings = Settings {
        seed: 7,
        restarts: 3,
        max_iterations: 100,
        silhouette_sample: 3000,
    };
    let want = segment(&points, 2..=6, &settings).expect("a segmentation");
    assert_eq!(got.customers, customers.len() as i64);
    assert_eq!(got.k as usize, want.k, "k");
    assert_eq!(got.silhouette, want.silhouette, "silhouette");
    let sizes: Vec<i64> = got.clusters.iter().map(|c| c.customers).collect();
    let want_sizes: Vec<i64> = want.segments.iter().map(|s| s.size as i64).collect();
    assert_eq!(sizes, want_sizes, "cluster sizes");
    for (c, s) in got.clusters.iter().zip(&want.segments) {
        assert!((c.orders - s.frequency).abs() <= 1e-9 * s.frequency.max(1.0));
        assert!(!c.description.is_empty());
    }
    // The summary by cluster: every clustered customer is active as of the
    // clusters' day, so each group is its cluster.
    let by_cluster = gateway
        .get_portrait_summary(PortraitSummaryRequest {
            filter: Some(Filter {
                as_of_date: as_of.into(),
                ..Filter::default()
            }),
            dimension: SummaryDimension::Cluster as i32,
        })
        .await
        .expect("summary by cluster")
        .into_inner();
    let mut got: Vec<(String, i64)> = (by_cluster.groups.iter())
        .map(|g| (g.key.clone(), g.customers))
        .collect();
    got.sort();
    let mut sizes: Vec<(String, i64)> = (want.segments.iter().enumerate())
        .map(|(j, s)| ((j + 1).to_string(), s.size as i64))
        .collect();
    sizes.sort();
    assert_eq!(got, sizes, "summary by cluster");
    for (i, (id, _)) in customers
        .iter()
        .enumerate()
        .step_by(customers.len() / 7 + 1)
    {
        let profile = gateway
            .get_customer(GetCustomerRequest {
                customer_id: id.clone(),
                filter: None,
            })
            .await
            .expect("customer")
            .into_inner();
        let b = profile.behaviour.expect("behaviour");
        assert_eq!(b.cluster as usize, want.labels[i] + 1, "cluster of {id}");
    }
    (customers.into_iter().zip(&want.labels))
        .map(|((id, _), l)| (id, l + 1))
        .collect()
}
