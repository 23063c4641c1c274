//! Tracked response rates feed later estimates (issue 10): a win-back adoption whose window
//! has ended — adopted, then moved 45 days into the past in the suggest service's own store,
//! as if it had been adopted then — with its members' orders inside that window. The next
//! win-back suggestion's expected effect must rest on the measured rate: the treated response
//! rate minus the control one, over the effect that equals SQL over the raw orders.

use portrait_proto::v1::ingest_service_client::IngestServiceClient;
use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{ListSuggestionsRequest, Suggestion, SuggestionType};
use tonic::transport::Channel;

use crate::effect::{
    CONTROL_PERCENT, DAY_MS, ID, adopt, history, members, order, portrait_proto_now,
};
use crate::effect_oracle::assert_effect;
use crate::oracle::Oracle;
use crate::pipeline::{accepted, submit};
use crate::stack::Stack;

const MOVED_DAYS: i64 = 45;

async fn win_back(gateway: &mut PortraitServiceClient<Channel>) -> Suggestion {
    let listed = gateway
        .list_suggestions(ListSuggestionsRequest {
            r#type: SuggestionType::WinBack as i32,
            ..Default::default()
        })
        .await
        .expect("suggestions")
        .into_inner();
    let ids: Vec<String> = listed.suggestions.iter().map(|s| s.id.clone()).collect();
    (listed.suggestions.into_iter())
        .find(|s| s.id == ID)
        .unwrap_or_else(|| {
            panic!(
                "the chain's win-back suggestion among {ids:?}; {:?}",
                listed.notes
            )
        })
}

/// Moves the adoption's instant and first day back, as the service itself would have
/// written them that many days ago.
async fn move_back(stack: &Stack, days: i64) {
    let path = stack.dir.path().join("data").join("suggest.db");
    let url = format!("sqlite://{}", path.display());
    let pool = sqlx::SqlitePool::connect(&url)
        .await
        .expect("suggest store");
    let moved = sqlx::query(
        "UPDATE suggestion_adoptions SET adopted_at_ms = adopted_at_ms - ?1, \
         adopted_day = adopted_day - ?2 WHERE suggestion_id = ?3",
    )
    .bind(days * DAY_MS)
    .bind(days)
    .bind(ID)
    .execute(&pool)
    .await
    .expect("moved");
    assert_eq!(moved.rows_affected(), 1);
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_adoption_sets_the_response_rate_of_later_estimates() {
    let Some(oracle) = Oracle::fresh().await else {
        return;
    };
    let mut stack = Stack::embedded();
    stack.start_all();
    let then = portrait_proto_now() - MOVED_DAYS * DAY_MS;
    let mut ingest = IngestServiceClient::new(stack.channel("ingest").await);
    let mut gateway = PortraitServiceClient::new(stack.channel("gateway").await);
    let past = history(then);
    submit(&mut ingest, &past).await;
    stack.wait_caught_up().await;

    let prior = win_back(&mut gateway).await;
    let prior = prior.expected_effect.expect("an expected effect");
    assert!(prior.response_rate_source.starts_with("prior"), "{prior:?}");
    adopt(&mut gateway, ID, Some(CONTROL_PERCENT), Some(30))
        .await
        .expect("adopt");
    let frozen = members(&mut gateway).await;
    stack.kill9("portrait");
    move_back(&stack, MOVED_DAYS).await;
    stack.start("portrait");
    stack.wait_caught_up().await;

    // The members' orders in the window that ended 15 days ago.
    let mut bought = crate::effect::window(then, &frozen);
    // Newcomers with one small order yesterday, outside the audience: they keep the chain's
    // means low enough that the members who did not answer stay 重要 and lapsed, so a
    // win-back suggestion is there to carry the rate.
    let now = then + MOVED_DAYS * DAY_MS;
    bought.extend((0..600).map(|c| {
        order(
            format!("fz-{c}"),
            &format!("fz-{c:03}"),
            now - DAY_MS,
            1_000,
        )
    }));
    submit(&mut ingest, &bought).await;
    stack.wait_caught_up().await;
    let mut all = past;
    all.extend(bought);
    oracle.load(&accepted(&all)).await;
    let mut gateway = PortraitServiceClient::new(stack.channel("gateway").await);
    let effect = assert_effect(&mut gateway, &oracle, &frozen).await;
    let status = effect.suggestion.as_ref().map(|s| s.status());
    assert_eq!(status, Some(portrait_proto::v1::SuggestionStatus::Finished));
    let (t, c) = (
        effect.treated.unwrap_or_default(),
        effect.control.unwrap_or_default(),
    );
    assert!(t.responders > 0 && c.customers > 0, "{effect:?}");
    let rate = t.responders as f64 / t.customers as f64 - c.responders as f64 / c.customers as f64;

    let tracked = win_back(&mut gateway).await;
    let e = tracked.expected_effect.expect("an expected effect");
    assert_eq!(e.response_rate, rate, "{e:?}");
    assert!(e.response_rate_source.starts_with("tracked"), "{e:?}");
    assert!(
        e.response_rate_source.contains(&format!(
            "实验组 {} 人中 {} 人响应",
            t.customers, t.responders
        )),
        "{e:?}"
    );
    assert_eq!(e.responders, e.reached as f64 * rate, "{e:?}");
}
