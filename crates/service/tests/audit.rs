//! A service's audit log on SQLite and a real PostgreSQL (started by
//! `tests/run`; skipped with a message without it): queued refusals and
//! actions written at once, read back newest first naming the service.

use std::sync::Arc;
use std::time::{Duration, Instant};

use portrait_proto::v1::ListServiceAuditEventsRequest;
use portrait_proto::v1::audit_admin_server::AuditAdmin;
use portrait_service::{AuditLog, AuditReader, AuditSink, audit_event};
use portrait_store::Store;

async fn list(
    log: &Arc<AuditLog>,
    before_id: i64,
    page_size: i32,
) -> Result<portrait_proto::v1::ListAuditEventsResponse, tonic::Status> {
    let request = ListServiceAuditEventsRequest {
        before_id,
        page_size,
    };
    AuditReader::new(log.clone())
        .list_service_audit_events(tonic::Request::new(request))
        .await
        .map(tonic::Response::into_inner)
}

async fn a_log_keeps_what_its_port_refused_and_did(store: Store) {
    store
        .migrate("audit", portrait_store::AUDIT_MIGRATIONS)
        .await
        .expect("the table");
    let log = AuditLog::start("profiler", store);
    for n in 0..3 {
        let path = format!("/portrait.v1.ProfilerQuery/Refused{n}");
        log.record(audit_event(
            None,
            &path,
            "unauthenticated",
            "bad token",
            None,
        ));
    }
    let started = Instant::now();
    while log.read(0, 10).await.expect("read").len() < 3 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the queue is written"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let action = audit_event(
        None,
        "/portrait.v1.ConsumerAdmin/Rebuild",
        "allowed",
        "",
        None,
    );
    log.record_now(action).await.expect("written at once");
    let all = log.read(0, 10).await.expect("read");
    let rpcs: Vec<&str> = all.iter().map(|e| e.rpc.as_str()).collect();
    assert_eq!(
        rpcs,
        [
            "/portrait.v1.ConsumerAdmin/Rebuild",
            "/portrait.v1.ProfilerQuery/Refused2",
            "/portrait.v1.ProfilerQuery/Refused1",
            "/portrait.v1.ProfilerQuery/Refused0",
        ]
    );
    assert!(all.iter().all(|e| e.service == "profiler"));
    assert!(all.windows(2).all(|w| w[0].id > w[1].id));
    assert_eq!(log.read(all[1].id, 10).await.expect("read").len(), 2);
    let answer = list(&log, all[0].id, 2).await.expect("listed");
    let ids: Vec<i64> = answer.events.iter().map(|e| e.id).collect();
    assert_eq!(
        ids,
        [all[1].id, all[2].id],
        "below an id, at most page_size"
    );
    assert_eq!(answer.dropped, 0);
    for (before_id, page_size, field) in [
        (0, 0, "page_size"),
        (0, 1002, "page_size"),
        (-1, 5, "before_id"),
    ] {
        let refused = list(&log, before_id, page_size)
            .await
            .expect_err("bad request");
        assert_eq!(refused.code(), tonic::Code::InvalidArgument);
        assert!(refused.message().starts_with(field), "{refused:?}");
    }
}

#[tokio::test]
async fn on_sqlite() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("profiler.db").display());
    let store = Store::connect(&url).await.expect("store");
    a_log_keeps_what_its_port_refused_and_did(store).await;
}

#[tokio::test]
async fn on_postgres() {
    let Some(url) = portrait_testkit::postgres::fresh_database().await else {
        return;
    };
    let store = Store::connect(&url).await.expect("store");
    a_log_keeps_what_its_port_refused_and_did(store).await;
}
