//! The Kafka-protocol broker that `tests/run` starts (tansu) on loopback.

use std::sync::atomic::{AtomicU32, Ordering};

/// `host:port` of the test broker.
pub fn kafka_brokers() -> String {
    std::env::var("PORTRAIT_TEST_KAFKA").unwrap_or_else(|_| {
        panic!("PORTRAIT_TEST_KAFKA is not set: run the tests with `bash tests/run`")
    })
}

/// A topic name no other test, process or run uses.
pub fn unique_topic(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
