//! Kafka through rdkafka. No consumer groups and no transactions: consumers
//! assign partitions themselves at the offsets their stores hold.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::future::join_all;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::message::{Header, Headers, Message as _, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use tracing::debug;

use crate::{Error, Message, Record, Result};

const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub(crate) struct KafkaBus {
    brokers: String,
    partitions: i32,
    producer: FutureProducer,
    /// One client for the watermarks, made on first use: consumers ask every
    /// second, and a client per question costs threads and a connection.
    probe: Arc<Mutex<Option<Arc<BaseConsumer>>>>,
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
            producer,
            probe: Arc::default(),
        })
    }

    fn probe(&self) -> Result<Arc<BaseConsumer>> {
        let mut slot = self.probe.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(probe) = slot.as_ref() {
            return Ok(probe.clone());
        }
        let probe: Arc<BaseConsumer> = Arc::new(base_config(&self.brokers).create()?);
        *slot = Some(probe.clone());
        Ok(probe)
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
            self.producer
                .send(record, rdkafka::util::Timeout::After(TIMEOUT))
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
        tokio::task::spawn_blocking(move || {
            let consumer = bus.probe()?;
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
            })??
        };
        let mut list = TopicPartitionList::new();
        for p in partitions {
            let offset = start
                .iter()
                .find(|(q, _)| *q == p)
                .map_or(Offset::Beginning, |(_, o)| Offset::Offset(*o));
            list.add_partition_offset(topic, p, offset)?;
        }
        consumer.assign(&list)?;
        debug!(topic, ?start, "kafka consumer assigned");
        Ok(KafkaConsumer { consumer })
    }
}

pub(crate) struct KafkaConsumer {
    consumer: StreamConsumer,
}

impl KafkaConsumer {
    pub(crate) async fn next_batch(&mut self, max: usize, wait: Duration) -> Result<Vec<Record>> {
        let mut out = Vec::new();
        let Ok(first) = tokio::time::timeout(wait, self.consumer.recv()).await else {
            return Ok(out);
        };
        out.push(owned(first?));
        // Take what is already fetched, without waiting for more.
        while out.len() < max {
            match tokio::time::timeout(Duration::from_millis(2), self.consumer.recv()).await {
                Ok(m) => out.push(owned(m?)),
                Err(_) => break,
            }
        }
        Ok(out)
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
