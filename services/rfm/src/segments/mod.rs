//! Segment transitions: the rfm service recomputes every customer's
//! chain-wide segment (all stores, the configured `rfm.*`, as of today) a
//! little after batches were applied and at each local day change, compares
//! it with what it last published, and commits the new places and one event
//! per customer whose segment changed in one transaction; a relay publishes
//! them to `segments.v1` (docs/architecture.md §3 "Segment transitions", §4).

mod assign;
mod outbox;
mod relay;

use std::sync::Arc;
use std::time::Duration;

use portrait_bus::Bus;
use portrait_core::{Calendar, Day, RfmParams};
use portrait_proto::v1::ingest_service_client::IngestServiceClient;
use portrait_proto::v1::{IngestStatusRequest, SegmentTransition, TransitionKind};
use portrait_service::PeerChannel as Channel;
use portrait_service::{Config, CustomerProjection, QueryContext, Result};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

pub use assign::{Change, Place, chain_table, diff};
pub use relay::SEQUENCE_HEADER;

/// Starts the publisher and its relay; both stop with `shutdown`.
pub(crate) fn spawn(
    config: &Config,
    params: RfmParams,
    (projection, ctx, ingest): (Arc<CustomerProjection>, QueryContext, Channel),
    relaying: tokio::sync::watch::Sender<bool>,
    shutdown: CancellationToken,
) {
    let publisher = Publisher {
        projection,
        params,
        ctx,
        ingest: IngestServiceClient::new(ingest),
        places: Vec::new(),
        orphans: Vec::new(),
        incarnation: None,
        last_sequence: 0,
        epoch: 0,
    };
    let bus = config.bus_config();
    let topic = config.topics().segments;
    let debounce = Duration::from_millis(config.segments.debounce_ms);
    let delay = Duration::from_millis(config.segments.relay_delay_ms);
    tokio::spawn(publisher.run(bus, topic, (debounce, delay), relaying, shutdown));
}

struct Publisher {
    projection: Arc<CustomerProjection>,
    ctx: QueryContext,
    params: RfmParams,
    /// Asked, after a rebuild, whether the fresh publication is all out.
    ingest: IngestServiceClient<Channel>,
    /// The last published place of each customer, by dense id of the state's
    /// `incarnation`.
    places: Vec<Place>,
    /// Published customers the state does not know (it was rebuilt): they
    /// leave their segment unless they come back before the next recompute.
    orphans: Vec<(String, Place)>,
    incarnation: Option<u64>,
    last_sequence: i64,
    /// The orders' publication (`portrait rebuild`'s epoch) last published from.
    epoch: i64,
}

impl Publisher {
    async fn run(
        mut self,
        bus: portrait_bus::BusConfig,
        topic: String,
        (debounce, relay_delay): (Duration, Duration),
        relaying: tokio::sync::watch::Sender<bool>,
        shutdown: CancellationToken,
    ) {
        let store = self.ctx.store().clone();
        let bus = loop {
            let setup = async {
                store.migrate("segments", outbox::MIGRATIONS).await?;
                let bus = Bus::connect(&bus).await?;
                bus.ensure_topic(&topic).await?;
                Ok::<_, portrait_service::Error>(bus)
            };
            match setup.await {
                Ok(bus) => break bus,
                Err(e) => {
                    relaying.send_replace(false);
                    error!(error = %e, "segment publisher cannot start; retrying");
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            }
        };
        let wake = Arc::new(Notify::new());
        let relay = tokio::spawn(relay::relay(
            store,
            bus,
            topic,
            wake.clone(),
            relay_delay,
            relaying,
            shutdown.clone(),
        ));
        let calendar = *self.ctx.calendar();
        // The (state version, day) last published; nothing new, nothing to do.
        let mut done: Option<(u64, Day)> = None;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(debounce) => {}
            }
            let day = calendar.day(portrait_service::now_ms());
            let version = self.projection.live.read().1;
            if done == Some((version, day)) {
                continue;
            }
            // The state the lag speaks of: a rebuild after the check empties it.
            let checked = self.projection.live.incarnation();
            if self.incarnation != Some(checked)
                && let Err(e) = self.reload().await
            {
                error!(error = %e, "published segments not loaded; retrying");
                continue;
            }
            let Some(epoch) = self.caught_up().await else {
                continue;
            };
            match self.publish(day, checked, epoch).await {
                Ok(Some((version, n))) => {
                    done = Some((version, day));
                    if n > 0 {
                        wake.notify_one();
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    // The commit may have landed: start again from the store.
                    error!(error = %e, "segment transitions not committed; reloading");
                    self.incarnation = None;
                }
            }
        }
        let _ = relay.await;
        info!("segment publisher stopped");
    }

    /// The epoch of the orders the state follows, when it has applied all
    /// of them: a state still catching up (a backlog, a restart, a rebuild)
    /// is not news. After a rebuild the log may end before ingest has
    /// published the whole fresh publication, so until the first publication
    /// from a new epoch, ingest's outbox must be empty too.
    async fn caught_up(&mut self) -> Option<i64> {
        let status = self.status().await?;
        if status.epoch == self.epoch {
            return (status.lag == 0).then_some(status.epoch);
        }
        // Ingest queued the whole publication before the rebuild began:
        // once its outbox is empty, a lag of 0 asked afterwards means applied.
        match self.ingest.get_ingest_status(IngestStatusRequest {}).await {
            Ok(i) if i.get_ref().outbox_pending == 0 => {}
            Ok(_) => return None,
            Err(e) => {
                warn!(error = %e, "segment publisher cannot ask ingest whether a rebuild's publication is out");
                return None;
            }
        }
        let after = self.status().await?;
        (after.lag == 0 && after.epoch == status.epoch).then_some(after.epoch)
    }

    /// The consumer's status, unless it stopped applying.
    async fn status(&self) -> Option<portrait_proto::v1::ConsumerStatus> {
        match self.ctx.status().await {
            Ok(s) if s.condition.is_empty() => Some(s),
            Ok(_) => None,
            Err(e) => {
                warn!(error = %e, "segment publisher cannot tell the lag");
                None
            }
        }
    }

    /// Reads what was last published and keys it by the state's dense ids.
    async fn reload(&mut self) -> Result<()> {
        let published = outbox::load(self.ctx.store()).await?;
        let (state, _) = self.projection.live.read();
        let names = state.book.customers();
        self.places = vec![Place::default(); names.len()];
        self.orphans.clear();
        for (name, place) in published.places {
            match names.get(&name) {
                Some(c) => self.places[c as usize] = place,
                None => self.orphans.push((name, place)),
            }
        }
        self.incarnation = Some(self.projection.live.incarnation());
        self.last_sequence = published.last_sequence;
        self.epoch = published.epoch;
        Ok(())
    }

    /// One recompute and diff, committed in chunks of at most `CHUNK`
    /// transitions; the state version computed and the transitions committed,
    /// or None when the state was replaced meanwhile.
    async fn publish(
        &mut self,
        day: Day,
        checked: u64,
        epoch: i64,
    ) -> Result<Option<(u64, usize)>> {
        if self.projection.live.incarnation() != checked {
            return Ok(None);
        }
        if self.incarnation != Some(checked) {
            self.reload().await?;
        }
        let Some(found) = self.recompute(day, checked) else {
            self.incarnation = None;
            return Ok(None);
        };
        // A rebuild replaces the state a moment before the positions its lag
        // is read from: asked again after the recompute, the lag tells.
        if self.caught_up().await != Some(epoch) || self.projection.live.incarnation() != checked {
            return Ok(None);
        }
        let mut committed = 0;
        for chunk in found.changes.chunks(CHUNK) {
            let Some(events) = self.events(chunk, &found) else {
                self.incarnation = None;
                return Ok(None);
            };
            committed += self.commit(events, epoch).await?;
        }
        if !self.orphans.is_empty() {
            let events = (self.orphans.iter())
                .map(|(name, place)| (name.as_str(), None, *place, Place::default()))
                .collect::<Vec<_>>();
            let events = self.event_rows(events, &found);
            committed += self.commit(events, epoch).await?;
            self.orphans.clear();
        }
        if epoch != self.epoch {
            self.commit(Vec::new(), epoch).await?;
        }
        if committed > 0 {
            info!(
                transitions = committed,
                last_sequence = self.last_sequence,
                as_of = %found.as_of_date,
                "segment transitions committed"
            );
        }
        Ok(Some((found.version, committed)))
    }

    /// The assignment now and what moved since the last publication.
    fn recompute(&mut self, day: Day, checked: u64) -> Option<Found> {
        let (state, version) = self.projection.live.read();
        let now = self.projection.live.incarnation();
        if now != checked || Some(now) != self.incarnation {
            return None;
        }
        let names = state.book.customers();
        // An orphan the state has learned about since is an ordinary customer.
        let mut orphans = Vec::new();
        for (name, place) in std::mem::take(&mut self.orphans) {
            match names.get(&name) {
                Some(c) => {
                    let c = c as usize;
                    if self.places.len() <= c {
                        self.places.resize(c + 1, Place::default());
                    }
                    self.places[c] = place;
                }
                None => orphans.push((name, place)),
            }
        }
        self.orphans = orphans;
        let table = chain_table(&state, day, &self.params);
        Some(Found {
            version,
            changes: diff(&self.places, &table),
            thresholds: crate::thresholds(&table, &self.params),
            as_of_date: Calendar::format_day(day),
        })
    }

    /// A chunk's events; the names are read under the state's lock, so the
    /// whole list of a day change never holds a million strings at once.
    fn events(&self, chunk: &[Change], found: &Found) -> Option<Vec<EventRow>> {
        let (state, _) = self.projection.live.read();
        if Some(self.projection.live.incarnation()) != self.incarnation {
            return None;
        }
        let names = state.book.customers();
        let rows = (chunk.iter())
            .map(|c| (names.name(c.customer), Some(c.customer), c.before, c.after))
            .collect();
        Some(self.event_rows(rows, found))
    }

    fn event_rows(
        &self,
        rows: Vec<(&str, Option<u32>, Place, Place)>,
        found: &Found,
    ) -> Vec<EventRow> {
        let now = portrait_service::now_ms();
        let mut sequence = self.last_sequence;
        rows.into_iter()
            .map(|(customer_id, customer, before, after)| {
                sequence += 1;
                let kind = match (before.is_none(), after.is_none()) {
                    (true, _) => TransitionKind::Entered,
                    (_, true) => TransitionKind::Left,
                    _ => TransitionKind::Moved,
                };
                let event = SegmentTransition {
                    sequence,
                    customer_id: customer_id.to_owned(),
                    kind: kind as i32,
                    as_of_date: found.as_of_date.clone(),
                    before: before.proto(),
                    after: after.proto(),
                    thresholds: Some(found.thresholds),
                    published_at_ms: now,
                };
                (event, customer, after)
            })
            .collect()
    }

    /// The events, the customers' new places and the last sequence number
    /// in one transaction; then the same in memory.
    async fn commit(&mut self, events: Vec<EventRow>, epoch: i64) -> Result<usize> {
        let last = self.last_sequence + events.len() as i64;
        let rows: Vec<(SegmentTransition, Place)> = events
            .iter()
            .map(|(e, _, place)| (e.clone(), *place))
            .collect();
        outbox::commit(self.ctx.store(), &rows, last, epoch).await?;
        for (_, customer, place) in &events {
            if let Some(c) = customer {
                let c = *c as usize;
                if self.places.len() <= c {
                    self.places.resize(c + 1, Place::default());
                }
                self.places[c] = *place;
            }
        }
        self.last_sequence = last;
        self.epoch = epoch;
        if let Some(m) = portrait_service::metrics::get() {
            for (e, _, _) in &events {
                let kind = e.kind().as_str_name();
                m.segment_transitions.with_label_values(&[kind]).inc();
            }
        }
        Ok(events.len())
    }
}

/// An event, its customer's dense id (None for an orphan) and new place.
type EventRow = (SegmentTransition, Option<u32>, Place);

/// Transitions per transaction at most: bounds the memory of a day change
/// or a first publication at a million customers.
const CHUNK: usize = 20_000;

/// What one recompute found, before any of it is committed.
struct Found {
    version: u64,
    changes: Vec<Change>,
    thresholds: portrait_proto::v1::RfmThresholds,
    as_of_date: String,
}
