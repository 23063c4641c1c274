//! Effect tracking end to end (issue 10): a chain with a win-back audience,
//! the suggestion adopted with a control group, then orders where
//! the treated members buy more than the control ones. The effect the
//! gateway reports must equal plain SQL over the raw orders of the frozen
//! members, its intervals a recompute in Python (scipy), the control group a
//! recompute of the documented hash; retractions inside the window leave the
//! effect, and a kill -9 changes nothing.

use chrono::{FixedOffset, TimeZone};
use portrait_proto::v1::ingest_service_client::IngestServiceClient;
use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{
    AdoptSuggestionRequest, Channel as SaleChannel, DismissSuggestionRequest, EffectGroup,
    GetSuggestionEffectRequest, ListAdoptedSuggestionsRequest, ListSuggestionMembersRequest, Order,
    OrderLine, OrderStatus, SuggestionEffect, SuggestionStatus,
};
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};
use tonic::transport::Channel;

use crate::effect_oracle::assert_effect;
use crate::oracle::Oracle;
use crate::pipeline::{accepted, submit};
use crate::stack::Stack;

/// The win-back suggestion over all stores, as `ListSuggestions` names it.
pub(crate) const ID: &str = "winback:all";
pub(crate) const DAY_MS: i64 = 86_400_000;
const AUDIENCE: usize = 240;
pub(crate) const CONTROL_PERCENT: i32 = 30;

/// The documented control rule, written again: the first 8 bytes of
/// SHA-256(suggestion id, NUL, customer id), big-endian, modulo 100, below
/// the control percentage.
fn in_control(customer: &str) -> bool {
    let digest = Sha256::digest([ID.as_bytes(), &[0], customer.as_bytes()].concat());
    let first = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
    (first % 100) < CONTROL_PERCENT as u64
}

pub(crate) fn order(id: String, customer: &str, placed_at_ms: i64, fen: i64) -> Order {
    Order {
        order_id: id,
        customer_id: customer.to_owned(),
        store_id: "fx-s1".into(),
        store_name: "效果一店".into(),
        city: "上海".into(),
        channel: SaleChannel::Pos as i32,
        placed_at_ms,
        net_amount_fen: fen,
        lines: vec![OrderLine {
            product_id: "fx-p1".into(),
            product_name: "套餐".into(),
            category_id: "fx-k1".into(),
            category_name: "套餐".into(),
            quantity: 1,
            net_amount_fen: fen,
        }],
        status: OrderStatus::Paid as i32,
    }
}

/// The audience: three orders 100, 90 and 80 days ago of ¥30–33 each (every
/// one above the mean spend, away longer than the mean and 60 days, as
/// often as everyone: 重要挽留, lapsed, so win-back); and customers with
/// three small orders in the last month, who are not.
pub(crate) fn history(now: i64) -> Vec<Order> {
    let mut out = Vec::new();
    for c in 0..AUDIENCE {
        for (k, ago) in [100, 90, 80].into_iter().enumerate() {
            let fen = 3_000 + (c as i64 * 37 + k as i64 * 11) % 300;
            out.push(order(
                format!("fx-h{c}-{k}"),
                &format!("fx-{c:03}"),
                now - ago * DAY_MS,
                fen,
            ));
        }
    }
    for c in 0..40 {
        for (k, ago) in [30, 20, 10].into_iter().enumerate() {
            out.push(order(
                format!("fy-h{c}-{k}"),
                &format!("fy-{c:03}"),
                now - ago * DAY_MS,
                1_500,
            ));
        }
    }
    out
}

/// After adoption: treated members respond more often and buy more; orders
/// spread over the next 20 hours (today and tomorrow, both in the window),
/// and a few outsiders buy too (not members: they must not count).
pub(crate) fn window(now: i64, members: &[(String, bool)]) -> Vec<Order> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(10);
    let mut out = Vec::new();
    for (customer, control) in members {
        let (p, most) = if *control { (0.25, 2) } else { (0.7, 3) };
        if rng.random_bool(p) {
            for k in 0..rng.random_range(1..=most) {
                let at = now + 60_000 + rng.random_range(0..20 * 3_600_000);
                let fen = if rng.random_bool(0.05) {
                    0
                } else {
                    rng.random_range(800..9_000)
                };
                out.push(order(format!("fx-w-{customer}-{k}"), customer, at, fen));
            }
        }
    }
    for c in 0..10 {
        out.push(order(
            format!("fy-w{c}"),
            &format!("fy-{c:03}"),
            now + 120_000,
            5_000,
        ));
    }
    out
}

fn field_of(status: &tonic::Status) -> String {
    status
        .metadata()
        .get("x-invalid-field")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

pub(crate) async fn adopt(
    gateway: &mut PortraitServiceClient<Channel>,
    id: &str,
    control_percent: Option<i32>,
    window_days: Option<i32>,
) -> Result<portrait_proto::v1::AdoptedSuggestion, tonic::Status> {
    gateway
        .adopt_suggestion(AdoptSuggestionRequest {
            id: id.into(),
            control_percent,
            window_days,
            filter: None,
        })
        .await
        .map(tonic::Response::into_inner)
}

pub(crate) async fn members(gateway: &mut PortraitServiceClient<Channel>) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let page = gateway
            .list_suggestion_members(ListSuggestionMembersRequest {
                id: ID.into(),
                group: EffectGroup::Unspecified as i32,
                page_size: 50,
                page_token: token,
            })
            .await
            .expect("members")
            .into_inner();
        assert_eq!(page.total, AUDIENCE as i64);
        out.extend(
            (page.members.into_iter())
                .map(|m| (m.customer_id, m.group == EffectGroup::Control as i32)),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    out.sort();
    out
}

async fn effect(gateway: &mut PortraitServiceClient<Channel>) -> SuggestionEffect {
    gateway
        .get_suggestion_effect(GetSuggestionEffectRequest { id: ID.into() })
        .await
        .expect("effect")
        .into_inner()
}

/// The scenario on a running stack; `process` is what kill -9 hits, `urls`
/// where `portrait rebuild` finds ingest, profiler, rfm and suggest.
async fn scenario(stack: &mut Stack, oracle: &Oracle, process: &'static str, urls: [String; 4]) {
    let now = portrait_proto_now();
    let mut ingest = IngestServiceClient::new(stack.channel("ingest").await);
    let mut gateway = PortraitServiceClient::new(stack.channel("gateway").await);
    let past = history(now);
    submit(&mut ingest, &past).await;
    stack.wait_caught_up().await;

    // Bad arguments name their field; unknown ids are NOT_FOUND.
    for (id, percent, days, field) in [
        ("", None, None, "id"),
        (ID, Some(51), None, "control_percent"),
        (ID, Some(-1), None, "control_percent"),
        (ID, None, Some(0), "window_days"),
        (ID, None, Some(366), "window_days"),
    ] {
        let err = adopt(&mut gateway, id, percent, days)
            .await
            .expect_err("refused");
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");
        assert_eq!(field_of(&err), field, "{err:?}");
    }
    for id in [
        "churn_warning:medium",
        "no_such_type:high",
        "winback:all@city:无此城",
    ] {
        let err = adopt(&mut gateway, id, None, None)
            .await
            .expect_err("unknown");
        assert_eq!(err.code(), tonic::Code::NotFound, "{id}: {err:?}");
    }

    let adopted = adopt(&mut gateway, ID, Some(CONTROL_PERCENT), Some(30))
        .await
        .expect("adopt");
    let control_want = (0..AUDIENCE)
        .filter(|c| in_control(&format!("fx-{c:03}")))
        .count() as i64;
    assert_eq!(adopted.control_customers, control_want);
    assert_eq!(
        adopted.treated_customers + adopted.control_customers,
        AUDIENCE as i64
    );
    assert_eq!(adopted.status, SuggestionStatus::Adopted as i32);
    assert_eq!(adopted.r#type, "SUGGESTION_TYPE_WIN_BACK");
    let today = FixedOffset::east_opt(8 * 3600)
        .and_then(|z| z.timestamp_millis_opt(now).single())
        .map(|t| t.date_naive())
        .expect("today in Shanghai");
    assert_eq!(adopted.adopted_date, today.format("%Y-%m-%d").to_string());
    let again = adopt(&mut gateway, ID, None, None)
        .await
        .expect_err("adopted twice");
    assert_eq!(again.code(), tonic::Code::AlreadyExists);
    assert!(again.message().contains(ID), "{again:?}");

    let frozen = members(&mut gateway).await;
    let want: Vec<(String, bool)> = (0..AUDIENCE)
        .map(|c| format!("fx-{c:03}"))
        .map(|c| {
            let control = in_control(&c);
            (c, control)
        })
        .collect();
    assert_eq!(frozen, want, "the frozen audience and its control group");

    let bought = window(now, &frozen);
    submit(&mut ingest, &bought).await;
    stack.wait_caught_up().await;
    let mut all = past.clone();
    all.extend(bought.iter().cloned());
    oracle.load(&accepted(&all)).await;
    let first = assert_effect(&mut gateway, oracle, &frozen).await;
    assert_eq!(first.days_elapsed, 1);
    assert_eq!(first.window_start, adopted.adopted_date);
    let end = today + chrono::Days::new(30);
    assert_eq!(first.window_end, end.format("%Y-%m-%d").to_string());

    // Retractions inside the window leave the effect.
    let cancelled: Vec<Order> = (bought.iter().step_by(3))
        .map(|o| Order {
            status: OrderStatus::Cancelled as i32,
            ..o.clone()
        })
        .collect();
    submit(&mut ingest, &cancelled).await;
    stack.wait_caught_up().await;
    all.extend(cancelled);
    oracle.load(&accepted(&all)).await;
    let retracted = assert_effect(&mut gateway, oracle, &frozen).await;
    let orders = |e: &SuggestionEffect| e.treated.as_ref().map_or(0, |g| g.orders);
    assert!(orders(&retracted) < orders(&first), "retractions count out");

    // kill -9: the same members, groups and effect.
    stack.kill9(process);
    stack.start(process);
    stack.wait_caught_up().await;
    let mut gateway = PortraitServiceClient::new(stack.channel("gateway").await);
    assert_eq!(
        members(&mut gateway).await,
        frozen,
        "control group after kill -9"
    );
    assert_eq!(
        effect(&mut gateway).await,
        retracted,
        "effect after kill -9"
    );

    // A rebuild of the suggest service empties its projection, not the
    // adoptions: the same members and, once caught up, the same effect.
    let said = crate::rebuild::rebuild(stack, urls, &["suggest"]);
    assert!(said.contains("suggest: emptied"), "{said}");
    assert!(!said.contains("suggestion_members"), "{said}");
    stack.wait_caught_up().await;
    assert_eq!(
        members(&mut gateway).await,
        frozen,
        "members after a rebuild"
    );
    assert_eq!(
        effect(&mut gateway).await,
        retracted,
        "effect after a rebuild"
    );

    let dismissed = gateway
        .dismiss_suggestion(DismissSuggestionRequest { id: ID.into() })
        .await
        .expect("dismiss")
        .into_inner();
    assert_eq!(dismissed.status, SuggestionStatus::Dismissed as i32);
    let listed = gateway
        .list_adopted_suggestions(ListAdoptedSuggestionsRequest {})
        .await
        .expect("adopted")
        .into_inner();
    assert_eq!(listed.suggestions, vec![dismissed]);
}

pub(crate) fn portrait_proto_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_effect_equals_sql_through_kill() {
    let Some(oracle) = Oracle::fresh().await else {
        return;
    };
    let mut stack = Stack::embedded();
    stack.start_all();
    let base = stack.ports["gateway"];
    let urls = [1, 2, 3, 4].map(|offset| format!("http://127.0.0.1:{}", base + offset));
    scenario(&mut stack, &oracle, "portrait", urls).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_effect_equals_sql_through_kill() {
    let Some(brokers) = portrait_testkit::broker::kafka_brokers() else {
        return;
    };
    let Some((mut stack, oracle)) = Stack::distributed(brokers).await else {
        return;
    };
    stack.start_all();
    let urls = ["ingest", "profiler", "rfm", "suggest"].map(|s| stack.url(s));
    scenario(&mut stack, &oracle, "suggest", urls).await;
}
