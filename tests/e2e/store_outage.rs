//! A consumer's database that goes away mid-stream (issue 12, faults 3 and 5), behind a proxy
//! the test controls: first every connection dropped again and again while batches commit
//! (inside their transactions), then the database unreachable for longer than the pool's
//! acquire timeout. Meanwhile the profiler says so — health NOT_SERVING, GetSyncStatus not
//! caught up and naming the failure — and when the database is back it resumes by itself:
//! nothing is restarted and every figure equals the oracle.

use std::time::Duration;

use portrait_proto::v1::ingest_service_client::IngestServiceClient;
use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{SyncStatus, SyncStatusRequest};
use portrait_testkit::proxy::Proxy;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::pipeline::{assert_figures, scenario, submit};
use crate::stack::Stack;

async fn profiler_health(stack: &Stack) -> ServingStatus {
    let mut client = HealthClient::new(stack.channel("profiler").await);
    let answer = client
        .check(HealthCheckRequest {
            service: "portrait.v1.ProfilerQuery".to_owned(),
        })
        .await
        .expect("health answers while the database is away")
        .into_inner();
    ServingStatus::try_from(answer.status).unwrap_or(ServingStatus::Unknown)
}

/// Polls the status until `done` holds (at most a minute).
async fn status_until(stack: &Stack, done: impl Fn(&SyncStatus) -> bool) -> SyncStatus {
    let mut gateway = PortraitServiceClient::new(stack.channel("gateway").await);
    let mut last = None;
    for _ in 0..600 {
        if let Ok(s) = gateway.get_sync_status(SyncStatusRequest {}).await {
            let s = s.into_inner();
            if done(&s) {
                return s;
            }
            last = Some(s);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the status never came: {last:?}\n{}", stack.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_database_that_goes_away_is_reported_and_ridden_out() {
    let Some(brokers) = portrait_testkit::broker::kafka_brokers() else {
        return;
    };
    let Some(mut stores) = crate::stack::fresh_stores().await else {
        return;
    };
    let Some(oracle) = crate::oracle::Oracle::fresh().await else {
        return;
    };
    let (proxy, via) = Proxy::in_front_of(&stores["profiler"]).await;
    stores.insert("profiler", via);
    let mut stack = Stack::new(stores, brokers);
    stack.start_all();
    let (orders, queries) = scenario();
    let mut ingest = IngestServiceClient::new(stack.channel("ingest").await);
    let mut gateway = PortraitServiceClient::new(stack.channel("gateway").await);
    let third = orders.len() / 3;
    submit(&mut ingest, &orders[..third]).await;
    stack.wait_caught_up().await;

    // Every connection dropped five times while the second third is applied, a second
    // apart: some land inside a batch's transaction, which must then count nothing and be
    // applied again.
    let resetting = async {
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_millis(1_000)).await;
            proxy.reset();
        }
    };
    let feeding = submit(&mut ingest, &orders[third..2 * third]);
    tokio::join!(resetting, feeding);
    stack.wait_caught_up().await;
    let failures = stack.log_of("profiler").matches("consumer failed").count();
    eprintln!("batches failed by a dropped connection: {failures}");

    // Away for longer than the acquire timeout (2 s) while orders arrive.
    proxy.cut();
    submit(&mut ingest, &orders[2 * third..]).await;
    let down = status_until(&stack, |s| {
        s.condition
            .contains("profiler: failing: its database is unreachable")
    })
    .await;
    assert!(!down.caught_up, "{down:?}");
    let profiler = (down.consumers.iter()).find(|c| c.service == "profiler");
    assert!(profiler.is_some_and(|c| !c.failure.is_empty()), "{down:?}");
    assert_eq!(profiler_health(&stack).await, ServingStatus::NotServing);
    tokio::time::sleep(Duration::from_secs(3)).await;
    proxy.restore();

    let status = stack.wait_caught_up().await;
    assert!(status.condition.is_empty(), "{status:?}");
    assert_eq!(profiler_health(&stack).await, ServingStatus::Serving);
    assert_eq!(stack.exited(), [], "no process ended");
    oracle.load_orders(&orders).await;
    assert_figures(&mut gateway, &oracle, &queries).await;
}
