//! Backups (issue 11). Embedded: `portrait backup` while `portrait run` serves
//! and orders still arrive, the data dir wiped, `portrait restore`: the figures
//! equal the oracle over the orders the backup holds, then the rest of the
//! stream, with re-sends, counts exactly once. Distributed: the documented
//! pg_dump / pg_restore procedure for one consumer's database mid-stream.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use portrait_proto::v1::ingest_service_client::IngestServiceClient;
use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{Order, OrderEvent, OrderStatus, SubmitOrderRequest};
use prost::Message;
use sqlx::{Connection, Row};

use crate::oracle::Oracle;
use crate::pipeline::{assert_figures, scenario, submit};
use crate::stack::{Stack, bin_dir};

pub(crate) fn portrait(args: &[&str]) -> Output {
    Command::new(bin_dir().join("portrait"))
        .args(args)
        .env_remove("PORTRAIT_CONFIG")
        .output()
        .expect("portrait runs")
}

pub(crate) fn said(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// What an order's figures rest on, as the test and the events both carry it.
type Key = (String, String, String, i64, i64, i32);

fn key(o: &Order) -> Key {
    (
        o.order_id.clone(),
        o.customer_id.clone(),
        o.store_id.clone(),
        o.placed_at_ms,
        o.net_amount_fen,
        o.channel,
    )
}

/// Each order's latest version in `orders`: live (paid) or refunded; a
/// cancelled order counts nowhere and is left out, as if never sent.
fn latest(orders: &[Order]) -> Vec<(bool, Key)> {
    let mut by_id: BTreeMap<&str, &Order> = BTreeMap::new();
    for o in orders {
        by_id.insert(&o.order_id, o);
    }
    by_id
        .into_values()
        .filter_map(|o| match OrderStatus::try_from(o.status) {
            Ok(OrderStatus::Paid) => Some((true, key(o))),
            Ok(OrderStatus::Refunded) => Some((false, key(o))),
            _ => None,
        })
        .collect()
}

/// The orders a backup will deliver: the events of its log copy and of its
/// ingest copy's outbox (rows not yet published when it was copied), each
/// order at its highest revision, live or refunded. Read with plain SQL and
/// protobuf decoding.
async fn orders_in_backup(dir: &Path) -> Vec<(bool, Key)> {
    let mut events = Vec::new();
    for (file, sql) in [
        (
            "log.db",
            "SELECT payload FROM log WHERE topic = 'orders.v1'",
        ),
        ("ingest.db", "SELECT payload FROM outbox"),
    ] {
        let url = format!("sqlite://{}?mode=ro", dir.join(file).display());
        let mut conn = sqlx::SqliteConnection::connect(&url)
            .await
            .expect("open a backup copy");
        for row in sqlx::query(sql)
            .fetch_all(&mut conn)
            .await
            .expect("read events")
        {
            let payload: Vec<u8> = row.get(0);
            events.push(OrderEvent::decode(payload.as_slice()).expect("an order event"));
        }
    }
    // The restored ingest must know every event the restored log holds, or it
    // would hand their revisions out again for other changes.
    let url = format!("sqlite://{}?mode=ro", dir.join("ingest.db").display());
    let mut conn = sqlx::SqliteConnection::connect(&url)
        .await
        .expect("open the ingest copy");
    let known: BTreeMap<String, i64> = sqlx::query_as("SELECT order_id, revision FROM orders")
        .fetch_all(&mut conn)
        .await
        .expect("ingest's orders")
        .into_iter()
        .collect();
    for e in &events {
        assert!(
            known.get(&e.order_id).is_some_and(|r| *r >= e.revision),
            "the backup's log holds {} revision {} that its ingest copy does not know",
            e.order_id,
            e.revision
        );
    }
    let mut by_id: BTreeMap<String, OrderEvent> = BTreeMap::new();
    for e in events {
        if by_id
            .get(&e.order_id)
            .is_none_or(|l| l.revision < e.revision)
        {
            by_id.insert(e.order_id.clone(), e);
        }
    }
    by_id
        .values()
        .filter_map(|e| match (&e.order, &e.refunded) {
            (Some(o), _) => Some((true, key(o))),
            (None, Some(r)) => Some((false, key(r))),
            (None, None) => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_backup_while_serving_then_restore_answers_as_before_and_applies_more_once() {
    let Some(oracle) = Oracle::fresh().await else {
        return;
    };
    let (orders, queries) = scenario();
    let mut stack = Stack::embedded();
    stack.start_all();
    let data = stack.dir.path().join("data");
    let backup = stack.dir.path().join("backup");
    let (data_s, backup_s) = (data.display().to_string(), backup.display().to_string());
    let mut ingest = IngestServiceClient::new(stack.channel("ingest").await);
    let half = orders.len() / 2;
    submit(&mut ingest, &orders[..half]).await;
    stack.wait_caught_up().await;

    // The next sixth arrives one order at a time, every 20 ms, while the backup runs.
    let cut = orders.len() * 2 / 3;
    let acked = Arc::new(AtomicUsize::new(half));
    let feeder = {
        let (acked, wave) = (acked.clone(), orders[half..cut].to_vec());
        let mut ingest = ingest.clone();
        tokio::spawn(async move {
            for o in wave {
                ingest
                    .submit_order(SubmitOrderRequest { order: Some(o) })
                    .await
                    .expect("order accepted");
                acked.fetch_add(1, Ordering::SeqCst);
                // Paced, so the wave outlasts the backup however fast the machine
                // (a CI run once sent it all before the backup ended).
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        })
    };
    while acked.load(Ordering::SeqCst) < half + 10 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let before = acked.load(Ordering::SeqCst);
    let out = tokio::task::spawn_blocking({
        let (b, d) = (backup_s.clone(), data_s.clone());
        move || portrait(&["backup", &b, "--data-dir", &d])
    })
    .await
    .expect("backup ran");
    // One more may have been committed but not yet acknowledged.
    let after = acked.load(Ordering::SeqCst) + 1;
    assert!(out.status.success(), "backup failed: {}", said(&out));
    eprintln!("{}", said(&out));
    assert!(
        after < cut,
        "the backup ran while orders still arrived ({after} of {cut} sent)"
    );
    for part in [
        "sync.db",
        "profiler.db",
        "suggest.db",
        "rfm.db",
        "ingest.db",
        "log.db",
    ] {
        assert!(
            said(&out).contains(part),
            "progress names {part}: {}",
            said(&out)
        );
    }
    feeder.await.expect("feeder");

    // Restore refuses while the stack holds the data dir.
    let out = portrait(&["restore", &backup_s, "--data-dir", &data_s, "--force"]);
    assert!(
        !out.status.success() && said(&out).contains("in use"),
        "{}",
        said(&out)
    );

    // Stop, wipe.
    stack.kill9("portrait");
    std::fs::remove_dir_all(&data).expect("wipe the data dir");

    // A damaged copy is refused, naming the file, before anything is written.
    let tampered = stack.dir.path().join("tampered");
    std::fs::create_dir(&tampered).expect("tampered dir");
    for entry in std::fs::read_dir(&backup).expect("backup dir") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), tampered.join(entry.file_name())).expect("copy");
    }
    let victim = tampered.join("profiler.db");
    let mut bytes = std::fs::read(&victim).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x5a;
    std::fs::write(&victim, bytes).expect("write");
    let out = portrait(&[
        "restore",
        &tampered.display().to_string(),
        "--data-dir",
        &data_s,
    ]);
    assert!(!out.status.success(), "a damaged backup is refused");
    assert!(
        said(&out).contains("profiler.db"),
        "names the file: {}",
        said(&out)
    );
    let written: Vec<PathBuf> = std::fs::read_dir(&data)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "db"))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        written.is_empty(),
        "nothing restored from a damaged backup: {written:?}"
    );

    let out = portrait(&["restore", &backup_s, "--data-dir", &data_s]);
    assert!(out.status.success(), "restore failed: {}", said(&out));
    let out = portrait(&["restore", &backup_s, "--data-dir", &data_s]);
    assert!(
        !out.status.success() && said(&out).contains("--force"),
        "a data dir that is not empty needs --force: {}",
        said(&out)
    );

    // The backup holds the stream up to some order between the last one
    // acknowledged before it started and the last one sent when it ended.
    let held = orders_in_backup(&backup).await;
    let k = (before..=after.min(cut))
        .find(|&k| latest(&orders[..k]) == held)
        .unwrap_or_else(|| {
            panic!("the backup holds no prefix of the stream between {before} and {after}")
        });

    stack.start_all();
    stack.wait_caught_up().await;
    oracle.load_orders(&orders[..k]).await;
    let mut gateway = PortraitServiceClient::new(stack.channel("gateway").await);
    assert_figures(&mut gateway, &oracle, &queries).await;

    // The rest of the stream, from 300 orders before where the backup ends:
    // re-sends (older versions of some orders, which then change again),
    // later versions of orders in the backup, new orders. Each must get the
    // revision after the one the restored ingest holds, which the consumers
    // have not applied yet: the backup's ingest and log must agree.
    let mut ingest = IngestServiceClient::new(stack.channel("ingest").await);
    submit(&mut ingest, &orders[k.saturating_sub(300)..]).await;
    stack.wait_caught_up().await;
    oracle.load_orders(&orders).await;
    assert_figures(&mut gateway, &oracle, &queries).await;
}
