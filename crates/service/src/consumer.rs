use std::collections::BTreeMap;
use std::time::Duration;

use portrait_bus::{Bus, Message, Record};
use portrait_core::{Calendar, Deltas, validate_order};
use portrait_proto::v1::{ConsumerStatus, OrderEvent, PartitionLag};
use portrait_store::{Store, TableSet};
use prost::Message as _;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, error, info, info_span, warn};

use crate::{Config, Result, Topics, metrics};

/// What a consumer service keeps from the order stream.
#[derive(Debug, Clone, Copy)]
pub struct ConsumerSpec {
    pub service: &'static str,
    pub tables: TableSet,
}

/// Opens a consumer's store and brings its tables up to date.
pub async fn open_store(url: &str, spec: &ConsumerSpec) -> Result<Store> {
    let store = Store::connect(url).await?;
    let mut migrations = portrait_store::BASE_MIGRATIONS.to_vec();
    migrations.extend(spec.tables.migrations());
    store.migrate(spec.service, &migrations).await?;
    Ok(store)
}

struct Loop<'a> {
    spec: ConsumerSpec,
    bus: &'a Bus,
    store: &'a Store,
    calendar: Calendar,
    topics: Topics,
    batch_size: usize,
    poll: Duration,
    max_future_ms: i64,
}

/// Applies the order stream to the service's tables until `shutdown`.
///
/// Each batch's deltas, the events it applied and the next log positions are
/// written in one transaction, and a (re)start resumes from the positions in
/// the store: a crash at any point loses nothing and counts nothing twice.
/// After a failure the loop backs off and resumes from the store again.
pub async fn run_consumer(
    spec: ConsumerSpec,
    config: &Config,
    bus: Bus,
    store: Store,
    shutdown: CancellationToken,
) {
    let l = Loop {
        spec,
        bus: &bus,
        store: &store,
        calendar: config.calendar(),
        topics: config.topics(),
        batch_size: config.consumer.batch_size,
        poll: Duration::from_millis(config.consumer.poll_ms),
        max_future_ms: config.domain.max_future_minutes.saturating_mul(60_000),
    };
    let mut backoff = Duration::from_millis(200);
    loop {
        match l.consume(&shutdown).await {
            Ok(()) => break,
            Err(e) => {
                error!(service = spec.service, error = %e, retry_in_ms = backoff.as_millis() as u64, "consumer failed, resuming from the stored positions");
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
    info!(service = spec.service, "consumer stopped");
}

impl Loop<'_> {
    async fn consume(&self, shutdown: &CancellationToken) -> Result<()> {
        let topic = &self.topics.orders;
        self.bus.ensure_topic(topic).await?;
        let positions = {
            let mut conn = self.store.acquire().await?;
            portrait_store::load_positions(&mut conn, topic).await?
        };
        info!(service = self.spec.service, ?positions, "consumer resuming");
        let mut consumer = self.bus.consumer(topic, &positions).await?;
        loop {
            let batch = tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                batch = consumer.next_batch(self.batch_size, self.poll) => batch?,
            };
            if batch.is_empty() {
                continue;
            }
            let span = info_span!(
                "apply batch",
                service = self.spec.service,
                records = batch.len()
            );
            crate::extract_parent(&span, &batch[0].headers);
            self.apply(batch).instrument(span).await?;
        }
    }

    async fn apply(&self, batch: Vec<Record>) -> Result<()> {
        let service = self.spec.service;
        let mut next: BTreeMap<i32, i64> = BTreeMap::new();
        let mut events = Vec::with_capacity(batch.len());
        let mut dead = Vec::new();
        let now = crate::now_ms();
        for record in &batch {
            let pos = next.entry(record.partition).or_default();
            *pos = (*pos).max(record.offset + 1);
            match decode(record, now, self.max_future_ms) {
                Ok(event) => events.push(event),
                Err(reason) => {
                    warn!(service, partition = record.partition, offset = record.offset, %reason, "dead-lettering a record");
                    dead.push(dead_letter(service, record, &reason));
                }
            }
        }
        if !dead.is_empty() {
            // Published before the commit: a crash in between sends it twice,
            // which a dead-letter reader tolerates better than losing it.
            self.bus.ensure_topic(&self.topics.dlq).await?;
            self.bus.publish(&self.topics.dlq, &dead).await?;
        }
        let keys: Vec<(String, i64)> = events
            .iter()
            .map(|e| (e.order_id.clone(), e.revision))
            .collect();
        let mut tx = self.store.begin().await?;
        let fresh = portrait_store::new_events(&mut tx, &keys).await?;
        let mut deltas = Deltas::default();
        let mut applied = Vec::new();
        for ((event, is_new), key) in events.iter().zip(&fresh).zip(&keys) {
            if *is_new {
                deltas.apply(&self.calendar, event);
                applied.push(key.clone());
            }
        }
        deltas.prune();
        let positions: Vec<(i32, i64)> = next.into_iter().collect();
        portrait_store::write_deltas(&mut tx, self.spec.tables, &deltas).await?;
        portrait_store::record_applied(&mut tx, &applied).await?;
        portrait_store::save_positions(&mut tx, &self.topics.orders, &positions).await?;
        let skipped = (events.len() - applied.len()) as i64;
        portrait_store::add_counters(
            &mut tx,
            &[
                ("events_applied", applied.len() as i64),
                ("duplicates_skipped", skipped),
                ("dead_lettered", dead.len() as i64),
            ],
        )
        .await?;
        tx.commit().await?;
        if let Some(m) = metrics::get() {
            m.events_applied
                .with_label_values(&[service])
                .inc_by(applied.len() as u64);
            m.duplicates_skipped
                .with_label_values(&[service])
                .inc_by(skipped as u64);
            m.dead_lettered
                .with_label_values(&[service])
                .inc_by(dead.len() as u64);
            m.batch_size
                .with_label_values(&[service])
                .observe(batch.len() as f64);
        }
        tracing::debug!(
            service,
            applied = applied.len(),
            skipped,
            dead = dead.len(),
            "batch applied"
        );
        Ok(())
    }
}

/// Decodes and checks one record; the error is the reason a person reads in the DLQ.
fn decode(
    record: &Record,
    now_ms: i64,
    max_future_ms: i64,
) -> std::result::Result<OrderEvent, String> {
    let event = OrderEvent::decode(record.payload.as_slice())
        .map_err(|e| format!("not an OrderEvent: {e}"))?;
    if event.order_id.is_empty() {
        return Err("event.order_id is empty".into());
    }
    if event.revision < 1 {
        return Err(format!("event.revision {} is not positive", event.revision));
    }
    if event.order.is_none() && event.previous.is_none() {
        return Err("event has neither order nor previous".into());
    }
    for (name, version) in [("order", &event.order), ("previous", &event.previous)] {
        if let Some(o) = version {
            if o.order_id != event.order_id {
                return Err(format!("event.{name}.order_id differs from event.order_id"));
            }
            validate_order(o, now_ms, max_future_ms).map_err(|e| format!("event.{name}: {e}"))?;
        }
    }
    Ok(event)
}

fn dead_letter(service: &str, record: &Record, reason: &str) -> Message {
    let mut headers = record.headers.clone();
    headers.extend([
        ("dlq-reason".to_owned(), reason.to_owned()),
        ("dlq-service".to_owned(), service.to_owned()),
        (
            "dlq-source".to_owned(),
            format!("{}/{}/{}", record.topic, record.partition, record.offset),
        ),
    ]);
    Message {
        key: record.key.clone(),
        payload: record.payload.clone(),
        headers,
    }
}

/// Where the consumer stands against the log, from its own store.
pub async fn consumer_status(
    service: &str,
    topic: &str,
    bus: &Bus,
    store: &Store,
) -> Result<ConsumerStatus> {
    let mut conn = store.acquire().await?;
    let positions: BTreeMap<i32, i64> = portrait_store::load_positions(&mut conn, topic)
        .await?
        .into_iter()
        .collect();
    let counters = portrait_store::load_counters(&mut conn).await?;
    drop(conn);
    let ends = bus.end_offsets(topic).await?;
    let partitions: Vec<PartitionLag> = ends
        .into_iter()
        .map(|(partition, end)| PartitionLag {
            topic: topic.to_owned(),
            partition,
            position: positions.get(&partition).copied().unwrap_or(0),
            end,
        })
        .collect();
    let lag = partitions.iter().map(|p| (p.end - p.position).max(0)).sum();
    if let Some(m) = metrics::get() {
        m.lag.with_label_values(&[service]).set(lag);
    }
    let counter = |name: &str| counters.get(name).copied().unwrap_or(0);
    Ok(ConsumerStatus {
        service: service.to_owned(),
        partitions,
        lag,
        events_applied: counter("events_applied"),
        dead_lettered: counter("dead_lettered"),
    })
}
