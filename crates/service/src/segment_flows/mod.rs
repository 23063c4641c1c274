//! A follower of `segments.v1` any service can host (the suggest service
//! does): it applies each transition once — a record at or below the last
//! sequence number applied on its partition is a re-send — and keeps the last
//! `segments.flow_days` days as flows, from → to counts per day, committed
//! with its log positions in one transaction (docs/architecture.md §4).

mod book;

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use portrait_bus::{Bus, BusConfig};
use portrait_core::{Calendar, Day};
use portrait_proto::v1::segment_flows_query_server::{SegmentFlowsQuery, SegmentFlowsQueryServer};
use portrait_proto::v1::{SegmentFlows, SegmentFlowsRequest};
use portrait_store::{Arg, Key, Migration, Store, migrations, scan, upsert};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};
use tracing::{error, info};

use crate::{Config, Result};
use book::FlowBook;

const MIGRATIONS: &[Migration] = migrations!("migrations/segment_flows", ["0001_segment_flows"]);

const APPLIED: &str = "applied";
const DUPLICATES: &str = "duplicates_skipped";
const UNREADABLE: &str = "unreadable";

/// Records per transaction at most.
const BATCH: usize = 5_000;

/// Built before the service's store is open; `serve` starts following.
pub struct SegmentFlowFollower {
    bus: BusConfig,
    topic: String,
    calendar: Calendar,
    days: i64,
    poll: Duration,
    shutdown: CancellationToken,
}

impl SegmentFlowFollower {
    pub fn new(config: &Config, shutdown: CancellationToken) -> Self {
        Self {
            bus: config.bus_config(),
            topic: config.topics().segments,
            calendar: config.calendar(),
            days: config.segments.flow_days,
            poll: Duration::from_millis(config.consumer.poll_ms),
            shutdown,
        }
    }

    /// Follows the topic into `store` in the background; the gRPC service
    /// answers from what has been applied so far.
    pub fn serve(self, store: &Store) -> SegmentFlowsQueryServer<Flows> {
        let flows = Flows {
            book: Arc::default(),
            calendar: self.calendar,
            days: self.days,
        };
        tokio::spawn(follow(self, store.clone(), flows.clone()));
        SegmentFlowsQueryServer::new(flows)
    }
}

#[derive(Clone)]
pub struct Flows {
    book: Arc<RwLock<FlowBook>>,
    calendar: Calendar,
    days: i64,
}

impl Flows {
    /// The first day kept: `flow_days` local days up to today.
    fn keep_from(&self) -> Day {
        let today = self.calendar.day(crate::now_ms());
        today - Day::try_from(self.days - 1).unwrap_or(0)
    }

    pub fn answer(&self, req: &SegmentFlowsRequest) -> Result<SegmentFlows> {
        let day = |field: &str, text: &str| {
            (!text.is_empty())
                .then(|| Calendar::parse_day(field, text))
                .transpose()
        };
        let from = day("from_date", &req.from_date)?;
        let to = day("to_date", &req.to_date)?;
        if let (Some(f), Some(t)) = (from, to)
            && t <= f
        {
            let reason = "must be after from_date";
            return Err(portrait_core::Error::invalid("to_date", reason).into());
        }
        let book = self.book.read().unwrap_or_else(PoisonError::into_inner);
        Ok(SegmentFlows {
            flows: book.flows(from, to),
            transitions_applied: book.applied,
            last_sequence: book.last_sequence(),
            days_kept: i32::try_from(self.days).unwrap_or(i32::MAX),
            duplicates_skipped: book.duplicates,
        })
    }
}

#[tonic::async_trait]
impl SegmentFlowsQuery for Flows {
    async fn get_segment_flows(
        &self,
        request: Request<SegmentFlowsRequest>,
    ) -> Result<Response<SegmentFlows>, Status> {
        Ok(Response::new(self.answer(request.get_ref())?))
    }
}

async fn follow(f: SegmentFlowFollower, store: Store, flows: Flows) {
    let mut backoff = Duration::from_millis(200);
    loop {
        let started = std::time::Instant::now();
        match run(&f, &store, &flows).await {
            Ok(()) => break,
            // Its store closes at shutdown, possibly under a read: not a failure.
            Err(_) if f.shutdown.is_cancelled() => break,
            Err(e) => {
                if started.elapsed() > Duration::from_secs(60) {
                    backoff = Duration::from_millis(200);
                }
                error!(error = %e, retry_in_ms = backoff.as_millis() as u64, "segment flows follower failed, resuming from the store");
            }
        }
        tokio::select! {
            _ = f.shutdown.cancelled() => break,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
    info!("segment flows follower stopped");
}

/// Loads the flows from the store, then applies the topic until shutdown.
async fn run(f: &SegmentFlowFollower, store: &Store, flows: &Flows) -> Result<()> {
    store.migrate("segment_flows", MIGRATIONS).await?;
    let bus = Bus::connect(&f.bus).await?;
    bus.ensure_topic(&f.topic).await?;
    let positions = load(store, flows).await?;
    let mut consumer = bus.consumer(&f.topic, &positions).await?;
    loop {
        let records = tokio::select! {
            _ = f.shutdown.cancelled() => return Ok(()),
            r = consumer.next_batch(BATCH, f.poll) => r?,
        };
        if records.is_empty() {
            continue;
        }
        let keep_from = flows.keep_from();
        let batch = flows
            .book
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .batch(&records, keep_from);
        let mut tx = store.begin().await?;
        let add = batch.add.iter().map(|(&(day, from, to), &n)| {
            let row = [i64::from(day), i64::from(from), i64::from(to), n];
            row.map(Arg::from).to_vec()
        });
        upsert(
            &mut tx,
            "followed_segment_flows",
            &["day", "from_segment", "to_segment"],
            &["customers"],
            true,
            add.collect(),
        )
        .await?;
        // Every partition read: its next offset, and its last sequence (a
        // partition of unreadable records only keeps the one it had).
        let parts = batch.positions.iter().map(|(&p, &next)| {
            let last = batch.last.get(&p).copied().unwrap_or(0);
            vec![Arg::from(i64::from(p)), Arg::from(next), Arg::from(last)]
        });
        upsert(
            &mut tx,
            "followed_segment_sequences",
            &["part"],
            &["next_offset", "last_sequence"],
            false,
            parts.collect(),
        )
        .await?;
        sqlx::query("DELETE FROM followed_segment_flows WHERE day < $1")
            .bind(i64::from(keep_from))
            .execute(&mut *tx)
            .await?;
        let counters = [
            (APPLIED, batch.applied),
            (DUPLICATES, batch.duplicates),
            (UNREADABLE, batch.unreadable),
        ];
        let counters = counters
            .iter()
            .map(|&(name, n)| vec![Arg::from(name), Arg::from(n)]);
        upsert(
            &mut tx,
            "followed_segment_counters",
            &["name"],
            &["value"],
            true,
            counters.collect(),
        )
        .await?;
        tx.commit().await?;
        flows
            .book
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .apply(&batch, keep_from);
        if let Some(m) = crate::metrics::get() {
            for (outcome, n) in [
                ("applied", batch.applied),
                ("duplicate", batch.duplicates),
                ("unreadable", batch.unreadable),
            ] {
                let n = u64::try_from(n).unwrap_or(0);
                m.segment_records.with_label_values(&[outcome]).inc_by(n);
            }
        }
        tracing::debug!(
            applied = batch.applied,
            duplicates = batch.duplicates,
            "segment transitions applied"
        );
    }
}

/// Replaces the book with the store's and returns the positions to read from.
async fn load(store: &Store, flows: &Flows) -> Result<Vec<(i32, i64)>> {
    let mut book = FlowBook::default();
    let columns = ["day", "from_segment", "to_segment", "customers"];
    let keys = [
        Key::Int("day"),
        Key::Int("from_segment"),
        Key::Int("to_segment"),
    ];
    scan(
        store.pool(),
        "followed_segment_flows",
        &keys,
        &columns,
        |r| {
            let small = |v: i64| u8::try_from(v).unwrap_or(0);
            let day = Day::try_from(r.int("day")?).unwrap_or(0);
            let key = (
                day,
                small(r.int("from_segment")?),
                small(r.int("to_segment")?),
            );
            book.flows.insert(key, r.int("customers")?);
            Ok(())
        },
    )
    .await?;
    let mut positions = Vec::new();
    scan(
        store.pool(),
        "followed_segment_sequences",
        &[Key::Int("part")],
        &["part", "next_offset", "last_sequence"],
        |r| {
            let part = i32::try_from(r.int("part")?).unwrap_or(0);
            book.last.insert(part, r.int("last_sequence")?);
            positions.push((part, r.int("next_offset")?));
            Ok(())
        },
    )
    .await?;
    let mut counters = BTreeMap::new();
    scan(
        store.pool(),
        "followed_segment_counters",
        &[Key::Text("name")],
        &["name", "value"],
        |r| {
            counters.insert(r.text("name")?.to_owned(), r.int("value")?);
            Ok(())
        },
    )
    .await?;
    let counter = |name: &str| counters.get(name).copied().unwrap_or(0);
    book.applied = counter(APPLIED);
    book.duplicates = counter(DUPLICATES);
    *flows.book.write().unwrap_or_else(PoisonError::into_inner) = book;
    Ok(positions)
}
