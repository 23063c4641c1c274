//! Segment transitions (`segments.v1`) end to end: the events read back from
//! the topic, deduplicated by sequence number and folded per customer, equal
//! the chain-wide segments the oracle recomputes in SQL over the raw accepted
//! orders (as of today, all stores, the default mean thresholds); each event's
//! `before` is the customer's previous event's `after`; a re-send carries its
//! old number and the same event; the suggest service's flows equal a count
//! over the events. Through kill -9 of the rfm and suggest services (and of
//! the whole embedded process) mid-stream.

use std::collections::BTreeMap;
use std::time::Duration;

use portrait_bus::{Bus, BusConfig, Message, Record};
use portrait_proto::v1::ingest_service_client::IngestServiceClient;
use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{
    Order, SegmentFlowsRequest, SegmentPosition, SegmentTransition, TransitionKind,
};
use prost::Message as _;
use tonic::transport::Channel;

use crate::oracle::{Oracle, Q};
use crate::pipeline::{accepted, scenario, submit};
use crate::stack::Stack;

const SEQUENCE_HEADER: &str = "portrait-sequence";

/// Today in the chain's zone (China Standard Time has no daylight saving).
fn today() -> String {
    (chrono::Utc::now() + chrono::Duration::hours(8))
        .format("%Y-%m-%d")
        .to_string()
}

/// Every record the topic holds now. Read until each partition's end, not
/// until as many records as offsets: a bundle is one offset and many events.
async fn read_topic(bus: &Bus, topic: &str) -> Vec<Record> {
    let ends: BTreeMap<i32, i64> = (bus.end_offsets(topic).await)
        .expect("segments topic ends")
        .into_iter()
        .filter(|(_, end)| *end > 0)
        .collect();
    let mut consumer = bus.consumer(topic, &[]).await.expect("segments consumer");
    let mut out: Vec<Record> = Vec::new();
    let mut next: BTreeMap<i32, i64> = BTreeMap::new();
    let behind = |next: &BTreeMap<i32, i64>| {
        (ends.iter())
            .filter(|(p, end)| next.get(p).copied().unwrap_or(0) < **end)
            .count()
    };
    for _ in 0..200 {
        if behind(&next) == 0 {
            break;
        }
        let batch = consumer
            .next_batch(5_000, Duration::from_millis(200))
            .await
            .expect("segments batch");
        for r in &batch {
            let at = next.entry(r.partition).or_insert(0);
            *at = (*at).max(r.offset + 1);
        }
        out.extend(batch);
    }
    assert_eq!(
        behind(&next),
        0,
        "read {topic} up to {next:?}, not to its ends {ends:?}"
    );
    out
}

struct Folded {
    /// Customer → segment, from the last event of each.
    assignment: BTreeMap<String, i32>,
    /// Each sequence number once, in order.
    events: Vec<SegmentTransition>,
    /// Records whose sequence number came before (re-sends).
    resent: usize,
}

fn segment_of(p: Option<&SegmentPosition>) -> i32 {
    p.map_or(0, |p| p.segment)
}

/// Dedupes by sequence number and checks every event against the one
/// before it for the same customer.
fn fold(records: &[Record]) -> Folded {
    let mut by_sequence: BTreeMap<i64, SegmentTransition> = BTreeMap::new();
    let mut resent = 0;
    for r in records {
        let e = SegmentTransition::decode(r.payload.as_slice()).expect("a SegmentTransition");
        let header = r.headers.iter().find(|(k, _)| k == SEQUENCE_HEADER);
        assert_eq!(
            header.map(|(_, v)| v.as_str()),
            Some(e.sequence.to_string().as_str()),
            "the sequence header names the event's number"
        );
        assert_eq!(r.key, e.customer_id, "keyed by customer");
        match by_sequence.get(&e.sequence) {
            Some(first) => {
                let mut again = e.clone();
                // Only the record's copy is sent again; the event is the same.
                again.published_at_ms = first.published_at_ms;
                assert_eq!(
                    first, &again,
                    "a re-send of {} is the same event",
                    e.sequence
                );
                resent += 1;
            }
            None => {
                by_sequence.insert(e.sequence, e);
            }
        }
    }
    let mut last: BTreeMap<String, Option<SegmentPosition>> = BTreeMap::new();
    for e in by_sequence.values() {
        let previous = last.get(&e.customer_id).cloned().flatten();
        assert_eq!(
            e.before, previous,
            "event {}: before is {}'s previous event's after",
            e.sequence, e.customer_id
        );
        let (from, to) = (segment_of(e.before.as_ref()), segment_of(e.after.as_ref()));
        assert_ne!(from, to, "event {} moves its customer", e.sequence);
        let kind = match (from, to) {
            (0, _) => TransitionKind::Entered,
            (_, 0) => TransitionKind::Left,
            _ => TransitionKind::Moved,
        };
        assert_eq!(e.kind, kind as i32, "event {}'s kind", e.sequence);
        last.insert(e.customer_id.clone(), e.after);
    }
    Folded {
        assignment: last
            .into_iter()
            .filter_map(|(c, p)| p.map(|p| (c, p.segment)))
            .collect(),
        events: by_sequence.into_values().collect(),
        resent,
    }
}

/// Waits until the folded topic equals the oracle's segments as of today,
/// then checks that no sequence number is missing and returns the fold.
async fn assert_segments(oracle: &Oracle, bus: &Bus, topic: &str) -> Folded {
    let q = Q {
        as_of: today(),
        ..Default::default()
    };
    let want: BTreeMap<String, i32> = (oracle.rfm(&q).await.into_iter())
        .map(|r| (r.customer_id, r.segment))
        .collect();
    assert!(want.len() > 50, "a population to move: {}", want.len());
    let mut folded = fold(&read_topic(bus, topic).await);
    for _ in 0..120 {
        if folded.assignment == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        folded = fold(&read_topic(bus, topic).await);
    }
    assert_eq!(
        folded.assignment, want,
        "the events folded per customer equal the recomputed segments"
    );
    let numbers: Vec<i64> = folded.events.iter().map(|e| e.sequence).collect();
    let expected: Vec<i64> = (1..=numbers.len() as i64).collect();
    assert_eq!(numbers, expected, "sequence numbers 1…n, none lost");
    println!(
        "segments.v1: {} customers in segments, {} transitions, {} records re-sent",
        folded.assignment.len(),
        folded.events.len(),
        folded.resent
    );
    folded
}

/// The suggest service's flows equal a count over the deduplicated events.
async fn assert_flows(gateway: &mut PortraitServiceClient<Channel>, folded: &Folded) {
    let mut want: BTreeMap<(String, i32, i32), i64> = BTreeMap::new();
    for e in &folded.events {
        let key = (
            e.as_of_date.clone(),
            segment_of(e.before.as_ref()),
            segment_of(e.after.as_ref()),
        );
        *want.entry(key).or_default() += 1;
    }
    let last = folded.events.last().map_or(0, |e| e.sequence);
    let mut got = BTreeMap::new();
    let mut answer = Default::default();
    for _ in 0..120 {
        answer = gateway
            .get_segment_flows(SegmentFlowsRequest::default())
            .await
            .expect("segment flows")
            .into_inner();
        got = (answer.flows.iter())
            .map(|f| ((f.date.clone(), f.from, f.to), f.customers))
            .collect();
        if got == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(got, want, "flows per day and (from, to) count the events");
    assert_eq!(answer.last_sequence, last);
    assert_eq!(
        answer.transitions_applied,
        folded.events.len() as i64,
        "each sequence number applied once"
    );
    let day = &folded
        .events
        .last()
        .map(|e| e.as_of_date.clone())
        .unwrap_or_default();
    let one_day = gateway
        .get_segment_flows(SegmentFlowsRequest {
            from_date: day.clone(),
            to_date: String::new(),
        })
        .await
        .expect("one day's flows")
        .into_inner();
    assert!(one_day.flows.iter().all(|f| &f.date >= day));
    let bad = gateway
        .get_segment_flows(SegmentFlowsRequest {
            from_date: "2026-13-45".into(),
            to_date: String::new(),
        })
        .await
        .expect_err("a bad date is refused");
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    assert!(bad.message().contains("from_date"), "{}", bad.message());
}

/// Sends `n` records of the topic again, as a relay killed between publishing
/// and deleting would: the follower drops them, its flows stay as they were.
async fn resend(gateway: &mut PortraitServiceClient<Channel>, bus: &Bus, topic: &str, n: usize) {
    let before = gateway
        .get_segment_flows(SegmentFlowsRequest::default())
        .await
        .expect("segment flows")
        .into_inner();
    let again: Vec<Message> = (read_topic(bus, topic).await.into_iter().take(n))
        .map(|r| Message {
            key: r.key,
            payload: r.payload,
            headers: r.headers,
        })
        .collect();
    bus.publish(topic, &again).await.expect("re-send");
    let mut after = before.clone();
    for _ in 0..120 {
        after = gateway
            .get_segment_flows(SegmentFlowsRequest::default())
            .await
            .expect("segment flows")
            .into_inner();
        if after.duplicates_skipped >= before.duplicates_skipped + again.len() as i64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // At least: the relay may still be re-sending what it published before
    // a kill (dropped too, the flows stay).
    assert!(
        after.duplicates_skipped >= before.duplicates_skipped + again.len() as i64,
        "every re-sent record is dropped: {} before, {} re-sent, {} after",
        before.duplicates_skipped,
        again.len(),
        after.duplicates_skipped
    );
    assert_eq!(
        (after.flows, after.transitions_applied),
        (before.flows, before.transitions_applied)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_segment_transitions_fold_to_the_recompute_through_kill() {
    let Some(brokers) = portrait_testkit::broker::kafka_brokers() else {
        return;
    };
    let Some((mut stack, oracle)) = Stack::distributed(brokers).await else {
        return;
    };
    stack.set_env("PORTRAIT__SEGMENTS__DEBOUNCE_MS", "300");
    // A window between the relay's publishing and its deleting, for the kill below.
    stack.set_env("PORTRAIT__SEGMENTS__RELAY_DELAY_MS", "2000");
    stack.start_all();
    let bus = Bus::connect(&BusConfig::Kafka {
        brokers: stack.brokers.clone(),
        partitions: 3,
        max_batch_records: 1,
        bundle_records: 1,
        fetch_wait_ms: 50,
    })
    .await
    .expect("bus");
    let topic = format!("{}segments.v1", stack.topic_prefix);
    let (orders, _) = scenario();
    let mut ingest = IngestServiceClient::new(stack.channel("ingest").await);
    let mut gateway = PortraitServiceClient::new(stack.channel("gateway").await);

    let first = orders.len() * 2 / 5;
    submit(&mut ingest, &orders[..first]).await;
    stack.wait_caught_up().await;
    oracle.load(&accepted(&orders[..first])).await;
    let folded = assert_segments(&oracle, &bus, &topic).await;
    assert_flows(&mut gateway, &folded).await;

    // The rest in waves, the rfm and the suggest service killed mid-stream.
    let rest = &orders[first..];
    let waves: Vec<&[Order]> = rest.chunks(rest.len() / 4 + 1).collect();
    for (i, wave) in waves.iter().enumerate() {
        submit(&mut ingest, wave).await;
        // Soon after a wave: the publisher may be recomputing, committing or
        // relaying; each time a little later.
        tokio::time::sleep(Duration::from_millis(150 * i as u64 + 250)).await;
        let victim = if i % 2 == 0 { "rfm" } else { "suggest" };
        stack.kill9(victim);
        stack.start(victim);
    }
    stack.wait_caught_up().await;
    oracle.load(&accepted(&orders)).await;
    let folded = assert_segments(&oracle, &bus, &topic).await;
    assert_flows(&mut gateway, &folded).await;

    // Retractions (customers leave), and the rfm service killed once the
    // relay has published them but before it deleted them: the restarted
    // relay sends them again, with the same numbers.
    let refunds: Vec<Order> = (accepted(&orders).into_iter().step_by(7).take(150))
        .map(|o| Order {
            status: portrait_proto::v1::OrderStatus::Refunded as i32,
            ..o
        })
        .collect();
    let published = topic_end(&bus, &topic).await;
    submit(&mut ingest, &refunds).await;
    for _ in 0..300 {
        if topic_end(&bus, &topic).await > published {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        topic_end(&bus, &topic).await > published,
        "the refunds move someone"
    );
    stack.kill9("rfm");
    stack.start("rfm");
    stack.wait_caught_up().await;
    let mut all = orders.clone();
    all.extend(refunds);
    oracle.load(&accepted(&all)).await;
    let folded = assert_segments(&oracle, &bus, &topic).await;
    assert!(
        folded.resent > 0,
        "the kill fell between publishing and deleting"
    );
    assert!(
        (folded.events.iter()).any(|e| e.kind == TransitionKind::Left as i32),
        "some customer left every segment"
    );
    assert_flows(&mut gateway, &folded).await;
    resend(&mut gateway, &bus, &topic, 40).await;
}

async fn topic_end(bus: &Bus, topic: &str) -> i64 {
    let ends = bus.end_offsets(topic).await.expect("segments topic ends");
    ends.iter().map(|(_, end)| end).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_segment_transitions_fold_to_the_recompute_through_kill() {
    let Some(oracle) = Oracle::fresh().await else {
        return;
    };
    let (orders, _) = scenario();
    let mut stack = Stack::embedded_with(vec![(
        "PORTRAIT__SEGMENTS__DEBOUNCE_MS".into(),
        "300".into(),
    )]);
    stack.start_all();
    let bus = Bus::connect(&BusConfig::Embedded {
        path: stack.dir.path().join("data").join("log.db"),
    })
    .await
    .expect("embedded log");
    let topic = "segments.v1";

    let half = orders.len() / 2;
    let mut ingest = IngestServiceClient::new(stack.channel("ingest").await);
    submit(&mut ingest, &orders[..half]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stack.kill9("portrait");
    stack.start_all();
    let mut ingest = IngestServiceClient::new(stack.channel("ingest").await);
    submit(&mut ingest, &orders[half..]).await;
    stack.wait_caught_up().await;
    oracle.load(&accepted(&orders)).await;
    let folded = assert_segments(&oracle, &bus, topic).await;
    let mut gateway = PortraitServiceClient::new(stack.channel("gateway").await);
    assert_flows(&mut gateway, &folded).await;
    resend(&mut gateway, &bus, topic, 25).await;

    // `portrait rebuild` of both: the rfm service reads the orders again from
    // an empty state, yet publishes no transition (it waits until caught up
    // and compares with what it published); the flows stay.
    let base = stack.ports["gateway"];
    let url = |offset: u16| format!("http://127.0.0.1:{}", base + offset);
    let urls = [url(1), url(2), url(3), url(4)];
    let said = crate::rebuild::rebuild(&stack, urls, &["rfm", "suggest"]);
    assert!(said.contains("rfm: emptied"), "{said}");
    stack.wait_caught_up().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let again = assert_segments(&oracle, &bus, topic).await;
    assert_eq!(
        again.events.len(),
        folded.events.len(),
        "a rebuild moves nobody"
    );
    assert_flows(&mut gateway, &again).await;
}
