use std::path::Path;

use sqlx::Connection;

use super::{MANIFEST, Part, open, write_backup};

async fn exec(path: &Path, statements: &[&str]) {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&options)
        .await
        .expect("create");
    for s in statements {
        sqlx::query(s).execute(&mut conn).await.expect("statement");
    }
}

/// A data dir whose log holds 3 records of orders.v1 and whose profiler
/// store says it will read on at `next`.
async fn data_dir(next: i64) -> (tempfile::TempDir, Vec<Part>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let p = |f: &str| dir.path().join(f);
    exec(&p("log.db"), &[
        "CREATE TABLE log (topic TEXT NOT NULL, offset INTEGER NOT NULL, key TEXT NOT NULL, payload BLOB NOT NULL, headers BLOB NOT NULL, PRIMARY KEY (topic, offset))",
        "INSERT INTO log VALUES ('orders.v1', 0, 'a', x'00', x''), ('orders.v1', 1, 'b', x'00', x''), ('orders.v1', 2, 'c', x'00', x'')",
    ])
    .await;
    let insert = format!("INSERT INTO positions VALUES ('orders.v1', 0, {next})");
    exec(&p("profiler.db"), &[
        "CREATE TABLE positions (topic TEXT NOT NULL, part BIGINT NOT NULL, next_offset BIGINT NOT NULL)",
        &insert,
    ])
    .await;
    exec(
        &p("ingest.db"),
        &["CREATE TABLE outbox (id INTEGER PRIMARY KEY)"],
    )
    .await;
    let parts = [("profiler", false), ("ingest", true), ("log", true)]
        .map(|(role, required)| Part {
            role: role.into(),
            path: p(&format!("{role}.db")),
            required,
        })
        .into();
    (dir, parts)
}

#[tokio::test]
async fn a_position_beyond_the_copied_log_end_refuses_the_backup() {
    let (_data, parts) = data_dir(4).await;
    let out = tempfile::tempdir().expect("out");
    let err = write_backup(out.path(), &parts, "segments.v1")
        .await
        .expect_err("refused");
    let text = err.to_string();
    assert!(
        text.contains("refusing") && text.contains("profiler.db") && text.contains("end 3"),
        "{text}"
    );
    assert!(
        !out.path().join(MANIFEST).exists(),
        "no manifest without the check"
    );
}

#[tokio::test]
async fn positions_at_the_log_end_are_recorded_with_the_files() {
    let (_data, parts) = data_dir(3).await;
    let out = tempfile::tempdir().expect("out");
    let manifest = write_backup(out.path(), &parts, "segments.v1")
        .await
        .expect("backup");
    let files: Vec<&str> = manifest.files.iter().map(|f| f.file.as_str()).collect();
    assert_eq!(files, ["profiler.db", "ingest.db", "log.db"]);
    assert_eq!(manifest.log_ends.get("orders.v1"), Some(&3));
    assert_eq!(manifest.positions.len(), 1);
    assert_eq!(manifest.positions[0].next_offset, 3);
    // The copies are whole databases: the log copy reads back its records.
    let mut conn = open(&out.path().join("log.db"), true)
        .await
        .expect("copy opens");
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM log")
        .fetch_one(&mut conn)
        .await
        .expect("count");
    assert_eq!(n, 3);
}
