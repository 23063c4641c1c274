//! The audit log holds exactly the refusals and admin actions the matrix
//! made: the test's own record of what it sent is the oracle.

use std::time::{Duration, Instant};

use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{AuditEvent, ListAuditEventsRequest};

use super::support;

const LIST: &str = "/portrait.v1.PortraitService/ListAuditEvents";

/// Every page of the log, `page_size` at a time, following the tokens;
/// and the most `dropped` any page said. Every source must answer.
pub(crate) async fn list_all(
    client: &mut PortraitServiceClient<portrait_service::BearerChannel>,
    page_size: i32,
) -> (Vec<AuditEvent>, i64) {
    let mut events = Vec::new();
    let mut token = String::new();
    let mut dropped = 0;
    loop {
        let page = client
            .list_audit_events(ListAuditEventsRequest {
                page_size,
                page_token: token,
            })
            .await
            .expect("the admin reads the audit log")
            .into_inner();
        assert!(
            page.missing_sources.is_empty(),
            "{:?}",
            page.missing_sources
        );
        assert!(page.events.len() <= page_size as usize);
        dropped = dropped.max(page.dropped);
        events.extend(page.events);
        if page.next_page_token.is_empty() {
            return (events, dropped);
        }
        token = page.next_page_token;
        assert!(events.len() < 100_000, "the pages end");
    }
}

pub(crate) async fn assert_log(
    gw: std::net::SocketAddr,
    admin: &str,
    mut expected: Vec<(String, &str, String)>,
) {
    let mut client = PortraitServiceClient::new(support::authed(gw, admin).await);
    // Reading the log is an admin action too: the reads below are compared
    // apart, as their number depends on how soon the writer caught up.
    let read = |rpc: &str, outcome: &str, subject: &str| {
        rpc == LIST && outcome == "allowed" && subject == "admin"
    };
    expected.retain(|(rpc, outcome, subject)| !read(rpc, outcome, subject));
    expected.sort();
    let started = Instant::now();
    loop {
        let (mut events, dropped) = list_all(&mut client, 1000).await;
        assert_eq!(dropped, 0, "nothing dropped at this rate");
        let ids: std::collections::BTreeSet<(&str, i64)> =
            events.iter().map(|e| (e.service.as_str(), e.id)).collect();
        assert_eq!(ids.len(), events.len(), "no repeats");
        // The admin actions the gateway forwarded are recorded again where
        // they ran, by the service token: compared in sources.rs, not here.
        events.retain(|e| e.service == "gateway" || e.outcome != "allowed");
        let (reads, others): (Vec<_>, Vec<_>) = events
            .into_iter()
            .partition(|e| read(&e.rpc, &e.outcome, &e.subject));
        let mut got: Vec<(String, &str, String)> = others
            .iter()
            .map(|e| {
                let outcome = match e.outcome.as_str() {
                    "unauthenticated" => "unauthenticated",
                    "permission_denied" => "permission_denied",
                    "allowed" => "allowed",
                    other => panic!("outcome {other:?}"),
                };
                (e.rpc.clone(), outcome, e.subject.clone())
            })
            .collect();
        got.sort();
        if got.len() >= expected.len() || started.elapsed() > Duration::from_secs(20) {
            assert_eq!(got.len(), expected.len(), "events recorded");
            assert_eq!(got, expected);
            assert!(!reads.is_empty(), "reading the log is recorded");
            assert!(
                others.iter().all(|e| e.peer.starts_with("127.0.0.1:")),
                "the peer"
            );
            assert!(
                others
                    .iter()
                    .filter(|e| e.outcome != "allowed")
                    .all(|e| !e.reason.is_empty()),
                "a refusal says why"
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An admin action whose record cannot be written is not done, and says so; reads go on.
/// The audit table is taken away under the running gateway (sync's SQLite store).
pub(crate) async fn unrecorded_admin_actions_are_not_done(
    fed: &support::Fed,
    admin: &str,
    viewer: &str,
) {
    let path = fed.data_dir().join("sync.db");
    let url = format!("sqlite://{}", path.display());
    let db = sqlx::SqlitePool::connect(&url).await.expect("sync's store");
    sqlx::query("ALTER TABLE audit_events RENAME TO audit_events_away")
        .execute(&db)
        .await
        .expect("the audit table moved away");
    let gw = fed.stack.gateway_addr;
    let mut client = PortraitServiceClient::new(support::authed(gw, admin).await);
    let refused = client
        .recompute_clusters(portrait_proto::v1::RecomputeClustersRequest::default())
        .await
        .expect_err("an admin action without its record");
    assert_eq!(refused.code(), tonic::Code::Unavailable, "{refused:?}");
    assert!(refused.message().contains("not done"), "{refused:?}");
    let body = r#"{"asOfDate": ""}"#;
    let http = support::http::request_as(
        gw,
        "POST",
        "/v1/clusters:recompute",
        Some(body),
        Some(admin),
    )
    .await;
    assert_eq!(http.status, 503, "{}", http.body);
    let mut reader = PortraitServiceClient::new(support::authed(gw, viewer).await);
    reader
        .get_overview(portrait_proto::v1::OverviewRequest::default())
        .await
        .expect("a viewer still reads");
    sqlx::query("ALTER TABLE audit_events_away RENAME TO audit_events")
        .execute(&db)
        .await
        .expect("the audit table back");
    client
        .recompute_clusters(portrait_proto::v1::RecomputeClustersRequest::default())
        .await
        .expect("recorded, then done");
    db.close().await;
}
