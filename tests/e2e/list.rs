//! ListCustomers through the gateway: every page, in each order and selection,
//! against the oracle's RFM and churn recounts; the scores against the
//! suggest service's one-customer answers.

use std::cmp::Reverse;

use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{
    CustomerListItem, CustomerOrder, GetCustomerModelRequest, ListCustomersRequest,
};
use tonic::transport::Channel;

use crate::oracle::{Oracle, Q, RfmRow};

pub(crate) async fn all_pages(
    gateway: &mut PortraitServiceClient<Channel>,
    base: ListCustomersRequest,
) -> Vec<CustomerListItem> {
    let mut got = Vec::new();
    let mut token = String::new();
    loop {
        let page = gateway
            .list_customers(ListCustomersRequest {
                page_size: 37,
                page_token: token,
                ..base.clone()
            })
            .await
            .expect("customers")
            .into_inner();
        assert!(page.customers.len() <= 37);
        got.extend(page.customers);
        if page.next_page_token.is_empty() {
            assert_eq!(got.len() as i64, page.total, "total");
            break;
        }
        token = page.next_page_token;
    }
    got
}

fn ids(items: &[CustomerListItem]) -> Vec<&str> {
    items.iter().map(|c| c.customer_id.as_str()).collect()
}

pub(crate) async fn assert_customer_list(
    gateway: &mut PortraitServiceClient<Channel>,
    oracle: &Oracle,
    q: &Q,
) {
    let rfm = oracle.rfm(q).await;
    let churn = oracle.churn(q).await;
    let base = ListCustomersRequest {
        filter: Some(q.filter()),
        ..Default::default()
    };
    let sorted = |key: &dyn Fn(&RfmRow) -> i64, keep: &dyn Fn(&RfmRow) -> bool| {
        let mut rows: Vec<&RfmRow> = rfm.iter().filter(|r| keep(r)).collect();
        rows.sort_by(|a, b| key(a).cmp(&key(b)).then(a.customer_id.cmp(&b.customer_id)));
        rows.iter()
            .map(|r| r.customer_id.clone())
            .collect::<Vec<String>>()
    };

    // By spend (the default), with every figure of each row.
    let got = all_pages(gateway, base.clone()).await;
    assert_eq!(
        ids(&got),
        sorted(&|r| -r.monetary, &|_| true),
        "by spend, {q:?}"
    );
    for item in &got {
        let want = rfm
            .iter()
            .find(|r| r.customer_id == item.customer_id)
            .expect("a customer of the filter");
        assert_eq!(
            (
                item.recency_days,
                item.orders,
                item.spend_fen,
                (item.r_score, item.f_score, item.m_score),
                item.segment
            ),
            (
                want.recency,
                want.frequency,
                want.monetary,
                want.scores,
                want.segment
            ),
            "{}",
            item.customer_id
        );
        let risk = churn
            .iter()
            .find(|c| c.0 == item.customer_id)
            .map_or(0, |c| c.2);
        assert_eq!(item.risk, risk, "risk of {}", item.customer_id);
    }
    // Most recent first; fewest orders first (ascending); one segment; at risk.
    let by = |order: CustomerOrder, ascending: bool| ListCustomersRequest {
        order_by: order as i32,
        ascending,
        ..base.clone()
    };
    let got = all_pages(gateway, by(CustomerOrder::Recency, false)).await;
    assert_eq!(ids(&got), sorted(&|r| r.recency, &|_| true), "by recency");
    let got = all_pages(gateway, by(CustomerOrder::Frequency, true)).await;
    assert_eq!(
        ids(&got),
        sorted(&|r| r.frequency, &|_| true),
        "fewest orders"
    );
    let segment = rfm.first().map_or(1, |r| r.segment);
    let one = ListCustomersRequest {
        segment,
        ..base.clone()
    };
    let got = all_pages(gateway, one).await;
    let want = sorted(&|r| -r.monetary, &|r| r.segment == segment);
    assert_eq!(ids(&got), want, "segment {segment}");
    let risky = ListCustomersRequest {
        at_risk: true,
        order_by: CustomerOrder::CustomerId as i32,
        ..base.clone()
    };
    let got = all_pages(gateway, risky).await;
    let want: Vec<&str> = churn.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(ids(&got), want, "at risk");
    let prefix: String = rfm
        .first()
        .map(|r| r.customer_id.chars().take(6).collect())
        .unwrap_or_default();
    let some = ListCustomersRequest {
        id_prefix: prefix.clone(),
        order_by: CustomerOrder::CustomerId as i32,
        ..base.clone()
    };
    let got = all_pages(gateway, some).await;
    let want: Vec<&str> = (rfm.iter())
        .map(|r| r.customer_id.as_str())
        .filter(|c| c.starts_with(&prefix))
        .collect();
    assert_eq!(ids(&got), want, "prefix {prefix}");

    // By predicted CLV: the suggest service's own scores, best first.
    let got = all_pages(gateway, by(CustomerOrder::PredictedClv, false)).await;
    assert_eq!(got.len(), rfm.len());
    let keys: Vec<(Reverse<bool>, f64)> = (got.iter())
        .map(|c| (Reverse(c.scored), -c.predicted_clv_fen))
        .collect();
    assert!(
        keys.windows(2)
            .all(|w| w[0].partial_cmp(&w[1]).is_some_and(|o| o.is_le()))
    );
    for item in got.iter().take(5) {
        let model = gateway
            .get_customer_model(GetCustomerModelRequest {
                customer_id: item.customer_id.clone(),
            })
            .await
            .expect("model")
            .into_inner();
        assert_eq!(item.scored, model.fitted, "{}", item.customer_id);
        let alive = model.alive_probability;
        assert!(
            (item.alive_probability - alive).abs() <= 1e-12,
            "{}",
            item.customer_id
        );
        let clv = model.predicted_clv_fen;
        assert!((item.predicted_clv_fen - clv).abs() <= 1e-6 * clv.abs().max(1.0));
    }
}
