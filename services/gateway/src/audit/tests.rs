//! A listing with sources that are down or hang: answered from what is
//! reachable, within the deadline, naming the missing sources.

use std::time::{Duration, Instant};

use portrait_proto::v1::ListAuditEventsRequest;
use portrait_service::AuditSink;

use super::AuditSources;

#[tokio::test]
async fn sources_that_are_down_or_hang_are_named_and_the_rest_answered() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("gateway.db").display());
    let store = portrait_store::Store::connect(&url).await.expect("store");
    store
        .migrate("audit", portrait_store::AUDIT_MIGRATIONS)
        .await
        .expect("the table");
    let own = portrait_service::AuditLog::start("gateway", store);
    for at_ms in [10, 20] {
        let mut event = portrait_service::audit_event(None, "/x", "unauthenticated", "bad", None);
        event.at_ms = at_ms;
        own.record_now(event).await.expect("written");
    }
    // Down: a port nobody listens on. Hanging: a listener that never answers.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let down = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let (silent, silent_addr) = portrait_service::bind("127.0.0.1:0").await.expect("port");
    let hanging = format!("http://{silent_addr}");
    let channel = |url: &str| {
        portrait_service::exchange::peer_channel(
            "gateway.test",
            url,
            &portrait_service::AuthSettings::default(),
            &portrait_service::Config::defaults(portrait_service::ServiceName::Gateway).server,
        )
        .expect("channel")
    };
    let sources = AuditSources::new(
        own,
        [
            channel(&down),
            channel(&hanging),
            channel(&down),
            channel(&hanging),
        ],
    );
    let started = Instant::now();
    let page = sources
        .list(ListAuditEventsRequest {
            page_size: 10,
            page_token: String::new(),
        })
        .await
        .expect("answered from what is reachable");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        page.missing_sources,
        ["ingest", "profiler", "rfm", "suggest"]
    );
    let times: Vec<i64> = page.events.iter().map(|e| e.at_ms).collect();
    assert_eq!(times, [20, 10]);
    assert!(page.events.iter().all(|e| e.service == "gateway"));
    assert!(page.next_page_token.is_empty());
    drop(silent);
    let bad = sources
        .list(ListAuditEventsRequest {
            page_size: 10,
            page_token: "17".into(),
        })
        .await
        .expect_err("not our token");
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    assert!(bad.message().starts_with("page_token"), "{bad:?}");
}
