//! The event log port and its two adapters: Kafka (through rdkafka) for the
//! distributed deployment and an append-only table in SQLite for the embedded one.
//!
//! Semantics both keep: records of one key stay in order (Kafka: one partition per
//! key; the embedded log has one partition), offsets are per partition and gap-free
//! from the consumer's view, and a consumer starts wherever its caller says: the
//! services keep their positions in their own stores, never in the broker.

mod bundle;
mod error;
mod kafka;
mod kafka_consumer;
mod log;

use std::path::PathBuf;
use std::time::Duration;

pub use bundle::{BUNDLE_ERROR_HEADER, BUNDLE_HEADER, unreadable_bundle};
pub use error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusConfig {
    Kafka {
        brokers: String,
        partitions: i32,
        /// Records per producer batch at most; 0 = librdkafka's default.
        max_batch_records: u32,
        /// Messages per Kafka record at most (bundles); 1 = plain records.
        bundle_records: u32,
    },
    Embedded {
        path: PathBuf,
    },
}

/// A record to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub key: String,
    pub payload: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

/// A record read back, with where it sits in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: String,
    pub payload: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

/// One partition's extent: offsets `start..end` can be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub partition: i32,
    pub start: i64,
    pub end: i64,
}

/// A connection to the log; cheap to clone.
#[derive(Clone)]
pub struct Bus(Inner);

#[derive(Clone)]
enum Inner {
    Kafka(kafka::KafkaBus),
    Embedded(log::LogBus),
}

impl Bus {
    pub async fn connect(config: &BusConfig) -> Result<Bus> {
        Ok(Bus(match config {
            BusConfig::Kafka {
                brokers,
                partitions,
                max_batch_records,
                bundle_records,
            } => Inner::Kafka(kafka::KafkaBus::connect(
                brokers,
                *partitions,
                *max_batch_records,
                *bundle_records,
            )?),
            BusConfig::Embedded { path } => Inner::Embedded(log::LogBus::open(path).await?),
        }))
    }

    /// Creates the topic if it does not exist yet.
    pub async fn ensure_topic(&self, topic: &str) -> Result<()> {
        match &self.0 {
            Inner::Kafka(k) => k.ensure_topic(topic).await,
            Inner::Embedded(_) => Ok(()),
        }
    }

    /// Returns once every message is durably in the log, in order per key.
    pub async fn publish(&self, topic: &str, messages: &[Message]) -> Result<()> {
        if messages.is_empty() {
            return Ok(());
        }
        match &self.0 {
            Inner::Kafka(k) => k.publish(topic, messages).await,
            Inner::Embedded(l) => l.publish(topic, messages).await,
        }
    }

    /// Per partition, the offset the next record will get.
    pub async fn end_offsets(&self, topic: &str) -> Result<Vec<(i32, i64)>> {
        let bounds = self.bounds(topic).await?;
        Ok(bounds.into_iter().map(|b| (b.partition, b.end)).collect())
    }

    /// Per partition, the first offset still in the log and the offset the
    /// next record will get: what a consumer compares its stored positions
    /// with to notice a log that went backwards (emptied, re-created, or cut
    /// by retention).
    pub async fn bounds(&self, topic: &str) -> Result<Vec<Bounds>> {
        match &self.0 {
            Inner::Kafka(k) => k.bounds(topic).await,
            Inner::Embedded(l) => l.bounds(topic).await,
        }
    }

    /// Reads `topic` from the given next offsets; unlisted partitions from the start.
    pub async fn consumer(&self, topic: &str, start: &[(i32, i64)]) -> Result<Consumer> {
        Ok(Consumer(match &self.0 {
            Inner::Kafka(k) => ConsumerInner::Kafka(Box::new(
                kafka_consumer::KafkaConsumer::new(k, topic, start).await?,
            )),
            Inner::Embedded(l) => ConsumerInner::Embedded(l.consumer(topic, start)),
        }))
    }
}

pub struct Consumer(ConsumerInner);

enum ConsumerInner {
    Kafka(Box<kafka_consumer::KafkaConsumer>),
    Embedded(log::LogConsumer),
}

impl Consumer {
    /// Up to `max` records as soon as one is there, or none after `wait`.
    /// A bundle is never split, so a batch may pass `max` by part of one.
    pub async fn next_batch(&mut self, max: usize, wait: Duration) -> Result<Vec<Record>> {
        match &mut self.0 {
            ConsumerInner::Kafka(k) => k.next_batch(max.max(1), wait).await,
            ConsumerInner::Embedded(l) => l.next_batch(max.max(1), wait).await,
        }
    }
}
