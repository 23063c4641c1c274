use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use portrait_bus::{Bus, Message, Record};
use portrait_core::{Calendar, Fold, Limits, check};
use portrait_proto::v1::OrderEvent;
use portrait_store::{Applied, Store};
use prost::Message as _;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, error, info, info_span, warn};

mod sizes;

use crate::rebuild::{Control, epoch_of, stopped};
use crate::{Config, Live, Projection, Result, SeenIds, Topics, log_check, metrics};

/// How often the consumer compares its positions with the log's bounds.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// Where a consumer stands, as of its last commit; what status answers from.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Progress {
    pub positions: BTreeMap<i32, i64>,
    pub events_applied: i64,
    pub dead_lettered: i64,
    /// The publication followed; records of an older one are skipped.
    pub epoch: i64,
    /// Why the consumer stopped applying (the log went backwards), if it did.
    pub condition: Option<String>,
    /// Its latest error while it cannot make progress (not stored: a restart
    /// that loads its state has made progress).
    pub failure: Option<String>,
}

/// Opens a consumer's store and brings its tables up to date.
pub async fn open_store<P: Projection>(
    settings: &crate::config::StoreSettings,
    projection: &P,
) -> Result<Store> {
    let store = Store::connect_with(&settings.url, settings.acquire_timeout()).await?;
    store
        .migrate("consumer", portrait_store::CONSUMER_MIGRATIONS)
        .await?;
    store
        .migrate("audit", portrait_store::AUDIT_MIGRATIONS)
        .await?;
    for (scope, migrations) in projection.migrations() {
        store.migrate(scope, migrations).await?;
    }
    Ok(store)
}

/// Loads the serving state and the progress from the store.
pub(crate) async fn load<P: Projection>(
    projection: &P,
    store: &Store,
    topic: &str,
    progress: &Live<Progress>,
    seen: &Arc<SeenIds>,
) -> Result<()> {
    let started = std::time::Instant::now();
    let mut conn = store.acquire().await?;
    let positions = portrait_store::load_positions(&mut conn, topic).await?;
    let counters = portrait_store::load_counters(&mut conn).await?;
    let log = portrait_store::load_log_state(&mut conn).await?;
    drop(conn);
    projection.load(store).await?;
    let counter = |name: &str| counters.get(name).copied().unwrap_or(0);
    seen.refill(store, ("applied", "order_id"), counter("events_applied"));
    progress.replace(Progress {
        positions: positions.into_iter().collect(),
        events_applied: counter("events_applied"),
        dead_lettered: counter("dead_lettered"),
        epoch: log.epoch,
        condition: log.condition,
        failure: None,
    });
    info!(
        service = projection.name(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "serving state loaded"
    );
    sizes::loaded(projection);
    Ok(())
}

/// The parts of a consumer the loop needs.
pub(crate) struct ConsumerParts<P> {
    pub(crate) projection: Arc<P>,
    pub(crate) store: Store,
    pub(crate) bus: Bus,
    pub(crate) progress: Arc<Live<Progress>>,
    pub(crate) control: Arc<Control>,
    pub(crate) seen: Arc<SeenIds>,
}

/// How a consume run ended without an error.
pub(crate) enum Exit {
    Shutdown,
    /// A rebuild reset the store and the serving state: read from the start.
    Restart,
}

enum Batch {
    Applied,
    Restart,
    Halted,
}

struct Loop<'a, P> {
    parts: &'a ConsumerParts<P>,
    calendar: Calendar,
    topics: Topics,
    batch_size: usize,
    poll: Duration,
    limits: Limits,
}

/// Applies the order stream to the projection until `shutdown`. The serving
/// state must have been loaded (see [`load`]).
///
/// Each batch's rows, its applied revisions and the next log positions are
/// written in one transaction, and a (re)start resumes from the positions in
/// the store: a crash at any point loses nothing and counts nothing twice.
/// After a failure the loop backs off, reloads the serving state from the
/// store (a failed commit may have landed), and resumes.
pub(crate) async fn run_consumer<P: Projection>(
    parts: ConsumerParts<P>,
    config: &Config,
    shutdown: CancellationToken,
) {
    let l = Loop {
        parts: &parts,
        calendar: config.calendar(),
        topics: config.topics(),
        batch_size: config.consumer.batch_size,
        poll: Duration::from_millis(config.consumer.poll_ms),
        limits: config.limits(),
    };
    let service = parts.projection.name();
    const FIRST_BACKOFF: Duration = Duration::from_millis(200);
    let mut backoff = FIRST_BACKOFF;
    let mut fresh = true;
    loop {
        let started = std::time::Instant::now();
        let before = parts.progress.read().0.events_applied;
        let run = async {
            if !fresh {
                load(
                    &*parts.projection,
                    &parts.store,
                    &l.topics.orders,
                    &parts.progress,
                    &parts.seen,
                )
                .await?;
            }
            l.consume(&shutdown).await
        };
        match run.await {
            Ok(Exit::Shutdown) => break,
            Ok(Exit::Restart) => {
                fresh = true;
                backoff = FIRST_BACKOFF;
                info!(service, "consumer starting over after a rebuild");
            }
            Err(e) => {
                fresh = false;
                // A run that applied something, or went well for a while,
                // starts the backoff afresh: the outage it waited out is over.
                let applied = parts.progress.read().0.events_applied != before;
                if applied || started.elapsed() > Duration::from_secs(60) {
                    backoff = FIRST_BACKOFF;
                }
                error!(service, error = %e, retry_in_ms = backoff.as_millis() as u64, "consumer failed, resuming from the store");
                parts
                    .progress
                    .update(|p| p.failure = Some(failure_text(&e)));
                parts.control.failing(true);
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
    info!(service, "consumer stopped");
}

/// What the status says of a failure: which dependency, not the driver's
/// words (the log line has those).
fn failure_text(e: &crate::Error) -> String {
    match e {
        crate::Error::Store(s) if s.refusal().is_some() => {
            format!("{}; retrying", crate::error::refusal_text(s.refusal()))
        }
        crate::Error::Store(s) if s.is_unreachable() => {
            "its database is unreachable; retrying".to_owned()
        }
        crate::Error::Bus(_) => "the event log is unreachable; retrying".to_owned(),
        other => format!("{other}; retrying"),
    }
}

impl<P: Projection> Loop<'_, P> {
    async fn consume(&self, shutdown: &CancellationToken) -> Result<Exit> {
        let topic = &self.topics.orders;
        let service = self.parts.projection.name();
        let control = &self.parts.control;
        let generation = control.generation();
        // Registered first, so a rebuild finishing meanwhile still wakes us.
        let restarted = control.restart.notified();
        tokio::pin!(restarted);
        let halted = self.parts.progress.read().0.condition.clone();
        control.report(service, halted.as_deref());
        if let Some(condition) = halted {
            warn!(service, %condition, "consumer stopped: the log went backwards; run `portrait rebuild`");
            return Ok(stopped(shutdown, restarted).await);
        }
        self.parts.bus.ensure_topic(topic).await?;
        let positions: Vec<(i32, i64)> = {
            let (p, _) = self.parts.progress.read();
            p.positions.iter().map(|(k, v)| (*k, *v)).collect()
        };
        info!(service, ?positions, "consumer resuming");
        let mut watch = log_check::Watch::default();
        let mut checked: Option<std::time::Instant> = None;
        let mut sizes = sizes::Sizes::new(self.parts.projection.as_ref());
        let mut consumer = self.parts.bus.consumer(topic, &positions).await?;
        if self.parts.control.failing(false) {
            self.parts.progress.update(|p| p.failure = None);
            info!(service, "consumer resumed");
        }
        loop {
            if checked.is_none_or(|t| t.elapsed() >= CHECK_EVERY) {
                checked = Some(std::time::Instant::now());
                if self.check(&mut watch, generation).await? {
                    // Its client has seen the old log; a rebuild makes a new one.
                    drop(consumer);
                    return Ok(stopped(shutdown, restarted).await);
                }
            }
            let batch = tokio::select! {
                _ = shutdown.cancelled() => return Ok(Exit::Shutdown),
                _ = &mut restarted => return Ok(Exit::Restart),
                batch = consumer.next_batch(self.batch_size, self.poll) => batch?,
            };
            if batch.is_empty() {
                sizes.idle(self.parts.projection.as_ref());
                continue;
            }
            let span = info_span!("apply batch", service, records = batch.len());
            crate::extract_parent(&span, &batch[0].headers);
            match self.apply(batch, generation).instrument(span).await? {
                Batch::Applied => sizes.applied(self.parts.projection.as_ref()),
                Batch::Restart => return Ok(Exit::Restart),
                Batch::Halted => {
                    drop(consumer);
                    return Ok(stopped(shutdown, restarted).await);
                }
            }
        }
    }

    /// Compares the stored positions with the log; on a broken rule records
    /// the condition (store, progress, health, metric) and returns true.
    async fn check(&self, watch: &mut log_check::Watch, generation: u64) -> Result<bool> {
        let topic = &self.topics.orders;
        // The broker being away is not a reason to start over (the client
        // reconnects by itself); the next check looks again.
        let bounds = match self.parts.bus.bounds(topic).await {
            Ok(bounds) => bounds,
            Err(e) => {
                warn!(service = self.parts.projection.name(), error = %e, "could not read the log's bounds; checking again shortly");
                // A topic deleted or lost with the broker's storage: made
                // again (empty), so the next check can say the log went back.
                let _ = self.parts.bus.ensure_topic(topic).await;
                return Ok(false);
            }
        };
        let positions = self.parts.progress.read().0.positions.clone();
        let Some(condition) = watch.check(topic, &positions, &bounds) else {
            return Ok(false);
        };
        self.halt(condition, generation).await
    }

    /// Records why applying stopped: in the store (a restart keeps it), the
    /// progress (status), health and the metric. False if a rebuild came first.
    async fn halt(&self, condition: String, generation: u64) -> Result<bool> {
        let control = &self.parts.control;
        let _writing = control.writing.lock().await;
        if control.generation() != generation {
            return Ok(false);
        }
        self.halt_locked(condition).await?;
        Ok(true)
    }

    async fn halt_locked(&self, condition: String) -> Result<()> {
        let service = self.parts.projection.name();
        let control = &self.parts.control;
        let state = portrait_store::LogState {
            epoch: self.parts.progress.read().0.epoch,
            condition: Some(condition.clone()),
        };
        let mut tx = self.parts.store.begin().await?;
        portrait_store::save_log_state(&mut tx, &state).await?;
        tx.commit().await?;
        self.parts
            .progress
            .update(|p| p.condition = Some(condition.clone()));
        control.report(service, Some(&condition));
        error!(service, %condition, "the log went backwards: applying stopped; answers stay as they were until `portrait rebuild`");
        Ok(())
    }

    /// Applies one batch, unless a rebuild came first or the batch shows the
    /// log went backwards (then nothing is written but the condition).
    async fn apply(&self, batch: Vec<Record>, generation: u64) -> Result<Batch> {
        let (projection, store) = (&self.parts.projection, &self.parts.store);
        let service = projection.name();
        let _writing = self.parts.control.writing.lock().await;
        if self.parts.control.generation() != generation {
            return Ok(Batch::Restart);
        }
        let (epoch, behind) = {
            let (p, _) = self.parts.progress.read();
            let records = batch.iter().map(|r| (r.partition, r.offset));
            (
                p.epoch,
                log_check::record_behind(&self.topics.orders, &p.positions, records),
            )
        };
        if let Some(condition) = behind {
            self.halt_locked(condition).await?;
            return Ok(Batch::Halted);
        }
        let mut stale = 0_i64;
        let mut next: BTreeMap<i32, i64> = BTreeMap::new();
        let mut events = Vec::with_capacity(batch.len());
        let mut dead = Vec::new();
        let now = crate::now_ms();
        for record in &batch {
            let pos = next.entry(record.partition).or_default();
            *pos = (*pos).max(record.offset + 1);
            if epoch_of(record) < epoch {
                // Its order is in the fresh publication this consumer follows.
                stale += 1;
                continue;
            }
            match decode(record, now, &self.limits) {
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
            self.parts.bus.ensure_topic(&self.topics.dlq).await?;
            self.parts.bus.publish(&self.topics.dlq, &dead).await?;
        }
        let clock = std::time::Instant::now();
        let mut tx = store.begin().await?;
        let ids: Vec<&str> = events.iter().map(|e| e.order_id.as_str()).collect();
        let seen = &self.parts.seen;
        let mut applied = Applied::load(&mut tx, &seen.to_look_up(&ids)).await?;
        let mut delta = P::Delta::default();
        let mut fresh = 0_i64;
        for event in &events {
            if applied.insert(&event.order_id, event.revision) {
                delta.apply(&self.calendar, event);
                fresh += 1;
            }
        }
        P::prune(&mut delta);
        let folded = clock.elapsed();
        let positions: Vec<(i32, i64)> = next.into_iter().collect();
        projection.write(&mut tx, &delta).await?;
        let written = clock.elapsed();
        seen.add(applied.new_orders());
        applied.save(&mut tx).await?;
        portrait_store::save_positions(&mut tx, &self.topics.orders, &positions).await?;
        let skipped = events.len() as i64 - fresh;
        let dead_count = dead.len() as i64;
        portrait_store::add_counters(
            &mut tx,
            &[
                ("events_applied", fresh),
                ("duplicates_skipped", skipped),
                ("stale_skipped", stale),
                ("dead_lettered", dead_count),
            ],
        )
        .await?;
        tx.commit().await?;
        let committed = clock.elapsed();
        projection.apply(&delta);
        self.parts.progress.update(|p| {
            p.positions.extend(positions);
            p.events_applied += fresh;
            p.dead_lettered += dead_count;
        });
        if let Some(m) = metrics::get() {
            m.events_applied
                .with_label_values(&[service])
                .inc_by(fresh as u64);
            m.duplicates_skipped
                .with_label_values(&[service])
                .inc_by(skipped as u64);
            m.dead_lettered
                .with_label_values(&[service])
                .inc_by(dead_count as u64);
            m.batch_size
                .with_label_values(&[service])
                .observe(batch.len() as f64);
        }
        tracing::debug!(
            service,
            applied = fresh,
            skipped,
            dead = dead_count,
            fold_ms = folded.as_millis() as u64,
            write_ms = (written - folded).as_millis() as u64,
            commit_ms = (committed - written).as_millis() as u64,
            apply_ms = (clock.elapsed() - committed).as_millis() as u64,
            "batch applied"
        );
        Ok(Batch::Applied)
    }
}

/// Decodes and checks one record; the error is the reason a person reads in the DLQ.
fn decode(
    record: &Record,
    now_ms: i64,
    limits: &Limits,
) -> std::result::Result<OrderEvent, String> {
    if let Some(reason) = portrait_bus::unreadable_bundle(record) {
        return Err(format!("an unreadable bundle of events: {reason}"));
    }
    let event = OrderEvent::decode(record.payload.as_slice())
        .map_err(|e| format!("not an OrderEvent: {e}"))?;
    if event.order_id.is_empty() {
        return Err("event.order_id is empty".into());
    }
    if event.revision < 1 {
        return Err(format!("event.revision {} is not positive", event.revision));
    }
    let versions = [
        ("order", &event.order),
        ("previous", &event.previous),
        ("refunded", &event.refunded),
        ("previous_refunded", &event.previous_refunded),
    ];
    if versions.iter().all(|(_, v)| v.is_none()) {
        return Err("event has neither order nor previous nor a refunded version".into());
    }
    for (name, version) in versions {
        if let Some(o) = version {
            if o.order_id != event.order_id {
                return Err(format!("event.{name}.order_id differs from event.order_id"));
            }
            check(o, now_ms, limits).map_err(|e| format!("event.{name}: {e}"))?;
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

#[cfg(test)]
mod decode_tests;
