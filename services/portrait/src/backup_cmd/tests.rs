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

fn topics() -> portrait_service::Topics {
    portrait_service::Topics {
        orders: "orders.v1".into(),
        dlq: "orders.dlq.v1".into(),
        segments: "segments.v1".into(),
    }
}

#[tokio::test]
async fn a_position_beyond_the_copied_log_end_refuses_the_backup() {
    let (_data, parts) = data_dir(4).await;
    let out = tempfile::tempdir().expect("out");
    let err = write_backup(out.path(), &parts, &topics(), None)
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
    let manifest = write_backup(out.path(), &parts, &topics(), None)
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

#[tokio::test]
async fn records_their_producer_copy_does_not_know_are_left_out_of_the_log_copy() {
    use portrait_proto::v1::{OrderEvent, SegmentTransition};
    use prost::Message;

    let dir = tempfile::tempdir().expect("temp dir");
    let (log, ingest, rfm) = (
        dir.path().join("log.db"),
        dir.path().join("ingest.db"),
        dir.path().join("rfm.db"),
    );
    exec(&log, &[
        "CREATE TABLE log (topic TEXT NOT NULL, offset INTEGER NOT NULL, key TEXT NOT NULL, payload BLOB NOT NULL, headers BLOB NOT NULL, PRIMARY KEY (topic, offset))",
    ])
    .await;
    // o1 at revision 2 is known only at revision 1; o2 not at all.
    let orders = [("o0", 1), ("o1", 1), ("o1", 2), ("o2", 1)].map(|(id, revision)| {
        OrderEvent {
            order_id: id.into(),
            revision,
            ..Default::default()
        }
        .encode_to_vec()
    });
    let transitions = [1, 2, 3].map(|sequence| {
        SegmentTransition {
            sequence,
            ..Default::default()
        }
        .encode_to_vec()
    });
    let mut conn = open(&log, false).await.expect("log");
    for (topic, payloads) in [
        ("orders.v1", &orders[..]),
        ("segments.v1", &transitions[..]),
    ] {
        for (offset, payload) in payloads.iter().enumerate() {
            sqlx::query("INSERT INTO log VALUES (?, ?, 'k', ?, x'')")
                .bind(topic)
                .bind(offset as i64)
                .bind(payload)
                .execute(&mut conn)
                .await
                .expect("record");
        }
    }
    exec(
        &ingest,
        &[
            "CREATE TABLE orders (order_id TEXT PRIMARY KEY, revision BIGINT NOT NULL)",
            "INSERT INTO orders VALUES ('o0', 1), ('o1', 1)",
        ],
    )
    .await;
    exec(
        &rfm,
        &[
            "CREATE TABLE published_segment_state (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
            "INSERT INTO published_segment_state VALUES ('last_sequence', 2)",
        ],
    )
    .await;
    let producers = [
        // Offset 0 was in the log before ingest's copy: not even looked at.
        super::trim::Producer {
            topic: "orders.v1",
            mark: 1,
            copy: &ingest,
            kind: super::trim::Kind::Orders,
        },
        super::trim::Producer {
            topic: "segments.v1",
            mark: 0,
            copy: &rfm,
            kind: super::trim::Kind::Segments,
        },
    ];
    let dropped = super::trim::trim(&log, &producers).await.expect("trim");
    assert_eq!(dropped.get("orders.v1"), Some(&2));
    assert_eq!(dropped.get("segments.v1"), Some(&1));
    let left: Vec<(String, i64)> =
        sqlx::query_as("SELECT topic, offset FROM log ORDER BY topic, offset")
            .fetch_all(&mut conn)
            .await
            .expect("left");
    let want = [
        ("orders.v1", 0),
        ("orders.v1", 1),
        ("segments.v1", 0),
        ("segments.v1", 1),
    ]
    .map(|(t, o)| (t.to_owned(), o));
    assert_eq!(left, want);
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn keys_go_with_the_backup_only_when_asked_and_come_back_private() {
    use sha2::Digest as _;

    let (data, parts) = data_dir(3).await;
    let keys = [
        ("admin.token", "tok-admin\n"),
        ("pii.key", "pseudonym-key\n"),
        ("pii_encryption.key", "sealing-key\n"),
    ];
    for (name, text) in keys {
        std::fs::write(data.path().join(name), text).expect("a key file");
    }
    let plain = tempfile::tempdir().expect("out");
    let manifest = write_backup(plain.path(), &parts, &topics(), None)
        .await
        .expect("backup");
    assert!(manifest.keys.is_empty(), "no keys by default");
    for (name, _) in keys {
        assert!(!plain.path().join(name).exists(), "{name} not copied");
    }

    let out = tempfile::tempdir().expect("out");
    let manifest = write_backup(out.path(), &parts, &topics(), Some(data.path()))
        .await
        .expect("backup");
    let listed: Vec<(&str, &str)> = manifest
        .keys
        .iter()
        .map(|k| (k.file.as_str(), k.sha256.as_str()))
        .collect();
    let sums: Vec<String> = keys
        .iter()
        .map(|(_, text)| super::hex(&sha2::Sha256::digest(text.as_bytes())))
        .collect();
    let want: Vec<(&str, &str)> = keys
        .iter()
        .zip(&sums)
        .map(|((name, _), sum)| (*name, sum.as_str()))
        .collect();
    assert_eq!(listed, want);
    for (name, text) in keys {
        let copy = out.path().join(name);
        assert_eq!(std::fs::read_to_string(&copy).expect("copied"), text);
        assert_eq!(mode(&copy), 0o600, "{name}");
    }
    super::keys::verify(out.path(), &manifest.keys).expect("the keys check");

    // Into an empty dir: put back, private.
    let target = tempfile::tempdir().expect("target");
    assert!(super::keys::different(&manifest.keys, target.path()).is_empty());
    super::keys::put(out.path(), &manifest.keys, target.path()).expect("put back");
    for (name, text) in keys {
        let back = target.path().join(name);
        assert_eq!(std::fs::read_to_string(&back).expect("restored"), text);
        assert_eq!(mode(&back), 0o600, "{name}");
    }
    // Another key in the data dir is named (restore refuses it without --force).
    std::fs::write(target.path().join("pii.key"), "another key\n").expect("write");
    assert_eq!(
        super::keys::different(&manifest.keys, target.path()),
        [target.path().join("pii.key")]
    );
    // A damaged key, or a file the manifest calls a key, is refused.
    std::fs::write(out.path().join("pii.key"), "pseudonym-kez\n").expect("write");
    let err = super::keys::verify(out.path(), &manifest.keys).expect_err("damaged");
    assert!(err.to_string().contains("pii.key"), "{err}");
    let mut odd = manifest.keys;
    odd[0].file = "log.db".into();
    let err = super::keys::verify(out.path(), &odd[..1]).expect_err("not a key");
    assert!(err.to_string().contains("log.db"), "{err}");
}

#[tokio::test]
async fn log_ends_are_each_topics_last_offset_plus_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("log.db");
    exec(&path, &[
        "CREATE TABLE log (topic TEXT NOT NULL, offset INTEGER NOT NULL, key TEXT NOT NULL, payload BLOB NOT NULL, headers BLOB NOT NULL, PRIMARY KEY (topic, offset))",
    ])
    .await;
    assert!(
        super::positions::log_ends(&path)
            .await
            .expect("ends")
            .is_empty()
    );
    // Topics that sort around each other, a trimmed start and a gap.
    let mut rows = Vec::new();
    for (topic, offsets) in [
        ("a", vec![0, 1, 2]),
        ("orders.v1", vec![5, 6, 9]),
        ("orders.v10", vec![0]),
        ("segments.v1", (40..140).collect()),
    ] {
        for o in offsets {
            rows.push(format!("('{topic}', {o}, 'k', x'00', x'')"));
        }
    }
    let insert = format!("INSERT INTO log VALUES {}", rows.join(", "));
    exec(&path, &[&insert]).await;
    let ends = super::positions::log_ends(&path).await.expect("ends");
    let mut conn = open(&path, true).await.expect("open");
    let want: std::collections::BTreeMap<String, i64> =
        sqlx::query_as("SELECT topic, MAX(offset) + 1 FROM log GROUP BY topic")
            .fetch_all(&mut conn)
            .await
            .expect("recompute")
            .into_iter()
            .collect();
    assert_eq!(want.len(), 4);
    assert_eq!(ends, want);
}
