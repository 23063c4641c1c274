//! The suggestions against the oracle's SQL: every segment strategy, the
//! win-back and the second-purchase nurture have exactly the audiences the
//! RFM rows say (their size, spend and members), and a churn warning's
//! audience only customers the churn rule warns (its P(alive) part is
//! checked against the models in `suggestions_live`).

use std::collections::{BTreeMap, BTreeSet};

use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{
    ListSuggestionAudienceRequest, ListSuggestionsRequest, Segment, Suggestion, SuggestionType,
};
use tonic::transport::Channel;

use crate::oracle::{Oracle, Q, RfmRow};

async fn members(
    gateway: &mut PortraitServiceClient<Channel>,
    s: &Suggestion,
    q: &Q,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let page = gateway
            .list_suggestion_audience(ListSuggestionAudienceRequest {
                suggestion_id: s.id.clone(),
                filter: Some(q.filter()),
                page_size: 500,
                page_token: token,
            })
            .await
            .expect("audience")
            .into_inner();
        out.extend(page.customers.into_iter().map(|c| c.customer_id));
        if page.next_page_token.is_empty() {
            return out;
        }
        token = page.next_page_token;
    }
}

fn figure(s: &Suggestion, key: &str) -> f64 {
    (s.figures.iter().find(|f| f.key == key))
        .unwrap_or_else(|| panic!("{key} in {s:?}"))
        .value
}

pub(crate) async fn assert_suggestions(
    gateway: &mut PortraitServiceClient<Channel>,
    oracle: &Oracle,
    q: &Q,
) {
    let rfm = oracle.rfm(q).await;
    let churn: BTreeSet<String> = oracle.churn(q).await.into_iter().map(|c| c.0).collect();
    let got = gateway
        .list_suggestions(ListSuggestionsRequest {
            filter: Some(q.filter()),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("suggestions")
        .into_inner();
    let of = |kind: SuggestionType, key: &str| {
        (got.suggestions.iter()).find(|s| s.r#type() == kind && s.audience_key == key)
    };
    // Each group: the suggestion exactly when it has customers, with their
    // count, spend and (spend first, then id) members.
    let mut groups: Vec<(SuggestionType, String, Vec<&RfmRow>)> = Vec::new();
    let mut by_segment: BTreeMap<i32, Vec<&RfmRow>> = BTreeMap::new();
    for r in &rfm {
        by_segment.entry(r.segment).or_default().push(r);
    }
    for s in 1..=8 {
        let name = Segment::try_from(s)
            .expect("a segment")
            .as_str_name()
            .to_owned();
        let rows = by_segment.get(&s).cloned().unwrap_or_default();
        groups.push((SuggestionType::SegmentStrategy, name, rows));
    }
    let lapsed = (rfm.iter())
        .filter(|r| {
            [
                Segment::ImportantKeep as i32,
                Segment::ImportantWinBack as i32,
            ]
            .contains(&r.segment)
                && r.recency >= 60
        })
        .collect();
    groups.push((SuggestionType::WinBack, "all".into(), lapsed));
    let new = (rfm.iter())
        .filter(|r| r.frequency == 1 && r.recency <= 30)
        .collect();
    groups.push((SuggestionType::SecondPurchase, "all".into(), new));
    for (kind, key, mut rows) in groups {
        let what = format!("{} {key} for {q:?}", kind.as_str_name());
        let Some(s) = of(kind, &key) else {
            assert!(rows.is_empty(), "{what}: missing");
            continue;
        };
        assert!(!rows.is_empty(), "{what}: fired without an audience");
        rows.sort_by(|a, b| {
            b.monetary
                .cmp(&a.monetary)
                .then(a.customer_id.cmp(&b.customer_id))
        });
        assert_eq!(s.audience_size, rows.len() as i64, "{what}");
        let spend: i64 = rows.iter().map(|r| r.monetary).sum();
        assert_eq!(figure(s, "spend_fen"), spend as f64, "{what}: spend");
        let want: Vec<&str> = rows.iter().map(|r| r.customer_id.as_str()).collect();
        assert_eq!(members(gateway, s, q).await, want, "{what}: members");
    }
    if let Some(s) = of(SuggestionType::ChurnWarning, "all") {
        for m in members(gateway, s, q).await {
            assert!(
                churn.contains(&m),
                "{m} warned without the churn rule for {q:?}"
            );
        }
    }
}
