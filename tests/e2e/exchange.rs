//! Figures that cross services, through the gateway: the suggest service's
//! customer list filtered by the profiler's clusters and main channels, and
//! the profiler's summary averaging the suggest service's predicted CLV. Run
//! after a recompute and a refit, so the borrowed generation must arrive.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{
    Channel as Ch, CustomerOrder, Filter, GetClustersRequest, GetModelFitRequest,
    ListCustomersRequest, PortraitSummaryRequest, SummaryDimension,
};
use sqlx::Row;
use tonic::transport::Channel;

use crate::list::all_pages;
use crate::oracle::{Oracle, Q};

/// Polls `ready` until it holds; the followers poll every exchange.poll_ms.
async fn wait_for<F: std::future::Future<Output = bool>>(what: &str, mut ready: impl FnMut() -> F) {
    let start = Instant::now();
    while !ready().await {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "{what} never arrived"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

pub(crate) async fn assert_exchange(
    gateway: &mut PortraitServiceClient<Channel>,
    oracle: &Oracle,
    as_of: &str,
    clustered: &[(String, usize)],
) {
    let filter = Filter {
        as_of_date: as_of.into(),
        ..Filter::default()
    };
    let base = ListCustomersRequest {
        filter: Some(filter.clone()),
        order_by: CustomerOrder::CustomerId as i32,
        ..Default::default()
    };
    let clusters = gateway
        .get_clusters(GetClustersRequest {})
        .await
        .expect("clusters")
        .into_inner();
    assert!(!clusters.generation.is_empty(), "{clusters:?}");
    let g = gateway.clone();
    wait_for("the clusters at the suggest service", || {
        let (mut g, base, want) = (g.clone(), base.clone(), clusters.generation.clone());
        async move {
            let page = g
                .list_customers(base)
                .await
                .expect("customers")
                .into_inner();
            page.labels_generation == want
        }
    })
    .await;

    // Each cluster's customers: the oracle's k-means labels (clusters.rs).
    let mut want: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    for (id, label) in clustered {
        want.entry(*label).or_default().push(id);
    }
    for (label, ids) in &want {
        let got = all_pages(
            gateway,
            ListCustomersRequest {
                cluster: *label as i32,
                ..base.clone()
            },
        )
        .await;
        let got: Vec<&str> = got.iter().map(|c| c.customer_id.as_str()).collect();
        assert_eq!(&got, ids, "cluster {label}");
    }

    // Main channels: the most orders of each customer up to as_of; ties go
    // to the lower channel number.
    let rows = sqlx::query(
        "SELECT DISTINCT ON (customer_id) customer_id, channel FROM raw \
         WHERE customer_id <> '' AND day <= $1::date GROUP BY customer_id, channel \
         ORDER BY customer_id, COUNT(*) DESC, channel",
    )
    .bind(as_of)
    .fetch_all(&oracle.pool)
    .await
    .expect("main channels");
    let main: BTreeMap<String, i32> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let everyone = all_pages(gateway, base.clone()).await;
    for item in &everyone {
        let want = main.get(&item.customer_id).copied().unwrap_or(0);
        assert_eq!(
            item.main_channel, want,
            "main channel of {}",
            item.customer_id
        );
    }
    let mut channels_seen = 0;
    for ch in [Ch::WechatMini, Ch::Pos, Ch::Meituan, Ch::Eleme, Ch::Douyin] {
        let got = all_pages(
            gateway,
            ListCustomersRequest {
                main_channel: ch as i32,
                ..base.clone()
            },
        )
        .await;
        let got: Vec<&str> = got.iter().map(|c| c.customer_id.as_str()).collect();
        let want: Vec<&str> = (everyone.iter())
            .filter(|c| main.get(&c.customer_id) == Some(&(ch as i32)))
            .map(|c| c.customer_id.as_str())
            .collect();
        channels_seen += usize::from(!want.is_empty());
        assert_eq!(got, want, "main channel {ch:?}");
    }
    assert!(channels_seen >= 1, "no customer has a main channel");

    assert_predicted_clv(gateway, oracle, as_of, &everyone).await;
}

/// The summary by city: each group's mean predicted CLV over its scored
/// customers, the scores being the suggest service's (list.rs checks them
/// against its one-customer answers, models.rs those against the oracle).
async fn assert_predicted_clv(
    gateway: &mut PortraitServiceClient<Channel>,
    oracle: &Oracle,
    as_of: &str,
    everyone: &[portrait_proto::v1::CustomerListItem],
) {
    let fit = gateway
        .get_model_fit(GetModelFitRequest {})
        .await
        .expect("fit")
        .into_inner();
    let as_of = as_of.to_owned();
    let request = PortraitSummaryRequest {
        filter: Some(Filter {
            as_of_date: as_of.clone(),
            ..Filter::default()
        }),
        dimension: SummaryDimension::City as i32,
    };
    let g = gateway.clone();
    wait_for("the scores at the profiler", || {
        let (mut g, request, want) = (g.clone(), request.clone(), fit.generation.clone());
        async move {
            let s = g.get_portrait_summary(request).await.expect("summary");
            s.into_inner().scores_generation == want
        }
    })
    .await;
    let summary = gateway
        .get_portrait_summary(request)
        .await
        .expect("summary")
        .into_inner();
    let clv: BTreeMap<&str, f64> = (everyone.iter())
        .filter(|c| c.scored)
        .map(|c| (c.customer_id.as_str(), c.predicted_clv_fen))
        .collect();
    let q = Q {
        as_of,
        ..Q::default()
    };
    let sql = format!(
        "SELECT DISTINCT city, customer_id FROM raw WHERE customer_id <> '' AND {} AND {}",
        crate::oracle::IN_STORES,
        crate::oracle::BEFORE_END
    );
    let mut members: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in Oracle::query(&sql, &q)
        .fetch_all(&oracle.pool)
        .await
        .expect("cities")
    {
        members.entry(r.get(0)).or_default().insert(r.get(1));
    }
    let all: BTreeSet<String> = members.values().flatten().cloned().collect();
    // A store without a city is in the group keyed "": the total is apart.
    let groups = summary.groups.iter().map(|g| (Some(g.key.clone()), g));
    let total = summary.total.as_ref().map(|t| (None, t));
    let mut scored_anywhere = 0;
    for (key, got) in groups.chain(total) {
        let ids = match &key {
            Some(city) => &members[city],
            None => &all,
        };
        let values: Vec<f64> = ids
            .iter()
            .filter_map(|c| clv.get(c.as_str()).copied())
            .collect();
        assert_eq!(
            got.scored_customers,
            values.len() as i64,
            "scored in {key:?}"
        );
        let mean = if values.is_empty() {
            0.0
        } else {
            values.iter().sum::<f64>() / values.len() as f64
        };
        let tolerance = 1e-9 * mean.abs().max(1.0);
        assert!(
            (got.mean_predicted_clv_fen - mean).abs() <= tolerance,
            "mean predicted CLV of {key:?}: {} vs {mean}",
            got.mean_predicted_clv_fen
        );
        scored_anywhere += values.len();
    }
    if fit.generation.is_empty() {
        assert_eq!(scored_anywhere, 0);
    }
}
