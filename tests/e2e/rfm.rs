//! RFM under the settings a request can choose (median and fixed thresholds,
//! a window) and ListRfm in every order with score and segment selections,
//! walked over all pages, against the oracle's SQL. Called by `assert_figures`
//! for every filter, embedded and distributed.

use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{
    ListRfmRequest, RfmOrder, RfmSettings, RfmThresholdKind, SegmentDistributionRequest,
};
use tonic::transport::Channel;

use crate::oracle::{Oracle, Q, RfmRow, RfmRule, RfmRuleKind, RfmSort, RfmSortKey};

type Gateway = PortraitServiceClient<Channel>;

fn settings(rule: &RfmRule) -> RfmSettings {
    let (kind, fixed) = match rule.thresholds {
        RfmRuleKind::Mean => (RfmThresholdKind::Mean, None),
        RfmRuleKind::Median => (RfmThresholdKind::Median, None),
        RfmRuleKind::Fixed(r, f, m) => (RfmThresholdKind::Fixed, Some((r, f, m))),
    };
    RfmSettings {
        window_days: Some(rule.window_days),
        thresholds: kind as i32,
        fixed_recency_days: fixed.map(|x| x.0),
        fixed_frequency: fixed.map(|x| x.1),
        fixed_monetary_fen: fixed.map(|x| x.2),
    }
}

/// Every page of `request`, `page_size` at a time, as oracle rows.
async fn walk(gateway: &mut Gateway, mut request: ListRfmRequest) -> Vec<RfmRow> {
    let mut rows = Vec::new();
    loop {
        let page = gateway
            .list_rfm(request.clone())
            .await
            .expect("rfm page")
            .into_inner();
        rows.extend(page.customers.into_iter().map(RfmRow::from));
        if page.next_page_token.is_empty() {
            return rows;
        }
        request.page_token = page.next_page_token;
    }
}

pub(crate) async fn assert_rfm_settings(gateway: &mut Gateway, oracle: &Oracle, q: &Q) {
    let filter = Some(q.filter());
    // Equal to SQL on any data; on a population this large, an empty list
    // or a single segment would mean the check proves nothing.
    let everyone = oracle.rfm(q).await;
    let meaningful = everyone.len() >= 20;
    // Windows and fixed values from the data, so that on any data the
    // window cuts the population and fixed values split it.
    let third = |value: fn(&RfmRow) -> i64| {
        let mut v: Vec<i64> = everyone.iter().map(value).collect();
        v.sort_unstable();
        v.get(v.len() / 3).copied().unwrap_or(0)
    };
    let (r, f, m) = (
        third(|r| r.recency),
        third(|r| r.frequency),
        third(|r| r.monetary),
    );
    let window = |recency: i64| i32::try_from(recency + 1).unwrap_or(0);
    let rules = [
        (0, RfmRuleKind::Median),
        (0, RfmRuleKind::Fixed(r, f, m)),
        (window(r), RfmRuleKind::Mean),
        (window(third(|r| -r.recency).abs()), RfmRuleKind::Median),
    ];
    for (window_days, thresholds) in rules {
        let rule = RfmRule {
            window_days,
            thresholds,
        };
        let want = (oracle.rfm_list(q, &rule, RfmSort::default(), [&[], &[], &[]])).await;
        assert!(
            !(meaningful && want.is_empty()),
            "{rule:?} selects nobody for {q:?}"
        );
        // The whole list in id order, 89 at a time: values, scores, segments.
        let request = ListRfmRequest {
            filter: filter.clone(),
            page_size: 89,
            rfm: Some(settings(&rule)),
            ..Default::default()
        };
        assert_eq!(walk(gateway, request).await, want, "rfm {rule:?} for {q:?}");

        let got = gateway
            .get_segment_distribution(SegmentDistributionRequest {
                filter: filter.clone(),
                rfm: Some(settings(&rule)),
            })
            .await
            .expect("segments")
            .into_inner();
        let mut used = 0;
        for s in &got.segments {
            let members = want.iter().filter(|r| r.segment == s.segment);
            let (n, m) = members.fold((0, 0), |(n, m), r| (n + 1, m + r.monetary));
            used += i32::from(n > 0);
            let what = format!("segment {} under {rule:?} for {q:?}", s.label);
            assert_eq!((s.customers, s.revenue_fen), (n, m), "{what}");
        }
        assert!(
            !meaningful || used >= 2,
            "{rule:?} puts everyone in one segment for {q:?}"
        );
        let th = got.thresholds.expect("thresholds in the answer");
        let (r, f, m) = oracle.rfm_thresholds(q, &rule).await;
        assert_eq!(
            (th.kind, th.window_days),
            (settings(&rule).thresholds, window_days)
        );
        assert_eq!(
            (th.recency_days, th.frequency, th.monetary_fen),
            (r, f, m),
            "thresholds under {rule:?} for {q:?}"
        );
    }

    // Sorted and selected lists under the default settings, every page.
    let all: &[i32] = &[];
    let lists: [(RfmSortKey, bool, [&[i32]; 3], i32); 6] = [
        (RfmSortKey::Monetary, true, [all, all, all], 0),
        (RfmSortKey::Recency, false, [&[4, 5], all, all], 0),
        (RfmSortKey::Frequency, true, [all, all, all], 0),
        (RfmSortKey::Score, true, [all, &[2, 3, 4, 5], all], 0),
        (RfmSortKey::CustomerId, true, [all, all, &[1, 5]], 0),
        (
            RfmSortKey::Score,
            false,
            [all, all, all],
            busiest(&everyone),
        ),
    ];
    let mut selected = 0;
    for (key, descending, scores, segment) in lists {
        let sort = RfmSort { key, descending };
        let mut want = (oracle.rfm_list(q, &RfmRule::default(), sort, scores)).await;
        want.retain(|r| segment == 0 || r.segment == segment);
        // A score selection may select nobody on some data, never all of them.
        let unselected = scores.iter().all(|s| s.is_empty());
        assert!(
            !(meaningful && unselected && want.is_empty()),
            "{sort:?} lists nobody for {q:?}"
        );
        selected += usize::from(!unselected && !want.is_empty());
        let order_by = match key {
            RfmSortKey::CustomerId => RfmOrder::CustomerId,
            RfmSortKey::Recency => RfmOrder::Recency,
            RfmSortKey::Frequency => RfmOrder::Frequency,
            RfmSortKey::Monetary => RfmOrder::Monetary,
            RfmSortKey::Score => RfmOrder::Score,
        };
        let request = ListRfmRequest {
            filter: filter.clone(),
            page_size: 23,
            order_by: order_by as i32,
            descending,
            segment,
            r_scores: scores[0].to_vec(),
            f_scores: scores[1].to_vec(),
            m_scores: scores[2].to_vec(),
            ..Default::default()
        };
        let got = walk(gateway, request.clone()).await;
        assert_eq!(
            got, want,
            "rfm by {sort:?} {scores:?} segment {segment} for {q:?}"
        );

        // A token belongs to its request: another order refuses it, by name.
        let first = gateway.list_rfm(request.clone()).await.expect("rfm page");
        let token = first.into_inner().next_page_token;
        if token.is_empty() {
            continue;
        }
        let other = ListRfmRequest {
            descending: !descending,
            page_token: token,
            ..request
        };
        let refused = gateway.list_rfm(other).await.expect_err("a foreign token");
        assert_eq!(refused.code(), tonic::Code::InvalidArgument);
        assert!(
            refused.message().contains("page_token"),
            "{}",
            refused.message()
        );
    }
    assert!(
        !meaningful || selected > 0,
        "every score selection lists nobody for {q:?}"
    );
}

/// The segment with the most customers.
fn busiest(rows: &[RfmRow]) -> i32 {
    (1..=8)
        .max_by_key(|s| rows.iter().filter(|r| r.segment == *s).count())
        .unwrap_or(1)
}

/// The configuration's `rfm.*` is what a request without settings gets, and
/// a request's settings still override it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_settings_are_the_default_and_requests_override_them() {
    use portrait_proto::v1::ingest_service_client::IngestServiceClient;

    use crate::pipeline::{accepted, scenario, submit};
    use crate::stack::Stack;

    let Some(oracle) = Oracle::fresh().await else {
        return;
    };
    let (orders, queries) = scenario();
    let env = [
        ("PORTRAIT__RFM__WINDOW_DAYS", "40"),
        ("PORTRAIT__RFM__THRESHOLDS", "fixed"),
        ("PORTRAIT__RFM__FIXED_FREQUENCY", "3"),
        ("PORTRAIT__RFM__FIXED_MONETARY_FEN", "30000"),
    ];
    let mut stack = Stack::embedded_with(
        (env.iter())
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    stack.start_all();
    let mut ingest = IngestServiceClient::new(stack.channel("ingest").await);
    submit(&mut ingest, &orders).await;
    stack.wait_caught_up().await;
    oracle.load(&accepted(&orders)).await;
    let mut gateway = PortraitServiceClient::new(stack.channel("gateway").await);
    let q = &queries[0];
    // rfm.fixed_recency_days keeps its default, 30.
    let configured = RfmRule {
        window_days: 40,
        thresholds: RfmRuleKind::Fixed(30, 3, 30_000),
    };
    let plain = ListRfmRequest {
        filter: Some(q.filter()),
        page_size: 1000,
        ..Default::default()
    };
    let want = (oracle.rfm_list(q, &configured, RfmSort::default(), [&[], &[], &[]])).await;
    assert!(want.len() > 20, "the window keeps a population");
    assert_eq!(walk(&mut gateway, plain.clone()).await, want, "configured");
    let th = (gateway.get_segment_distribution(SegmentDistributionRequest {
        filter: Some(q.filter()),
        rfm: None,
    }))
    .await
    .expect("segments")
    .into_inner()
    .thresholds
    .expect("thresholds");
    assert_eq!(
        (th.kind, th.window_days, th.recency_days, th.frequency),
        (RfmThresholdKind::Fixed as i32, 40, 30.0, 3.0)
    );
    // Mean over all history, asked for: the default RFM of every other test.
    let asked = ListRfmRequest {
        rfm: Some(RfmSettings {
            window_days: Some(0),
            thresholds: RfmThresholdKind::Mean as i32,
            ..Default::default()
        }),
        ..plain
    };
    assert_eq!(
        walk(&mut gateway, asked).await,
        oracle.rfm(q).await,
        "asked"
    );
}
