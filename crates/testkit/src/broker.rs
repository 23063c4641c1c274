//! The Kafka-protocol broker that `tests/run` starts (tansu) on loopback.

use std::sync::atomic::{AtomicU32, Ordering};

/// `host:port` of the test broker; `None` when none is configured (the caller skips).
pub fn kafka_brokers() -> Option<String> {
    crate::server_env("PORTRAIT_TEST_KAFKA", "a Kafka-protocol broker")
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
