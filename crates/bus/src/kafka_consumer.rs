//! The Kafka consumer: assigned partitions at the offsets the store holds,
//! its client replaced when the broker goes away.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::StreamConsumer;
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message as _};
use rdkafka::types::RDKafkaErrorCode;
use tracing::{debug, info, warn};

use crate::kafka::{KafkaBus, close_in_background};
use crate::{Record, Result};

/// A consumer that outlives its client: when the broker goes away it drops
/// the client and makes a new one at the offsets after what it returned.
/// librdkafka 2.12 would reconnect by itself, but a client that saw the topic
/// before it was re-created (new topic id) can crash in its metadata cache.
pub(crate) struct KafkaConsumer {
    bus: KafkaBus,
    topic: String,
    /// Per partition, the offset after the last record returned (a bundle's
    /// entries share its offset).
    next: BTreeMap<i32, i64>,
    consumer: Option<StreamConsumer>,
    /// When to try a new client after the last one was dropped.
    retry_at: Option<Instant>,
}

impl Drop for KafkaConsumer {
    fn drop(&mut self) {
        if let Some(consumer) = self.consumer.take() {
            close_in_background(consumer);
        }
    }
}

const RECONNECT_EVERY: Duration = Duration::from_secs(1);

/// Errors of a broker gone away: the client is replaced, the consumer loop
/// goes on (and keeps checking the log), nothing is reloaded.
fn disconnected(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::AllBrokersDown
                | RDKafkaErrorCode::BrokerTransportFailure
                | RDKafkaErrorCode::BrokerNotAvailable
                | RDKafkaErrorCode::NetworkException
                | RDKafkaErrorCode::UnknownTopicOrPartition
                | RDKafkaErrorCode::UnknownTopic
                | RDKafkaErrorCode::UnknownPartition
        )
    )
}

impl KafkaConsumer {
    /// Assigned to `topic` at `start` (partition, next offset); partitions
    /// not in it from the log's start.
    pub(crate) async fn new(bus: &KafkaBus, topic: &str, start: &[(i32, i64)]) -> Result<Self> {
        let next: BTreeMap<i32, i64> = start.iter().copied().collect();
        let consumer = bus.assigned(topic, &next).await?;
        Ok(Self {
            bus: bus.clone(),
            topic: topic.to_owned(),
            next,
            consumer: Some(consumer),
            retry_at: None,
        })
    }

    pub(crate) async fn next_batch(&mut self, max: usize, wait: Duration) -> Result<Vec<Record>> {
        let started = Instant::now();
        let mut out = Vec::new();
        if self.consumer.is_none() && !self.reconnect().await {
            tokio::time::sleep(wait).await;
            return Ok(out);
        }
        let Some(consumer) = self.consumer.as_ref() else {
            return Ok(out);
        };
        let mut lost = None;
        // Take what is already fetched after the first, without waiting for more.
        while out.len() < max {
            let limit = if out.is_empty() {
                wait.saturating_sub(started.elapsed())
            } else {
                Duration::from_millis(2)
            };
            match tokio::time::timeout(limit, consumer.recv()).await {
                Err(_) => break,
                // A bundle comes whole, so a batch never ends inside one
                // and the position after it is after all of it.
                Ok(Ok(m)) => crate::bundle::unpack(owned(m), &mut out),
                Ok(Err(e)) if disconnected(&e) => {
                    lost = Some(e);
                    break;
                }
                Ok(Err(e)) => return Err(e.into()),
            }
        }
        for r in &out {
            self.next.insert(r.partition, r.offset + 1);
        }
        if let Some(e) = lost {
            warn!(topic = %self.topic, error = %e, "lost the broker; consuming again with a new client");
            if let Some(old) = self.consumer.take() {
                close_in_background(old);
            }
            self.retry_at = Some(Instant::now() + RECONNECT_EVERY);
        }
        Ok(out)
    }

    /// True once a new client is assigned; false to wait (too early, or the
    /// broker or topic is not back yet).
    async fn reconnect(&mut self) -> bool {
        if self.retry_at.is_some_and(|t| Instant::now() < t) {
            return false;
        }
        match self.bus.assigned(&self.topic, &self.next).await {
            Ok(consumer) => {
                info!(topic = %self.topic, next = ?self.next, "consuming again");
                self.consumer = Some(consumer);
                self.retry_at = None;
                true
            }
            Err(e) => {
                debug!(topic = %self.topic, error = %e, "the broker is not back yet");
                self.retry_at = Some(Instant::now() + RECONNECT_EVERY);
                false
            }
        }
    }
}

fn owned(m: rdkafka::message::BorrowedMessage<'_>) -> Record {
    let headers = m
        .headers()
        .map(|h| {
            h.iter()
                .map(|h| {
                    (
                        h.key.to_owned(),
                        String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Record {
        topic: m.topic().to_owned(),
        partition: m.partition(),
        offset: m.offset(),
        key: m
            .key()
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .unwrap_or_default(),
        payload: m.payload().map(<[u8]>::to_vec).unwrap_or_default(),
        headers,
    }
}
