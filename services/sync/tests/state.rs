//! Sync's own store on SQLite and (when `PORTRAIT_TEST_PG_URL` is set) PostgreSQL.

use portrait_proto::v1::{SyncCounts, SyncJobState, SyncMode};
use portrait_sync::state::{self, Known, Write};
use portrait_sync::{Finding, Kind, Reason};

fn known(placed: i64, live: bool, pending: bool, payload: &[u8]) -> Known {
    Known {
        placed_at_ms: placed,
        live,
        pending,
        payload: payload.to_vec(),
    }
}

async fn contract(url: &str) {
    let store = state::open(url).await.expect("open");
    // Opening twice applies no migration twice.
    let store2 = state::open(url).await.expect("reopen");
    store2.close().await;

    assert_eq!(state::watermark(&store).await.unwrap(), 0);
    let mut tx = store.begin().await.unwrap();
    let rows = vec![
        Write {
            order_id: 5,
            known: known(100, true, false, b"a"),
        },
        Write {
            order_id: 9,
            known: known(300, false, false, b""),
        },
        Write {
            order_id: 5,
            known: known(100, true, true, b"b"),
        },
    ];
    state::write_orders(&mut tx, &rows).await.unwrap();
    state::raise_watermark(&mut tx, 9).await.unwrap();
    state::raise_watermark(&mut tx, 7).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        state::watermark(&store).await.unwrap(),
        9,
        "the watermark never goes down"
    );
    let k = state::known(&store, &[5, 9, 11]).await.unwrap();
    assert_eq!(k.len(), 2);
    assert_eq!(
        k[&5],
        known(100, true, true, b"b"),
        "the last write of an id wins"
    );
    assert_eq!(state::first_id_since(&store, 200).await.unwrap(), Some(9));
    assert_eq!(state::first_id_since(&store, 50).await.unwrap(), Some(5));
    assert_eq!(state::first_id_since(&store, 400).await.unwrap(), None);
    assert_eq!(
        state::maybe_live(&store).await.unwrap(),
        vec![(5, b"b".to_vec())]
    );
    // A pending mark outlives nothing but ingest's answer: settling clears
    // it and leaves the row as written; a settled write clears it too.
    assert_eq!(state::first_pending(&store).await.unwrap(), Some(5));
    let mut tx = store.begin().await.unwrap();
    state::settle(&mut tx, &[5]).await.unwrap();
    state::write_orders(
        &mut tx,
        &[Write {
            order_id: 9,
            known: known(300, false, true, b"c"),
        }],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(state::first_pending(&store).await.unwrap(), Some(9));
    let k = state::known(&store, &[5, 9]).await.unwrap();
    assert_eq!(k[&5], known(100, true, false, b"b"));
    assert_eq!(k[&9], known(300, false, true, b"c"));
    assert_eq!(
        state::maybe_live(&store).await.unwrap(),
        vec![(5, b"b".to_vec()), (9, b"c".to_vec())],
        "a pending retraction may still be live in ingest"
    );
    let mut tx = store.begin().await.unwrap();
    state::write_orders(
        &mut tx,
        &[Write {
            order_id: 9,
            known: known(300, false, false, b"c"),
        }],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(state::first_pending(&store).await.unwrap(), None);

    let job = state::create_job(&store, SyncMode::Full, "manual", 1_000)
        .await
        .unwrap();
    assert_eq!(job.state, SyncJobState::Running as i32);
    let findings: Vec<(Kind, Finding)> = (0..450)
        .map(|i| {
            (
                Kind::Rejected,
                Finding::new(Reason::BadTime, 1_000 - i, format!("row {i}")),
            )
        })
        .chain([(
            Kind::Corrected,
            Finding::new(Reason::DuplicateLine, 3, "dup").line(30),
        )])
        .collect();
    let mut tx = store.begin().await.unwrap();
    state::write_findings(&mut tx, job.job_id, &findings)
        .await
        .unwrap();
    let c = SyncCounts {
        read: 451,
        rejected: 450,
        accepted: 1,
        corrected: 1,
        ..Default::default()
    };
    state::add_counts(&mut tx, job.job_id, &c).await.unwrap();
    state::add_counts(&mut tx, job.job_id, &c).await.unwrap();
    tx.commit().await.unwrap();
    let counts = state::reason_counts(&store, job.job_id).await.unwrap();
    assert_eq!(
        counts,
        vec![
            ("duplicate_line".to_owned(), "corrected".to_owned(), 1),
            ("bad_time".to_owned(), "rejected".to_owned(), 450),
        ]
    );
    let samples = state::samples(&store, job.job_id, "bad_time", "rejected", 2)
        .await
        .unwrap();
    assert_eq!(
        samples.iter().map(|s| s.0).collect::<Vec<_>>(),
        vec![551, 552]
    );
    assert_eq!(
        state::samples(&store, job.job_id, "duplicate_line", "corrected", 5)
            .await
            .unwrap()[0]
            .1,
        30
    );

    assert_eq!(state::latest_finished_job(&store).await.unwrap(), None);
    assert_eq!(state::interrupt_orphans(&store, 2_000).await.unwrap(), 1);
    let j = state::job(&store, job.job_id).await.unwrap().unwrap();
    assert_eq!(j.state, SyncJobState::Interrupted as i32);
    assert_eq!(j.counts.unwrap().read, 902);
    assert_eq!(j.finished_at_ms, 2_000);
    assert_eq!(
        state::latest_finished_job(&store).await.unwrap(),
        Some(job.job_id)
    );
    let second = state::create_job(&store, SyncMode::Incremental, "daily", 3_000)
        .await
        .unwrap();
    state::finish_job(&store, second.job_id, SyncJobState::Succeeded, "", 4_000)
        .await
        .unwrap();
    let jobs = state::jobs(&store, 0, 1).await.unwrap();
    assert_eq!(jobs[0].job_id, second.job_id);
    assert_eq!(
        state::jobs(&store, second.job_id, 5).await.unwrap()[0].job_id,
        job.job_id
    );
    // Keeping one job's findings drops the first job's 451.
    assert_eq!(state::prune_findings(&store, 2).await.unwrap(), 0);
    assert_eq!(state::prune_findings(&store, 1).await.unwrap(), 451);
    assert!(
        state::reason_counts(&store, job.job_id)
            .await
            .unwrap()
            .is_empty()
    );
    store.close().await;
}

#[tokio::test]
async fn sqlite() {
    let dir = tempfile::tempdir().unwrap();
    contract(&format!(
        "sqlite://{}",
        dir.path().join("sync.db").display()
    ))
    .await;
}

#[tokio::test]
async fn postgres() {
    let Some(url) = portrait_testkit::postgres::fresh_database().await else {
        return;
    };
    contract(&url).await;
}
