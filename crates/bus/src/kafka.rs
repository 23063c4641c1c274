//! Kafka through rdkafka. No consumer groups and no transactions: consumers
//! assign partitions themselves at the offsets their stores hold.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::future::join_all;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, Headers, Message as _, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use tracing::{debug, info, warn};

use crate::{Error, Message, Record, Result};

const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub(crate) struct KafkaBus {
    brokers: String,
    partitions: i32,
    /// Replaced after a failed publish: an idempotent producer that lost
    /// its broker can stay fenced (`ProducerFenced`, `UnknownProducerId`)
    /// for good, while a new one starts a fresh producer id.
    /// (generation, producer): the generation tells a failed producer from
    /// one that another publish already put in its place.
    producer: Arc<Mutex<(u64, FutureProducer)>>,
    producer_config: ClientConfig,
}

fn base_config(brokers: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers)
        .set("log_level", "4")
        .set_log_level(RDKafkaLogLevel::Warning);
    c
}

impl KafkaBus {
    pub(crate) fn connect(brokers: &str, partitions: i32, max_batch_records: u32) -> Result<Self> {
        let mut config = base_config(brokers);
        config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "5")
            .set("message.timeout.ms", "30000");
        if max_batch_records > 0 {
            // tansu 0.6 reports the high watermark as the last batch's base
            // offset + 1 and loses records when a fetch starts inside a batch;
            // one record per batch keeps both right (measured by the contract
            // tests). Real Kafka is correct either way, and faster without it.
            config.set("batch.num.messages", max_batch_records.to_string());
        }
        let producer: FutureProducer = config.create()?;
        Ok(Self {
            brokers: brokers.to_owned(),
            partitions,
            producer: Arc::new(Mutex::new((0, producer))),
            producer_config: config,
        })
    }

    pub(crate) async fn ensure_topic(&self, topic: &str) -> Result<()> {
        let admin: AdminClient<DefaultClientContext> = base_config(&self.brokers).create()?;
        let new = NewTopic::new(topic, self.partitions, TopicReplication::Fixed(1));
        let results = admin
            .create_topics(
                [&new],
                &AdminOptions::new().operation_timeout(Some(TIMEOUT)),
            )
            .await?;
        for r in results {
            match r {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, code)) => {
                    return Err(Error::Topic {
                        topic: name,
                        reason: code.to_string(),
                    });
                }
            }
        }
        Ok(())
    }

    pub(crate) async fn publish(&self, topic: &str, messages: &[Message]) -> Result<()> {
        let (generation, producer) = self
            .producer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let sent = self.send(&producer, topic, messages).await;
        if let Err(e) = &sent {
            self.replace_producer(generation, e);
        }
        sent
    }

    fn replace_producer(&self, failed: u64, error: &Error) {
        let fresh: FutureProducer = match self.producer_config.create() {
            Ok(p) => p,
            Err(e) => {
                warn!(error = %e, "could not make a new kafka producer; keeping the old one");
                return;
            }
        };
        let mut slot = self.producer.lock().unwrap_or_else(PoisonError::into_inner);
        // Another publish may have replaced it already.
        if slot.0 == failed {
            warn!(%error, "publishing failed; the next attempt uses a new kafka producer");
            let (_, old) = std::mem::replace(&mut *slot, (failed + 1, fresh));
            close_in_background(old);
        }
    }

    async fn send(
        &self,
        producer: &FutureProducer,
        topic: &str,
        messages: &[Message],
    ) -> Result<()> {
        let deliveries = messages.iter().map(|m| {
            let mut headers = OwnedHeaders::new_with_capacity(m.headers.len());
            for (k, v) in &m.headers {
                headers = headers.insert(Header {
                    key: k,
                    value: Some(v.as_bytes()),
                });
            }
            let record = FutureRecord::to(topic)
                .key(&m.key)
                .payload(&m.payload)
                .headers(headers);
            // Queue-full waits instead of failing: the batch is bounded by the caller.
            producer.send(record, rdkafka::util::Timeout::After(TIMEOUT))
        });
        for delivery in join_all(deliveries).await {
            delivery.map_err(|(e, _)| e)?;
        }
        Ok(())
    }

    fn partitions_of(&self, consumer: &BaseConsumer, topic: &str) -> Result<Vec<i32>> {
        let metadata = consumer.fetch_metadata(Some(topic), TIMEOUT)?;
        let t = metadata
            .topics()
            .iter()
            .find(|t| t.name() == topic)
            .ok_or_else(|| Error::Topic {
                topic: topic.to_owned(),
                reason: "not in metadata".into(),
            })?;
        if let Some(e) = t.error() {
            return Err(Error::Topic {
                topic: topic.to_owned(),
                reason: format!("{:?}", RDKafkaErrorCode::from(e)),
            });
        }
        let mut ids: Vec<i32> = t.partitions().iter().map(|p| p.id()).collect();
        ids.sort_unstable();
        if ids.is_empty() {
            return Err(Error::Topic {
                topic: topic.to_owned(),
                reason: "has no partitions".into(),
            });
        }
        Ok(ids)
    }

    pub(crate) async fn end_offsets(&self, topic: &str) -> Result<Vec<(i32, i64)>> {
        let bus = self.clone();
        let topic = topic.to_owned();
        tokio::task::spawn_blocking(move || {
            let consumer: BaseConsumer = base_config(&bus.brokers).create()?;
            bus.partitions_of(&consumer, &topic)?
                .into_iter()
                .map(|p| Ok((p, consumer.fetch_watermarks(&topic, p, TIMEOUT)?.1)))
                .collect()
        })
        .await
        .map_err(|e| Error::Topic {
            topic: String::new(),
            reason: format!("watermark task failed: {e}"),
        })?
    }

    pub(crate) async fn bounds(&self, topic: &str) -> Result<Vec<crate::Bounds>> {
        let bus = self.clone();
        let topic = topic.to_owned();
        // A client per question, though asked every second: a client that
        // lives across a topic's re-creation can crash librdkafka 2.12.1 (see
        // `KafkaConsumer`), and an idle one would not notice the broker leave.
        tokio::task::spawn_blocking(move || {
            let consumer: BaseConsumer = base_config(&bus.brokers).create()?;
            bus.partitions_of(&consumer, &topic)?
                .into_iter()
                .map(|partition| {
                    let (start, end) = consumer.fetch_watermarks(&topic, partition, TIMEOUT)?;
                    Ok(crate::Bounds {
                        partition,
                        start,
                        end,
                    })
                })
                .collect()
        })
        .await
        .map_err(|e| Error::Topic {
            topic: String::new(),
            reason: format!("watermark task failed: {e}"),
        })?
    }

    pub(crate) async fn consumer(
        &self,
        topic: &str,
        start: &[(i32, i64)],
    ) -> Result<KafkaConsumer> {
        let next: BTreeMap<i32, i64> = start.iter().copied().collect();
        let consumer = self.assigned(topic, &next).await?;
        Ok(KafkaConsumer {
            bus: self.clone(),
            topic: topic.to_owned(),
            next,
            consumer: Some(consumer),
            retry_at: None,
        })
    }

    /// A client assigned to every partition of `topic`, at `next` where
    /// known and at the log's start elsewhere.
    async fn assigned(&self, topic: &str, next: &BTreeMap<i32, i64>) -> Result<StreamConsumer> {
        let consumer: StreamConsumer = base_config(&self.brokers)
            // Required by librdkafka even though no group is ever joined or committed.
            .set("group.id", "portrait-unused")
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .create()?;
        let partitions = {
            let bus = self.clone();
            let name = topic.to_owned();
            tokio::task::spawn_blocking(move || {
                let probe: BaseConsumer = base_config(&bus.brokers).create()?;
                bus.partitions_of(&probe, &name)
            })
            .await
            .map_err(|e| Error::Topic {
                topic: topic.to_owned(),
                reason: format!("metadata task failed: {e}"),
            })?
        };
        let partitions = match partitions {
            Ok(p) => p,
            Err(e) => {
                close_in_background(consumer);
                return Err(e);
            }
        };
        let mut list = TopicPartitionList::new();
        for p in partitions {
            let offset = next
                .get(&p)
                .map_or(Offset::Beginning, |o| Offset::Offset(*o));
            list.add_partition_offset(topic, p, offset)?;
        }
        consumer.assign(&list)?;
        debug!(topic, ?next, "kafka consumer assigned");
        Ok(consumer)
    }
}

/// Drops a librdkafka client on a thread of its own: closing waits for the
/// group coordinator, up to the session timeout (45 s) while the broker is
/// away, which on an async worker stalls every task scheduled there.
fn close_in_background<T: Send + 'static>(client: T) {
    let spawned = std::thread::Builder::new()
        .name("kafka-client-close".into())
        .spawn(move || drop(client));
    if let Err(e) = spawned {
        warn!(error = %e, "could not close a kafka client on its own thread; leaking it");
    }
}

/// A consumer that outlives its client: when the broker goes away it drops
/// the client and makes a new one at the offsets after what it returned.
/// librdkafka 2.12 would reconnect by itself, but a client that saw the topic
/// before it was re-created (new topic id) can crash in its metadata cache.
pub(crate) struct KafkaConsumer {
    bus: KafkaBus,
    topic: String,
    /// Per partition, the offset after the last record returned.
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
                Ok(Ok(m)) => out.push(owned(m)),
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
