//! PostgreSQL restarted mid-batch (issue 12, fault 4), for real: every service's database
//! on a server of the test's own, `pg_ctl restart -m immediate` (connections cut, open
//! transactions lost, crash recovery) twice while the consumers apply batches and ingest's
//! relay publishes and deletes. Nothing is restarted by hand; afterwards every figure equals
//! the oracle, so no batch was lost or counted twice.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use portrait_proto::v1::ingest_service_client::IngestServiceClient;
use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{Order, SyncStatusRequest};
use portrait_testkit::pg_server::PgServer;
use portrait_testkit::postgres::fresh_database_on;
use tonic::transport::Channel;

use crate::pipeline::{assert_figures, scenario, try_submit};
use crate::stack::Stack;

/// Submits until ingest accepts: while its database restarts it answers UNAVAILABLE, and a
/// client sends again (the same versions again change nothing).
async fn submit_through(ingest: &mut IngestServiceClient<Channel>, orders: &[Order]) {
    for _ in 0..300 {
        match try_submit(ingest, orders).await {
            Ok(()) => return,
            Err(e) => {
                assert_eq!(e.code(), tonic::Code::Unavailable, "{e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    panic!("ingest never accepted the orders again");
}

async fn restart(server: &Arc<PgServer>) {
    let server = server.clone();
    tokio::task::spawn_blocking(move || server.restart_immediately())
        .await
        .expect("restart");
}

/// Events the consumers applied so far, for the log of what the restart hit.
async fn applied(gateway: &mut PortraitServiceClient<Channel>) -> Vec<(String, i64)> {
    gateway
        .get_sync_status(SyncStatusRequest {})
        .await
        .map(|s| {
            (s.into_inner().consumers.into_iter())
                .map(|c| (c.service, c.events_applied))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_mid_batch_is_ridden_out_exactly() {
    let Some(brokers) = portrait_testkit::broker::kafka_brokers() else {
        return;
    };
    let Some(server) = PgServer::start("restart") else {
        return;
    };
    let Some(oracle) = crate::oracle::Oracle::fresh().await else {
        return;
    };
    let server = Arc::new(server);
    let mut stores = BTreeMap::new();
    for s in ["ingest", "profiler", "rfm", "suggest"] {
        stores.insert(s, fresh_database_on(&server.url()).await);
    }
    let mut stack = Stack::new(stores, brokers);
    stack.start_all();
    let (orders, queries) = scenario();
    let mut ingest = IngestServiceClient::new(stack.channel("ingest").await);
    let mut gateway = PortraitServiceClient::new(stack.channel("gateway").await);

    let half = orders.len() / 2;
    let mut before = 0;
    for part in [&orders[..half], &orders[half..]] {
        submit_through(&mut ingest, part).await;
        // Restart once a consumer has begun on this part: it applies in batches of 300.
        let mut now = Vec::new();
        for _ in 0..500 {
            now = applied(&mut gateway).await;
            if now.iter().any(|(_, n)| *n > before) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        eprintln!("restarting under {now:?}");
        restart(&server).await;
        before = now.iter().map(|(_, n)| *n).max().unwrap_or(0);
    }

    let status = stack.wait_caught_up().await;
    assert!(status.condition.is_empty(), "{status:?}");
    assert_eq!(stack.exited(), [], "no process ended");
    eprintln!(
        "batches failed by the restarts: {}",
        stack.logs().matches("consumer failed").count()
    );
    oracle.load_orders(&orders).await;
    assert_figures(&mut gateway, &oracle, &queries).await;
}
