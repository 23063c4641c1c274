//! One contract suite for both adapters: the embedded SQLite log and a real
//! Kafka-protocol broker (tansu, started by `tests/run`).

use std::collections::BTreeMap;
use std::time::Duration;

use portrait_bus::{Bus, BusConfig, Message, Record};
use portrait_testkit::broker::{kafka_brokers, unique_topic};

const WAIT: Duration = Duration::from_millis(500);

fn msg(key: &str, n: usize) -> Message {
    Message {
        key: key.to_owned(),
        payload: format!("{key}:{n}").into_bytes(),
        headers: vec![
            ("traceparent".into(), format!("t{n}")),
            ("why".into(), "line\nbreak".into()),
        ],
    }
}

/// Reads until `want` records arrived (or a generous timeout passed).
async fn read(bus: &Bus, topic: &str, start: &[(i32, i64)], want: usize) -> Vec<Record> {
    let mut consumer = bus.consumer(topic, start).await.expect("consumer");
    let mut out = Vec::new();
    for _ in 0..100 {
        out.extend(consumer.next_batch(64, WAIT).await.expect("batch"));
        if out.len() >= want {
            break;
        }
    }
    // Nothing more than what was published.
    assert!(
        consumer
            .next_batch(64, Duration::from_millis(300))
            .await
            .expect("batch")
            .is_empty()
    );
    out
}

fn per_key(records: &[Record]) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in records {
        m.entry(r.key.clone())
            .or_default()
            .push(String::from_utf8_lossy(&r.payload).into_owned());
    }
    m
}

async fn order_per_key_and_round_trip(bus: Bus, _bundled: bool) {
    let topic = unique_topic("order");
    bus.ensure_topic(&topic).await.expect("topic");
    bus.ensure_topic(&topic)
        .await
        .expect("ensure_topic is idempotent");
    let messages: Vec<Message> = (0..60).map(|n| msg(["a", "b", "c"][n % 3], n)).collect();
    bus.publish(&topic, &messages[..30]).await.expect("publish");
    bus.publish(&topic, &messages[30..]).await.expect("publish");
    let records = read(&bus, &topic, &[], 60).await;
    assert_eq!(records.len(), 60);
    let keys = per_key(&records);
    for (i, key) in ["a", "b", "c"].iter().enumerate() {
        let want: Vec<String> = (0..60)
            .filter(|n| n % 3 == i)
            .map(|n| format!("{key}:{n}"))
            .collect();
        assert_eq!(keys[*key], want, "records of {key} in publish order");
    }
    let r = records.iter().find(|r| r.payload == b"b:7").expect("b:7");
    assert_eq!(r.headers, msg("b", 7).headers);
    assert_eq!(r.topic, topic);
    // The end offsets are where a consumer that read everything stands.
    let mut next: BTreeMap<i32, i64> = BTreeMap::new();
    for r in &records {
        let n = next.entry(r.partition).or_default();
        // A bundle's entries share its offset.
        assert!(
            r.offset + 1 >= *n,
            "offsets never go back within a partition"
        );
        *n = r.offset + 1;
    }
    let ends: BTreeMap<i32, i64> = bus
        .end_offsets(&topic)
        .await
        .expect("ends")
        .into_iter()
        .filter(|(_, e)| *e > 0)
        .collect();
    assert_eq!(ends, next);
}

async fn resume_from_positions(bus: Bus, bundled: bool) {
    let topic = unique_topic("resume");
    bus.ensure_topic(&topic).await.expect("topic");
    let messages: Vec<Message> = (0..40).map(|n| msg(&format!("k{}", n % 5), n)).collect();
    bus.publish(&topic, &messages).await.expect("publish");
    let mut consumer = bus.consumer(&topic, &[]).await.expect("consumer");
    let mut first = Vec::new();
    while first.len() < 15 {
        first.extend(
            consumer
                .next_batch(15 - first.len(), WAIT)
                .await
                .expect("batch"),
        );
    }
    if bundled {
        // A bundle is returned whole, so a batch may pass its max.
        assert!(first.len() >= 15);
    } else {
        assert_eq!(first.len(), 15, "max is respected");
    }
    let mut positions: BTreeMap<i32, i64> = BTreeMap::new();
    for r in &first {
        positions.insert(r.partition, r.offset + 1);
    }
    let positions: Vec<(i32, i64)> = positions.into_iter().collect();
    let rest = read(&bus, &topic, &positions, 40 - first.len()).await;
    let mut all: Vec<Vec<u8>> = first
        .iter()
        .chain(&rest)
        .map(|r| r.payload.clone())
        .collect();
    all.sort();
    let mut want: Vec<Vec<u8>> = messages.iter().map(|m| m.payload.clone()).collect();
    want.sort();
    assert_eq!(all, want, "no record lost or repeated across the restart");
}

async fn empty_wait_and_concurrent_publishers(bus: Bus, _bundled: bool) {
    let topic = unique_topic("concurrent");
    bus.ensure_topic(&topic).await.expect("topic");
    let mut consumer = bus.consumer(&topic, &[]).await.expect("consumer");
    let started = std::time::Instant::now();
    assert!(
        consumer
            .next_batch(10, Duration::from_millis(300))
            .await
            .expect("batch")
            .is_empty()
    );
    assert!(started.elapsed() >= Duration::from_millis(250));
    let tasks: Vec<_> = (0..4)
        .map(|t| {
            let bus = bus.clone();
            let topic = topic.clone();
            tokio::spawn(async move {
                for round in 0..5 {
                    let batch: Vec<Message> = (0..10)
                        .map(|n| msg(&format!("p{t}"), round * 10 + n))
                        .collect();
                    bus.publish(&topic, &batch).await.expect("publish");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("publisher");
    }
    let records = read(&bus, &topic, &[], 200).await;
    assert_eq!(records.len(), 200);
    for (key, payloads) in per_key(&records) {
        let want: Vec<String> = (0..50).map(|n| format!("{key}:{n}")).collect();
        assert_eq!(payloads, want, "one publisher's records stay in order");
    }
}

async fn embedded() -> (Bus, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("dir");
    let bus = Bus::connect(&BusConfig::Embedded {
        path: dir.path().join("sub/log.db"),
    })
    .await
    .expect("embedded log");
    (bus, dir)
}

/// `bundle_records` 1 is plain records; more puts them in bundles.
async fn kafka(bundle_records: u32) -> Option<Bus> {
    let bus = Bus::connect(&BusConfig::Kafka {
        brokers: kafka_brokers()?,
        partitions: 3,
        // tansu 0.6 needs one record per producer batch (see bus.max_batch_records).
        max_batch_records: 1,
        bundle_records,
        fetch_wait_ms: 50,
    })
    .await
    .expect("kafka");
    Some(bus)
}

macro_rules! both {
    ($($name:ident),*) => {
        mod on_embedded_log {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (bus, _dir) = super::embedded().await;
                super::$name(bus, false).await;
            })*
        }
        mod on_kafka {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(bus) = super::kafka(1).await else { return };
                super::$name(bus, false).await;
            })*
        }
        mod on_kafka_in_bundles {
            // 7 a bundle: every publish above makes several per partition.
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(bus) = super::kafka(7).await else { return };
                super::$name(bus, true).await;
            })*
        }
    };
}

/// A partition's bounds: where reading can start and where the next record goes.
async fn bounds_follow_the_log(bus: Bus, _bundled: bool) {
    let topic = unique_topic("bounds");
    bus.ensure_topic(&topic).await.expect("topic");
    let before = bus.bounds(&topic).await.expect("bounds");
    assert!(!before.is_empty(), "every partition is listed");
    assert!(
        before.iter().all(|b| b.start == 0 && b.end == 0),
        "{before:?}"
    );
    let messages: Vec<Message> = (0..12).map(|n| msg(&format!("k{}", n % 4), n)).collect();
    bus.publish(&topic, &messages).await.expect("publish");
    let records = read(&bus, &topic, &[], 12).await;
    let mut next: BTreeMap<i32, i64> = BTreeMap::new();
    for r in &records {
        next.insert(r.partition, r.offset + 1);
    }
    let after = bus.bounds(&topic).await.expect("bounds");
    for b in &after {
        assert_eq!(b.start, 0, "{after:?}");
        assert_eq!(
            b.end,
            next.get(&b.partition).copied().unwrap_or(0),
            "{after:?}"
        );
    }
    let ends: Vec<(i32, i64)> = after.iter().map(|b| (b.partition, b.end)).collect();
    assert_eq!(ends, bus.end_offsets(&topic).await.expect("ends"));
}

both!(
    bounds_follow_the_log,
    order_per_key_and_round_trip,
    resume_from_positions,
    empty_wait_and_concurrent_publishers
);

/// Bundles go where plain records of their keys go, so a topic can switch
/// between the two without moving a key, and readers take both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundles_and_plain_records_share_a_topic_and_its_partitions() {
    let (Some(plain), Some(bundled)) = (kafka(1).await, kafka(50).await) else {
        return;
    };
    let topic = unique_topic("switch");
    plain.ensure_topic(&topic).await.expect("topic");
    let messages: Vec<Message> = (0..300).map(|n| msg(&format!("c-{}", n % 40), n)).collect();
    plain
        .publish(&topic, &messages[..100])
        .await
        .expect("publish");
    bundled
        .publish(&topic, &messages[100..250])
        .await
        .expect("publish");
    plain
        .publish(&topic, &messages[250..])
        .await
        .expect("publish");
    let records = read(&plain, &topic, &[], 300).await;
    assert_eq!(records.len(), 300);
    let mut partition_of: BTreeMap<&str, i32> = BTreeMap::new();
    for r in &records {
        let p = *partition_of.entry(&r.key).or_insert(r.partition);
        assert_eq!(p, r.partition, "key {} on one partition", r.key);
    }
    assert!(
        partition_of
            .values()
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            > 1,
        "40 keys spread over the partitions"
    );
    for (key, payloads) in per_key(&records) {
        let want: Vec<String> = (0..300)
            .filter(|n| format!("c-{}", n % 40) == key)
            .map(|n| format!("{key}:{n}"))
            .collect();
        assert_eq!(payloads, want, "publish order kept across the switch");
    }
    // Far fewer log records than messages: 150 in bundles of up to 50.
    let ends: i64 = plain
        .end_offsets(&topic)
        .await
        .expect("ends")
        .iter()
        .map(|(_, e)| e)
        .sum();
    assert!(ends < 150 + 10, "{ends} records for 300 messages");
}

#[tokio::test]
async fn embedded_log_survives_reopen() {
    let dir = tempfile::tempdir().expect("dir");
    let config = BusConfig::Embedded {
        path: dir.path().join("log.db"),
    };
    let bus = Bus::connect(&config).await.expect("open");
    bus.publish("t", &[msg("a", 1), msg("a", 2)])
        .await
        .expect("publish");
    drop(bus);
    let bus = Bus::connect(&config).await.expect("reopen");
    bus.publish("t", &[msg("a", 3)]).await.expect("publish");
    assert_eq!(bus.end_offsets("t").await.expect("ends"), [(0, 3)]);
    let records = read(&bus, "t", &[(0, 1)], 2).await;
    assert_eq!(records.iter().map(|r| r.offset).collect::<Vec<_>>(), [1, 2]);
}

/// The embedded log writes many rows per statement: a publish longer than
/// one statement keeps every record, in order, at consecutive offsets.
#[tokio::test]
async fn embedded_publish_across_statements_keeps_order_and_offsets() {
    let (bus, _dir) = embedded().await;
    let messages: Vec<Message> = (0..450).map(|n| msg(["a", "b"][n % 2], n)).collect();
    bus.publish("t", &messages[..401]).await.expect("publish");
    bus.publish("t", &messages[401..]).await.expect("publish");
    assert_eq!(bus.end_offsets("t").await.expect("ends"), [(0, 450)]);
    let records = read(&bus, "t", &[], 450).await;
    let offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, (0..450).collect::<Vec<i64>>());
    let payloads: Vec<&[u8]> = records.iter().map(|r| r.payload.as_slice()).collect();
    let want: Vec<&[u8]> = messages.iter().map(|m| m.payload.as_slice()).collect();
    assert_eq!(payloads, want);
    assert_eq!(records[333].headers, messages[333].headers);
    assert_eq!(records[333].key, "b");
}
