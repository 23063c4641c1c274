//! The distributed stores' backup as docs/operations.md describes it, followed
//! step by step: `pg_dump -Fc` of the profiler's database while orders arrive,
//! more orders, the database dropped, created again and `pg_restore`d, the
//! service started again: it resumes from the restored positions and every
//! figure equals the oracle; then more orders count exactly once.

use std::path::{Path, PathBuf};
use std::process::Command;

use portrait_proto::v1::ingest_service_client::IngestServiceClient;
use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use sqlx::{Connection, Executor, PgConnection, Row};

use crate::oracle::Oracle;
use crate::pipeline::{assert_figures, scenario, submit};
use crate::stack::Stack;

/// The PostgreSQL client tools beside the server `tests/run` starts.
fn pg_tool(name: &str) -> PathBuf {
    let mut bins: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    bins.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    bins.into_iter()
        .rev()
        .map(|b| b.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(name))
}

fn run(tool: &str, args: &[&str]) {
    let out = Command::new(pg_tool(tool))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool}: {e}"));
    assert!(
        out.status.success(),
        "{tool} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn positions(url: &str) -> Vec<(i64, i64)> {
    let mut conn = PgConnection::connect(url).await.expect("restored database");
    sqlx::query("SELECT part, next_offset FROM positions ORDER BY part")
        .fetch_all(&mut conn)
        .await
        .expect("positions")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_dump_of_a_consumer_mid_stream_restores_and_resumes_exactly_once() {
    let Some(brokers) = portrait_testkit::broker::kafka_brokers() else {
        return;
    };
    let Some(stores) = crate::stack::fresh_stores().await else {
        return;
    };
    let Some(oracle) = Oracle::fresh().await else {
        return;
    };
    let admin = std::env::var("PORTRAIT_TEST_PG_URL").expect("set when databases are");
    let profiler = stores["profiler"].clone();
    let name = profiler
        .rsplit('/')
        .next()
        .expect("a database name")
        .to_owned();
    let mut stack = Stack::new(stores, brokers);
    stack.start_all();
    let (orders, queries) = scenario();
    let mut ingest = IngestServiceClient::new(stack.channel("ingest").await);
    let half = orders.len() / 2;
    submit(&mut ingest, &orders[..half]).await;
    stack.wait_caught_up().await;

    // 1. The dump, taken while the next sixth arrives (one snapshot: the
    //    projection and its positions agree whatever the profiler commits meanwhile).
    let dump = stack.dir.path().join("profiler.dump");
    let cut = orders.len() * 2 / 3;
    let feeder = {
        let (mut ingest, wave) = (ingest.clone(), orders[half..cut].to_vec());
        tokio::spawn(async move { submit(&mut ingest, &wave).await })
    };
    let dumped = tokio::task::spawn_blocking({
        let (url, file) = (profiler.clone(), dump.display().to_string());
        move || run("pg_dump", &["-Fc", "-d", &url, "-f", &file])
    });
    dumped.await.expect("pg_dump ran");
    feeder.await.expect("feeder");
    stack.wait_caught_up().await;

    // 2. The database is lost: stop the service, drop and create it, restore.
    stack.kill9("profiler");
    let mut conn = PgConnection::connect(&admin)
        .await
        .expect("admin connection");
    conn.execute(format!("DROP DATABASE {name} WITH (FORCE)").as_str())
        .await
        .expect("drop");
    conn.execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .expect("create");
    restore(&dump, &profiler);
    let restored = positions(&profiler).await;
    assert!(
        restored.iter().map(|(_, n)| n).sum::<i64>() > 0,
        "the dump holds positions mid-stream: {restored:?}"
    );

    // 3. Started again, it resumes from them and applies the rest once.
    stack.start("profiler");
    stack.wait_caught_up().await;
    let resumed = positions(&profiler).await;
    assert!(
        resumed.iter().zip(&restored).any(|(a, b)| a.1 > b.1),
        "the restored profiler read on from its positions: {restored:?} → {resumed:?}"
    );
    oracle.load_orders(&orders[..cut]).await;
    let mut gateway = PortraitServiceClient::new(stack.channel("gateway").await);
    assert_figures(&mut gateway, &oracle, &queries).await;

    submit(&mut ingest, &orders[cut..]).await;
    stack.wait_caught_up().await;
    oracle.load_orders(&orders).await;
    assert_figures(&mut gateway, &oracle, &queries).await;
}

fn restore(dump: &Path, url: &str) {
    run(
        "pg_restore",
        &[
            "--exit-on-error",
            "--no-owner",
            "-d",
            url,
            &dump.display().to_string(),
        ],
    );
}
