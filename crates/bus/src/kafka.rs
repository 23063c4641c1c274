//! Kafka through rdkafka. No consumer groups and no transactions: consumers
//! assign partitions themselves at the offsets their stores hold.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::future::join_all;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use tracing::{debug, warn};

use crate::{Error, Message, Result, bundle};

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
    /// Messages per produced record at most; above 1 they travel in bundles.
    bundle_records: usize,
    /// Each topic's partition count as bundling last saw it; forgotten
    /// after a failed publish (the topic may have been re-created).
    partition_counts: Arc<Mutex<HashMap<String, i32>>>,
    fetch_wait_ms: u32,
}

fn base_config(brokers: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers)
        .set("log_level", "4")
        .set_log_level(RDKafkaLogLevel::Warning);
    c
}

impl KafkaBus {
    pub(crate) fn connect(
        brokers: &str,
        partitions: i32,
        max_batch_records: u32,
        bundle_records: u32,
        fetch_wait_ms: u32,
    ) -> Result<Self> {
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
            bundle_records: bundle_records.max(1) as usize,
            partition_counts: Arc::default(),
            fetch_wait_ms,
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
        let sent = if self.bundle_records > 1 {
            self.send_bundles(&producer, topic, messages).await
        } else {
            self.send(&producer, topic, messages).await
        };
        if let Err(e) = &sent {
            self.partition_counts
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(topic);
            self.replace_producer(generation, e);
        }
        sent
    }

    async fn send_bundles(
        &self,
        producer: &FutureProducer,
        topic: &str,
        messages: &[Message],
    ) -> Result<()> {
        let partitions = self.partition_count(topic).await?;
        let bundles = bundle::pack(
            messages,
            partitions,
            self.bundle_records,
            bundle::MAX_BUNDLE_BYTES,
        );
        let records = bundles.iter().map(|(partition, payload)| {
            FutureRecord::<(), _>::to(topic)
                .partition(*partition)
                .payload(payload)
                .headers(owned_headers(bundle::headers()))
        });
        deliver(producer, records).await?;
        debug!(
            topic,
            messages = messages.len(),
            records = bundles.len(),
            "published in bundles"
        );
        Ok(())
    }

    async fn partition_count(&self, topic: &str) -> Result<i32> {
        if let Some(n) = self
            .partition_counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(topic)
        {
            return Ok(*n);
        }
        let ids = self.partition_ids(topic).await?;
        let n = i32::try_from(ids.len()).map_err(|_| Error::Topic {
            topic: topic.to_owned(),
            reason: "has too many partitions".into(),
        })?;
        self.partition_counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(topic.to_owned(), n);
        Ok(n)
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
        let records = messages.iter().map(|m| {
            FutureRecord::to(topic)
                .key(&m.key)
                .payload(&m.payload)
                .headers(owned_headers(
                    m.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                ))
        });
        deliver(producer, records).await
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

    /// The topic's partitions, asked with a client of their own.
    async fn partition_ids(&self, topic: &str) -> Result<Vec<i32>> {
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

    /// A client assigned to every partition of `topic`, at `next` where
    /// known and at the log's start elsewhere.
    pub(crate) async fn assigned(
        &self,
        topic: &str,
        next: &BTreeMap<i32, i64>,
    ) -> Result<StreamConsumer> {
        let consumer: StreamConsumer = base_config(&self.brokers)
            // Required by librdkafka even though no group is ever joined or committed.
            .set("group.id", "portrait-unused")
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            // Bounds how late a record is seen on a broker that answers a
            // fetch only when its wait is over (tansu 0.6 does).
            .set("fetch.wait.max.ms", self.fetch_wait_ms.to_string())
            // What librdkafka fetches ahead of the loop (by default up to
            // 64 MiB, held outside Rust's allocator and kept by the C heap
            // after a catch-up): 8 MiB is tens of thousands of orders, a few
            // batches ahead of a consumer that applies 10,000 at a time.
            .set("queued.max.messages.kbytes", "8192")
            // A queued record keeps its whole fetch response alive, and a
            // response may hold 1 MiB from each of a dozen partitions (50 MiB
            // by default): smaller responses free sooner, and the C heap keeps
            // less after a catch-up.
            .set("fetch.max.bytes", "4194304")
            .create()?;
        let partitions = match self.partition_ids(topic).await {
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

fn owned_headers<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> OwnedHeaders {
    pairs
        .into_iter()
        .fold(OwnedHeaders::new(), |headers, (key, value)| {
            headers.insert(Header {
                key,
                value: Some(value.as_bytes()),
            })
        })
}

/// Queues every record, in order, then waits for each to be acknowledged.
async fn deliver<'a, K>(
    producer: &FutureProducer,
    records: impl Iterator<Item = FutureRecord<'a, K, Vec<u8>>>,
) -> Result<()>
where
    K: rdkafka::message::ToBytes + ?Sized + 'a,
{
    // Queue-full waits instead of failing: the batch is bounded by the caller.
    let deliveries =
        records.map(|record| producer.send(record, rdkafka::util::Timeout::After(TIMEOUT)));
    for delivery in join_all(deliveries).await {
        delivery.map_err(|(e, _)| e)?;
    }
    Ok(())
}

/// Drops a librdkafka client on a thread of its own: closing waits for the
/// group coordinator, up to the session timeout (45 s) while the broker is
/// away, which on an async worker stalls every task scheduled there.
pub(crate) fn close_in_background<T: Send + 'static>(client: T) {
    let spawned = std::thread::Builder::new()
        .name("kafka-client-close".into())
        .spawn(move || drop(client));
    if let Err(e) = spawned {
        warn!(error = %e, "could not close a kafka client on its own thread; leaking it");
    }
}
