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
use portrait_proto::v1::{SegmentTransition, TransitionKind};
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
    projection: Arc<CustomerProjection>,
    ctx: QueryContext,
    shutdown: CancellationToken,
) {
    let publisher = Publisher {
        projection,
        params,
        ctx,
        places: Vec::new(),
        orphans: Vec::new(),
        incarnation: None,
        last_sequence: 0,
    };
    let bus = config.bus_config();
    let topic = config.topics().segments;
    let debounce = Duration::from_millis(config.segments.debounce_ms);
    tokio::spawn(publisher.run(bus, topic, debounce, shutdown));
}

struct Publisher {
    projection: Arc<CustomerProjection>,
    ctx: QueryContext,
    params: RfmParams,
    /// The last published place of each customer, by dense id of the state's
    /// `incarnation`.
    places: Vec<Place>,
    /// Published customers the state does not know (it was rebuilt): they
    /// leave their segment unless they come back before the next recompute.
    orphans: Vec<(String, Place)>,
    incarnation: Option<u64>,
    last_sequence: i64,
}

impl Publisher {
    async fn run(
        mut self,
        bus: portrait_bus::BusConfig,
        topic: String,
        debounce: Duration,
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
                Err(e) => error!(error = %e, "segment publisher cannot start; retrying"),
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
            // A state still catching up (a backlog, a rebuild) is not news.
            match self.ctx.status().await {
                Ok(s) if s.lag == 0 && s.condition.is_empty() => {}
                Ok(_) => continue,
                Err(e) => {
                    warn!(error = %e, "segment publisher cannot tell the lag");
                    continue;
                }
            }
            match self.publish(day).await {
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
        Ok(())
    }

    /// One recompute, diff and commit; the state version computed and the
    /// events committed, or None when the state was replaced meanwhile.
    async fn publish(&mut self, day: Day) -> Result<Option<(u64, usize)>> {
        if self.incarnation != Some(self.projection.live.incarnation()) {
            self.reload().await?;
        }
        let Some((version, events)) = self.transitions(day) else {
            self.incarnation = None;
            return Ok(None);
        };
        if events.is_empty() {
            return Ok(Some((version, 0)));
        }
        let last = self.last_sequence + events.len() as i64;
        let rows: Vec<(SegmentTransition, Place)> = events
            .iter()
            .map(|(e, _, place)| (e.clone(), *place))
            .collect();
        outbox::commit(self.ctx.store(), &rows, last).await?;
        for (_, customer, place) in &events {
            if let Some(c) = customer {
                let c = *c as usize;
                if self.places.len() <= c {
                    self.places.resize(c + 1, Place::default());
                }
                self.places[c] = *place;
            }
        }
        self.orphans.clear();
        self.last_sequence = last;
        info!(
            transitions = events.len(),
            last_sequence = last,
            as_of = %Calendar::format_day(day),
            "segment transitions committed"
        );
        Ok(Some((version, events.len())))
    }

    /// The events of one recompute, each with its customer's dense id (None
    /// for an orphan) and new place; None when the state's incarnation moved.
    #[allow(clippy::type_complexity)]
    fn transitions(
        &mut self,
        day: Day,
    ) -> Option<(u64, Vec<(SegmentTransition, Option<u32>, Place)>)> {
        let (state, version) = self.projection.live.read();
        if Some(self.projection.live.incarnation()) != self.incarnation {
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
        let thresholds = crate::thresholds(&table, &self.params);
        let as_of_date = Calendar::format_day(day);
        let now = portrait_service::now_ms();
        let mut sequence = self.last_sequence;
        let mut event = |customer_id: &str, before: Place, after: Place| {
            sequence += 1;
            let kind = match (before.is_none(), after.is_none()) {
                (true, _) => TransitionKind::Entered,
                (_, true) => TransitionKind::Left,
                _ => TransitionKind::Moved,
            };
            SegmentTransition {
                sequence,
                customer_id: customer_id.to_owned(),
                kind: kind as i32,
                as_of_date: as_of_date.clone(),
                before: before.proto(),
                after: after.proto(),
                thresholds: Some(thresholds),
                published_at_ms: now,
            }
        };
        let mut out = Vec::new();
        for c in diff(&self.places, &table) {
            let e = event(names.name(c.customer), c.before, c.after);
            out.push((e, Some(c.customer), c.after));
        }
        for (name, place) in &self.orphans {
            out.push((
                event(name, *place, Place::default()),
                None,
                Place::default(),
            ));
        }
        Some((version, out))
    }
}
