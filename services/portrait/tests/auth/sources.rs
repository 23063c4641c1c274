//! Every service's port records its own refusals and admin actions in its own
//! store, and `ListAuditEvents` pages them all: compared with the union of
//! the five stores' tables read in SQL.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use portrait_auth::JwtSettings;
use portrait_proto::v1::consumer_admin_client::ConsumerAdminClient;
use portrait_proto::v1::ingest_admin_client::IngestAdminClient;
use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{ListAuditEventsRequest, RebuildRequest, RepublishRequest};
use portrait_service::ServiceName;
use sqlx::Row;
use tonic::Code;

use super::{code, support};

/// (service, id, at_ms, subject, role, rpc, outcome, reason, peer)
type Row9 = (
    String,
    i64,
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
);

/// The five stores of a stack, by the name its events carry: SQLite files
/// of the data dir, or the PostgreSQL databases it was given.
struct Stores(Vec<(&'static str, String)>);

const FILES: [(ServiceName, &str); 5] = [
    (ServiceName::Gateway, "sync.db"),
    (ServiceName::Ingest, "ingest.db"),
    (ServiceName::Profiler, "profiler.db"),
    (ServiceName::Rfm, "rfm.db"),
    (ServiceName::Suggest, "suggest.db"),
];

impl Stores {
    fn sqlite(dir: &std::path::Path) -> Self {
        let url = |file: &str| format!("sqlite://{}", dir.join(file).display());
        Self(FILES.map(|(s, f)| (s.as_str(), url(f))).to_vec())
    }

    async fn pool(&self, service: &str) -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        let (_, url) = self.0.iter().find(|(s, _)| *s == service).expect("a store");
        sqlx::AnyPool::connect(url).await.expect("a store")
    }

    /// Every row of every store's audit table.
    async fn union(&self) -> BTreeSet<Row9> {
        let mut all = BTreeSet::new();
        for (service, _) in &self.0 {
            let pool = self.pool(service).await;
            let rows = sqlx::query(
                "SELECT id, at_ms, subject, role, rpc, outcome, reason, peer FROM audit_events",
            )
            .fetch_all(&pool)
            .await
            .expect("the audit table");
            for r in rows {
                all.insert((
                    (*service).to_owned(),
                    r.get("id"),
                    r.get("at_ms"),
                    r.get("subject"),
                    r.get("role"),
                    r.get("rpc"),
                    r.get("outcome"),
                    r.get("reason"),
                    r.get("peer"),
                ));
            }
            pool.close().await;
        }
        all
    }
}

fn count(all: &BTreeSet<Row9>, service: &str) -> usize {
    all.iter().filter(|r| r.0 == service).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_port_records_its_refusals_and_the_gateway_pages_them_all() {
    every_port(None).await;
}

/// The same with every service's store on a real PostgreSQL (started by
/// `tests/run`; skipped with a message without it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_port_records_its_refusals_on_postgres_too() {
    let mut stores = Vec::new();
    for (service, _) in FILES {
        let Some(url) = portrait_testkit::postgres::fresh_database().await else {
            return;
        };
        stores.push((service, url));
    }
    every_port(Some(stores)).await;
}

async fn every_port(on: Option<Vec<(ServiceName, String)>>) {
    let (settings, keys) = super::settings("上海", JwtSettings::default());
    let admin = keys.tokens[2].clone();
    let viewer = keys.tokens[0].clone();
    let fed = support::fed_stack_on(43, settings, &admin, on.as_deref().unwrap_or(&[])).await;
    let stores = match &on {
        Some(urls) => Stores(urls.iter().map(|(s, u)| (s.as_str(), u.clone())).collect()),
        None => Stores::sqlite(fed.data_dir()),
    };
    let at = |s| fed.stack.addr(s).expect("address");
    let (ingest, profiler, rfm) = (
        at(ServiceName::Ingest),
        at(ServiceName::Profiler),
        at(ServiceName::Rfm),
    );

    // Refusals straight at the services' own ports.
    let status = "/portrait.v1.IngestService/GetIngestStatus";
    let overview = "/portrait.v1.ProfilerQuery/GetOverview";
    assert_eq!(
        code(ingest, status, Some("not-a-key")).await,
        Code::Unauthenticated
    );
    assert_eq!(
        code(profiler, overview, Some("not-a-key")).await,
        Code::Unauthenticated
    );
    let rfm_status = "/portrait.v1.RfmQuery/GetStatus";
    assert_eq!(
        code(rfm, rfm_status, Some(&viewer)).await,
        Code::PermissionDenied
    );

    // An admin action at ingest's port is written before it runs: without
    // its record it is not done (no new publication).
    let ingest_db = stores.pool("ingest").await;
    let epoch = |pool: sqlx::AnyPool| async move {
        sqlx::query("SELECT value FROM counters WHERE name = 'epoch'")
            .fetch_optional(&pool)
            .await
            .expect("counters")
            .map(|r| r.get::<i64, _>("value"))
    };
    let mut republisher = IngestAdminClient::new(support::authed(ingest, &admin).await);
    sqlx::query("ALTER TABLE audit_events RENAME TO audit_events_away")
        .execute(&ingest_db)
        .await
        .expect("the table away");
    let refused = republisher
        .republish(RepublishRequest {})
        .await
        .expect_err("no record, no republish");
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    assert!(refused.message().contains("not done"), "{refused:?}");
    assert_eq!(
        epoch(ingest_db.clone()).await,
        None,
        "nothing was republished"
    );
    sqlx::query("ALTER TABLE audit_events_away RENAME TO audit_events")
        .execute(&ingest_db)
        .await
        .expect("the table back");
    let republished = republisher
        .republish(RepublishRequest {})
        .await
        .expect("recorded, then done")
        .into_inner();
    assert_eq!(epoch(ingest_db.clone()).await, Some(republished.epoch));
    ingest_db.close().await;
    // A rebuild at rfm's port: recorded, and the rebuild keeps the log (the
    // refusal above survives the emptied tables).
    let mut rebuilder = ConsumerAdminClient::new(support::authed(rfm, &admin).await);
    let rebuilt = rebuilder
        .rebuild(RebuildRequest {
            epoch: republished.epoch,
        })
        .await
        .expect("rebuilt")
        .into_inner();
    assert!(
        !rebuilt.tables_emptied.iter().any(|t| t == "audit_events"),
        "{:?}",
        rebuilt.tables_emptied
    );

    // The queued refusals reach the stores.
    let started = Instant::now();
    let before = loop {
        let all = stores.union().await;
        let counts = [
            count(&all, "ingest"),
            count(&all, "profiler"),
            count(&all, "rfm"),
        ];
        if counts == [2, 1, 2] || started.elapsed() > Duration::from_secs(20) {
            assert_eq!(counts, [2, 1, 2], "{all:#?}");
            break all;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let one = |service: &str, rpc: &str, outcome: &str| {
        let found: Vec<&Row9> = before
            .iter()
            .filter(|r| r.0 == service && r.5 == rpc && r.6 == outcome)
            .collect();
        assert_eq!(found.len(), 1, "{service} {rpc} {outcome}: {before:#?}");
        found[0].clone()
    };
    for (service, rpc) in [("ingest", status), ("profiler", overview)] {
        let e = one(service, rpc, "unauthenticated");
        assert!(e.8.starts_with("127.0.0.1:"), "the peer: {e:?}");
        assert!(!e.7.is_empty(), "a reason: {e:?}");
    }
    assert_eq!(one("rfm", rfm_status, "permission_denied").3, "viewer");
    assert_eq!(
        one("ingest", "/portrait.v1.IngestAdmin/Republish", "allowed").3,
        "admin"
    );
    assert_eq!(
        one("rfm", "/portrait.v1.ConsumerAdmin/Rebuild", "allowed").3,
        "admin"
    );

    // Paged through the gateway, two at a time: every event once. The
    // listing's own first read is recorded (before it runs) and shows too.
    let mut client =
        PortraitServiceClient::new(support::authed(fed.stack.gateway_addr, &admin).await);
    let (listed, _) = super::audit::list_all(&mut client, 2).await;
    let listed: Vec<Row9> = listed
        .into_iter()
        .map(|e| {
            (
                e.service, e.id, e.at_ms, e.subject, e.role, e.rpc, e.outcome, e.reason, e.peer,
            )
        })
        .collect();
    let got: BTreeSet<Row9> = listed.iter().cloned().collect();
    assert_eq!(got.len(), listed.len(), "no event twice");
    let extra: Vec<&Row9> = got.difference(&before).collect();
    assert_eq!(extra.len(), 1, "{extra:#?}");
    assert_eq!(
        (
            extra[0].0.as_str(),
            extra[0].5.as_str(),
            extra[0].6.as_str()
        ),
        (
            "gateway",
            "/portrait.v1.PortraitService/ListAuditEvents",
            "allowed"
        )
    );
    assert!(before.is_subset(&got), "every stored event listed");

    // A bad token, over gRPC and JSON.
    let bad = client
        .list_audit_events(ListAuditEventsRequest {
            page_size: 2,
            page_token: "v1:0,0".into(),
        })
        .await
        .expect_err("not our token");
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(bad.message().starts_with("page_token"), "{bad:?}");
    let http = support::http::request_as(
        fed.stack.gateway_addr,
        "GET",
        "/v1/audit?pageToken=zz",
        None,
        Some(&admin),
    )
    .await;
    assert_eq!(http.status, 400, "{}", http.body);

    // Who each token is (what the page shows the reveal button by): the
    // roles and the scope the keys were made with above.
    let keyed = [
        (keys.tokens[0].as_str(), "viewer", "viewer", vec![]),
        (keys.tokens[1].as_str(), "analyst", "analyst", vec![]),
        (admin.as_str(), "admin", "admin", vec![]),
        (
            keys.stores_analyst.as_str(),
            "two stores",
            "analyst",
            super::SCOPED_STORES.map(String::from).to_vec(),
        ),
    ];
    for (token, subject, role, stores) in keyed {
        let mut c =
            PortraitServiceClient::new(support::authed(fed.stack.gateway_addr, token).await);
        let me = c
            .get_caller(portrait_proto::v1::GetCallerRequest {})
            .await
            .expect("anyone may ask who they are")
            .into_inner();
        assert_eq!(
            (me.subject.as_str(), me.role.as_str(), me.store_ids),
            (subject, role, stores)
        );
    }
    let nobody = code(
        fed.stack.gateway_addr,
        "/portrait.v1.PortraitService/GetCaller",
        Some("not-a-key"),
    )
    .await;
    assert_eq!(nobody, Code::Unauthenticated);

    // A source that cannot be read is named; the others answer.
    let suggest_db = stores.pool("suggest").await;
    sqlx::query("ALTER TABLE audit_events RENAME TO audit_events_away")
        .execute(&suggest_db)
        .await
        .expect("the table away");
    let page = client
        .list_audit_events(ListAuditEventsRequest::default())
        .await
        .expect("what is reachable")
        .into_inner();
    assert_eq!(page.missing_sources, ["suggest"]);
    assert!(page.events.iter().any(|e| e.service == "rfm"));
    suggest_db.close().await;
    fed.stop().await;
}
