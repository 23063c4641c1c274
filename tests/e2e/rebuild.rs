//! A log that went backwards (issue 12): mid-stream the broker comes back with
//! an empty log. The stack must say so (status, caught_up, health) instead of
//! serving figures that silently miss orders, and `portrait rebuild --all`
//! must bring every figure back to the oracle's.

use std::process::Command;
use std::time::Duration;

use portrait_proto::v1::ingest_service_client::IngestServiceClient;
use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{OverviewRequest, SyncStatus, SyncStatusRequest};
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::oracle::Oracle;
use crate::pipeline::{accepted, assert_figures, scenario, submit};
use crate::stack::{Stack, bin_dir};

const CONSUMERS: [(&str, &str); 3] = [
    ("profiler", "portrait.v1.ProfilerQuery"),
    ("rfm", "portrait.v1.RfmQuery"),
    ("suggest", "portrait.v1.SuggestQuery"),
];

async fn health(stack: &Stack, service: &str, name: &str) -> ServingStatus {
    let mut client = HealthClient::new(stack.channel(service).await);
    let answer = client
        .check(HealthCheckRequest {
            service: name.to_owned(),
        })
        .await
        .expect("health answers")
        .into_inner();
    ServingStatus::try_from(answer.status).unwrap_or(ServingStatus::Unknown)
}

/// Waits until every consumer reports a condition; returns that status.
async fn wait_condition(gateway: &mut PortraitServiceClient<Channel>) -> SyncStatus {
    let mut last = None;
    for _ in 0..600 {
        if let Ok(s) = gateway.get_sync_status(SyncStatusRequest {}).await {
            let s = s.into_inner();
            if s.consumers.len() == 3 && s.consumers.iter().all(|c| !c.condition.is_empty()) {
                return s;
            }
            last = Some(format!("{s:?}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The stack prints its logs when a test panics.
    panic!("the consumers never reported the emptied log: {last:?}");
}

/// Runs `portrait rebuild ARGS` against a stack whose services listen at
/// `urls` (ingest, profiler, rfm, suggest); returns what it printed.
pub(crate) fn rebuild(stack: &Stack, urls: [String; 4], args: &[&str]) -> String {
    let [ingest, profiler, rfm, suggest] = urls;
    let out = Command::new(bin_dir().join("portrait"))
        .arg("rebuild")
        .args(args)
        .args(["--gateway", &stack.url("gateway"), "--timeout-secs", "120"])
        .env_remove("PORTRAIT_CONFIG")
        .env("PORTRAIT__GATEWAY__INGEST", ingest)
        .env("PORTRAIT__GATEWAY__PROFILER", profiler)
        .env("PORTRAIT__GATEWAY__RFM", rfm)
        .env("PORTRAIT__GATEWAY__SUGGEST", suggest)
        .output()
        .expect("portrait rebuild runs");
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "portrait rebuild failed: {said}\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        stack.logs()
    );
    said
}

/// Rebuilding one healthy service of the embedded stack: it starts over from
/// the fresh publication while the others skip it as duplicates, and every
/// figure stays exact, also for orders after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuilding_one_service_of_the_embedded_stack_keeps_every_figure_exact() {
    let Some(oracle) = Oracle::fresh().await else {
        return;
    };
    let (orders, queries) = scenario();
    let mut stack = Stack::embedded();
    stack.start_all();
    let mut ingest = IngestServiceClient::new(stack.channel("ingest").await);
    let mut gateway = PortraitServiceClient::new(stack.channel("gateway").await);
    let half = orders.len() / 2;
    submit(&mut ingest, &orders[..half]).await;
    stack.wait_caught_up().await;

    let base = stack.ports["gateway"];
    let url = |offset: u16| format!("http://127.0.0.1:{}", base + offset);
    let said = rebuild(&stack, [url(1), url(2), url(3), url(4)], &["profiler"]);
    assert!(said.contains("fresh publication 1 queued"), "{said}");
    assert!(said.contains("profiler: emptied"), "{said}");
    assert!(
        !said.contains("rfm:"),
        "only the profiler is rebuilt: {said}"
    );

    let status = stack.wait_caught_up().await;
    let epochs: Vec<(&str, i64)> = status
        .consumers
        .iter()
        .map(|c| (c.service.as_str(), c.epoch))
        .collect();
    assert_eq!(epochs, [("profiler", 1), ("rfm", 0), ("suggest", 0)]);
    oracle.load_orders(&orders[..half]).await;
    assert_figures(&mut gateway, &oracle, &queries).await;

    submit(&mut ingest, &orders[half..]).await;
    stack.wait_caught_up().await;
    oracle.load_orders(&orders).await;
    assert_figures(&mut gateway, &oracle, &queries).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emptied_log_is_reported_and_rebuild_makes_every_figure_exact() {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(mut broker) =
        portrait_testkit::broker::OwnBroker::start(&dir.path().join("tansu.log"))
    else {
        return;
    };
    let Some((mut stack, oracle)) = Stack::distributed(broker.address()).await else {
        return;
    };
    stack.start_all();
    let (orders, queries) = scenario();
    let mut ingest = IngestServiceClient::new(stack.channel("ingest").await);
    let mut gateway = PortraitServiceClient::new(stack.channel("gateway").await);

    // Two thirds in and applied: the consumers' positions are well up the log.
    let cut = orders.len() * 2 / 3;
    submit(&mut ingest, &orders[..cut]).await;
    let before = stack.wait_caught_up().await;
    assert!(before.condition.is_empty(), "{before:?}");
    for (service, name) in CONSUMERS {
        assert_eq!(health(&stack, service, name).await, ServingStatus::Serving);
    }

    // The broker comes back with an empty log; nothing is restarted. The
    // rest of the orders go to the new, shorter log.
    broker.restart();
    submit(&mut ingest, &orders[cut..]).await;

    let stopped = wait_condition(&mut gateway).await;
    assert!(
        !stopped.caught_up,
        "never caught up while orders are missing"
    );
    for c in &stopped.consumers {
        assert!(
            c.condition.contains("orders.v1 partition"),
            "{}: the condition names topic and partition: {}",
            c.service,
            c.condition
        );
        assert!(
            stopped.condition.contains(&format!("{}: ", c.service)),
            "the sync status names {}: {}",
            c.service,
            stopped.condition
        );
    }
    // Stays so: the condition is not a moment's glitch.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let still = gateway
        .get_sync_status(SyncStatusRequest {})
        .await
        .expect("sync status")
        .into_inner();
    assert!(!still.caught_up && !still.condition.is_empty(), "{still:?}");
    for (service, name) in CONSUMERS {
        assert_eq!(
            health(&stack, service, name).await,
            ServingStatus::NotServing,
            "{service} says NOT_SERVING"
        );
    }
    // Answers are still served, from the state as it was.
    gateway
        .get_overview(OverviewRequest {
            filter: Some(queries[0].filter()),
        })
        .await
        .expect("overview still answers");

    // The documented recovery.
    let urls = ["ingest", "profiler", "rfm", "suggest"].map(|s| stack.url(s));
    let said = rebuild(&stack, urls, &["--all"]);
    assert!(said.contains("fresh publication 1 queued"), "{said}");
    assert!(said.contains("caught up"), "{said}");

    let status = stack.wait_caught_up().await;
    assert!(status.condition.is_empty(), "{status:?}");
    for c in &status.consumers {
        assert_eq!((c.epoch, c.condition.as_str()), (1, ""), "{}", c.service);
    }
    // Back to SERVING; a relay may still be retrying its first publish to
    // the new log for a moment after the consumers caught up.
    for (service, name) in CONSUMERS {
        let mut status = health(&stack, service, name).await;
        for _ in 0..100 {
            if status == ServingStatus::Serving {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            status = health(&stack, service, name).await;
        }
        assert_eq!(status, ServingStatus::Serving, "{service} serves again");
    }
    oracle.load_orders(&orders).await;
    assert_figures(&mut gateway, &oracle, &queries).await;

    // Orders after the rebuild are applied as usual.
    let again: Vec<_> = accepted(&orders)
        .into_iter()
        .take(50)
        .map(|o| portrait_proto::v1::Order {
            channel: portrait_proto::v1::Channel::Douyin as i32,
            ..o
        })
        .collect();
    submit(&mut ingest, &again).await;
    stack.wait_caught_up().await;
    let mut all = orders.clone();
    all.extend(again);
    oracle.load_orders(&all).await;
    assert_figures(&mut gateway, &oracle, &queries).await;
}

/// The embedded log emptied while `portrait run` was down (its file replaced,
/// say): on start every consumer reports it, and `portrait rebuild --all` makes
/// every figure exact again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emptied_embedded_log_is_reported_and_rebuilt() {
    let Some(oracle) = Oracle::fresh().await else {
        return;
    };
    let (orders, queries) = scenario();
    let mut stack = Stack::embedded();
    stack.start_all();
    let mut ingest = IngestServiceClient::new(stack.channel("ingest").await);
    let cut = orders.len() * 2 / 3;
    submit(&mut ingest, &orders[..cut]).await;
    let published = stack
        .wait_caught_up()
        .await
        .ingest
        .expect("ingest status")
        .events_published;

    stack.kill9("portrait");
    let log = stack.dir.path().join("data").join("log.db");
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&log);
    let pool = sqlx::SqlitePool::connect_with(options)
        .await
        .expect("the embedded log opens");
    let deleted = sqlx::query("DELETE FROM log")
        .execute(&pool)
        .await
        .expect("log emptied")
        .rows_affected();
    assert_eq!(deleted, published as u64, "the log held every event");
    pool.close().await;

    stack.start_all();
    let mut ingest = IngestServiceClient::new(stack.channel("ingest").await);
    let mut gateway = PortraitServiceClient::new(stack.channel("gateway").await);
    submit(&mut ingest, &orders[cut..]).await;
    let stopped = wait_condition(&mut gateway).await;
    assert!(!stopped.caught_up);
    for c in &stopped.consumers {
        assert!(
            c.condition.contains("orders.v1 partition 0"),
            "{}: {}",
            c.service,
            c.condition
        );
    }

    let base = stack.ports["gateway"];
    let url = |offset: u16| format!("http://127.0.0.1:{}", base + offset);
    let said = rebuild(&stack, [url(1), url(2), url(3), url(4)], &["--all"]);
    assert!(said.contains("caught up"), "{said}");
    let status = stack.wait_caught_up().await;
    assert!(status.condition.is_empty(), "{status:?}");
    oracle.load_orders(&orders).await;
    assert_figures(&mut gateway, &oracle, &queries).await;
}
