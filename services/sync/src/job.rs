//! One sync job: read pages of source orders, map them, submit what changed to
//! ingest, and record what happened, page by page.
//!
//! Crash safety: before a page is submitted its orders are marked `pending` in
//! sync's store; after ingest acknowledged, one transaction records their new
//! state, the findings, the job's counters and the raised watermark. A crash in
//! between leaves `pending` rows, which the next run re-submits and ingest
//! dedups, so no order is lost or counted twice.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use portrait_proto::v1::ingest_service_client::IngestServiceClient;
use portrait_proto::v1::{Order, OrderStatus, SubmitOutcome, SyncCounts, SyncMode};
use portrait_service::PeerChannel as Channel;
use portrait_store::Store;
use prost::Message as _;
use tokio_util::sync::CancellationToken;

use crate::map::{Outcome, Shops, SourceOrder, map_order};
use crate::reason::{Finding, Kind, Reason};
use crate::rules::Rules;
use crate::source::Source;
use crate::state::{self, Known, Write};
use crate::submit::{submit_batch, submit_one};
use crate::{Error, Result, metrics};

const DAY_MS: i64 = 86_400_000;

/// Where a job's source orders come from.
pub enum Reader {
    Db(Source),
    /// An import file's orders, in id order.
    File {
        orders: Vec<SourceOrder>,
        shops: Shops,
    },
}

impl Reader {
    async fn shops(&self) -> Result<Shops> {
        match self {
            Reader::Db(s) => s.shops().await,
            Reader::File { shops, .. } => Ok(shops.clone()),
        }
    }

    async fn count_after(&self, after: i64) -> Result<i64> {
        match self {
            Reader::Db(s) => s.count_after(after).await,
            Reader::File { orders, .. } => {
                Ok(orders.iter().filter(|o| o.id > after).count() as i64)
            }
        }
    }

    async fn page(&self, after: i64, limit: i64) -> Result<Vec<SourceOrder>> {
        match self {
            Reader::Db(s) => s.page(after, limit).await,
            Reader::File { orders, .. } => {
                let start = orders.partition_point(|o| o.id <= after);
                let end = (start + limit as usize).min(orders.len());
                Ok(orders[start..end].to_vec())
            }
        }
    }
}

/// Where a job's time went, to say which phase bounds it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timings {
    pub read: Duration,
    pub map: Duration,
    pub submit: Duration,
    /// Sync's own store: known states, pending marks, results.
    pub store: Duration,
}

pub struct JobContext<'a> {
    pub store: &'a Store,
    pub ingest: IngestServiceClient<Channel>,
    pub rules: &'a Rules,
    pub reread_days: i64,
    pub page_size: i64,
    pub now_ms: fn() -> i64,
    pub cancel: CancellationToken,
    pub timings: Timings,
}

/// What a page decided for one order, before ingest answered.
enum Plan {
    /// `known`: sync already holds exactly this version as live, so a crash
    /// mid-submission cannot leave it wrong and no pending mark is needed.
    Submit {
        order: Order,
        known: bool,
        /// `order` encoded, once: compared with what sync knows, then stored.
        payload: Vec<u8>,
    },
    Retract(Order),
}

pub async fn run(
    ctx: &mut JobContext<'_>,
    job_id: i64,
    mode: SyncMode,
    reader: &Reader,
) -> Result<()> {
    let shops = reader.shops().await?;
    let now = (ctx.now_ms)();
    let start_after = match mode {
        SyncMode::Incremental | SyncMode::Unspecified => {
            let watermark = state::watermark(ctx.store).await?;
            let cutoff = now - ctx.reread_days * DAY_MS;
            // Also from the first order a killed run left pending, wherever
            // it lies: its outcome is unknown until it is submitted again.
            [
                state::first_id_since(ctx.store, cutoff).await?,
                state::first_pending(ctx.store).await?,
            ]
            .into_iter()
            .flatten()
            .fold(watermark, |from, id| from.min(id - 1))
        }
        SyncMode::Full | SyncMode::Import => i64::MIN,
    };
    let expected = reader.count_after(start_after).await?;
    state::set_phase(ctx.store, job_id, "reading", Some(expected)).await?;
    tracing::info!(
        job_id,
        mode = state::mode_code(mode),
        start_after,
        expected,
        "sync job reading"
    );
    let mut seen = HashSet::new();
    // Ids above every id sync knew when the job started are new: a first run
    // (or the new tail of an incremental one) needs no lookups for them.
    let newest_known = state::max_known_id(ctx.store).await?;
    let t = Instant::now();
    let mut page = reader.page(start_after, ctx.page_size).await?;
    ctx.timings.read += t.elapsed();
    // Three pages in flight: page N + 1 is read and page N - 1's results are
    // recorded while page N is mapped and submitted. Results are recorded in
    // page order, so the watermark never passes an unrecorded page.
    let mut staged: Option<Staged> = None;
    while let Some(last) = page.last().map(|o| o.id) {
        if ctx.cancel.is_cancelled() {
            if let Some(p) = staged.take() {
                record(ctx.store, job_id, mode, p).await?;
            }
            return Err(Error::Config("the sync was stopped by shutdown".into()));
        }
        if mode == SyncMode::Full {
            seen.extend(page.iter().map(|o| o.id));
        }
        let size = ctx.page_size;
        let store = ctx.store;
        let previous = staged.take();
        let t = Instant::now();
        let (next, processed, recorded) = tokio::join!(
            reader.page(last, size),
            async {
                let r = stage_page(ctx, mode, &page, &shops, now, newest_known).await;
                (r, t.elapsed())
            },
            async {
                match previous {
                    Some(p) => record(store, job_id, mode, p).await,
                    None => Ok(Duration::ZERO),
                }
            }
        );
        let recorded = recorded?;
        ctx.timings.store += recorded;
        staged = Some(processed.0?);
        // Only the part of the read that the other work did not hide counts.
        ctx.timings.read += t.elapsed().saturating_sub(processed.1.max(recorded));
        page = next?;
    }
    if let Some(p) = staged.take() {
        ctx.timings.store += record(ctx.store, job_id, mode, p).await?;
    }
    if mode == SyncMode::Full {
        state::set_phase(ctx.store, job_id, "finding_missing", None).await?;
        retract_missing(ctx, job_id, &seen).await?;
    }
    Ok(())
}

/// A page mapped and answered by ingest, waiting to be recorded.
struct Staged {
    writes: Vec<Write>,
    /// Ids whose pending marks ingest's answer settled.
    settled: Vec<i64>,
    findings: Vec<(Kind, Finding)>,
    counts: SyncCounts,
    last_id: Option<i64>,
}

/// Maps a page, marks what will be submitted as pending, and submits it.
async fn stage_page(
    ctx: &mut JobContext<'_>,
    mode: SyncMode,
    page: &[SourceOrder],
    shops: &Shops,
    now: i64,
    newest_known: i64,
) -> Result<Staged> {
    let ids: Vec<i64> = page.iter().map(|o| o.id).collect();
    let t = Instant::now();
    let known = match page.first() {
        Some(first) if first.id > newest_known => HashMap::new(),
        _ => state::known(ctx.store, &ids).await?,
    };
    ctx.timings.store += t.elapsed();
    let t = Instant::now();
    let mut counts = SyncCounts {
        read: page.len() as i64,
        ..Default::default()
    };
    let mut findings: Vec<(Kind, Finding)> = Vec::new();
    let mut plans: Vec<(i64, i64, Plan)> = Vec::new();
    let mut writes: Vec<Write> = Vec::new();
    let mut identities = Vec::new();
    for src in page {
        let mapped = map_order(src, shops, ctx.rules, now);
        let placed = mapped.placed_at_ms.unwrap_or(0);
        let was = known.get(&src.id);
        let maybe_live = was.is_some_and(|k| k.live || k.pending);
        match mapped.outcome {
            Outcome::Live(order) => {
                let corrections = mapped.findings;
                if !corrections.is_empty() {
                    counts.corrected += 1;
                }
                findings.extend(corrections.into_iter().map(|f| (Kind::Corrected, f)));
                let payload = order.encode_to_vec();
                let same = was.is_some_and(|k| k.live && !k.pending && k.payload == payload);
                // A full run re-submits everything so that ingest, not sync's
                // memory of it, decides what is unchanged.
                if same && mode != SyncMode::Full {
                    counts.unchanged += 1;
                } else {
                    identities.extend(mapped.identity);
                    plans.push((
                        src.id,
                        placed,
                        Plan::Submit {
                            order,
                            known: same,
                            payload,
                        },
                    ));
                }
            }
            Outcome::Dropped { reason, status } => {
                let mut rest = mapped.findings.into_iter();
                let first = rest
                    .next()
                    .unwrap_or_else(|| Finding::new(reason, src.id, ""));
                if maybe_live && let Some(k) = was {
                    let mut order = Order::decode(k.payload.as_slice())?;
                    order.status = status as i32;
                    plans.push((src.id, placed, Plan::Retract(order)));
                    findings.push((Kind::Retracted, first));
                } else {
                    counts.rejected += 1;
                    findings.push((Kind::Rejected, first));
                    let row = Known {
                        placed_at_ms: placed,
                        live: false,
                        pending: false,
                        payload: Vec::new(),
                    };
                    if was != Some(&row) {
                        writes.push(Write {
                            order_id: src.id,
                            known: row,
                        });
                    }
                }
            }
        }
    }
    ctx.timings.map += t.elapsed();
    // Mark what is about to be submitted, so a crash before the answer is
    // redone by the next run instead of trusted. The row already holds the
    // state the answer will leave: settling only clears the mark.
    let t = Instant::now();
    let mut pending: Vec<Write> = Vec::with_capacity(plans.len());
    for (id, placed, plan) in &mut plans {
        let (live, payload) = match plan {
            Plan::Submit { known: true, .. } => continue,
            Plan::Submit { payload, .. } => (true, std::mem::take(payload)),
            Plan::Retract(order) => (false, order.encode_to_vec()),
        };
        pending.push(Write {
            order_id: *id,
            known: Known {
                placed_at_ms: *placed,
                live,
                pending: true,
                payload,
            },
        });
    }
    if !pending.is_empty() {
        let mut tx = ctx.store.begin().await?;
        state::write_orders(&mut tx, &pending).await?;
        // Before ingest holds an id, the reveal store and the phone index know it.
        if let Some(key) = &ctx.rules.phone_key {
            crate::pii_store::write(&mut tx, key, ctx.rules.cipher.as_ref(), &identities).await?;
        }
        tx.commit().await?;
    }
    ctx.timings.store += t.elapsed();
    let t = Instant::now();
    let settled: Vec<i64> = pending.iter().map(|w| w.order_id).collect();
    let mut retractions = Vec::new();
    let mut submits = Vec::with_capacity(plans.len());
    for (id, _, plan) in plans {
        match plan {
            Plan::Submit { order, .. } => submits.push(order),
            Plan::Retract(order) => retractions.push((id, order)),
        }
    }
    for outcome in submit_batch(&mut ctx.ingest, submits).await? {
        if outcome == SubmitOutcome::Published {
            counts.accepted += 1;
        } else {
            counts.unchanged += 1;
        }
    }
    let (retracted, orders): (Vec<i64>, Vec<Order>) = retractions.into_iter().unzip();
    let outcomes = submit_batch(&mut ctx.ingest, orders).await?;
    for (id, outcome) in retracted.iter().zip(outcomes) {
        if outcome == SubmitOutcome::Published {
            counts.retracted += 1;
        } else {
            // Ingest never counted it: the row is simply rejected.
            counts.rejected += 1;
            if let Some(f) = findings
                .iter_mut()
                .rev()
                .find(|(k, f)| *k == Kind::Retracted && f.order_id == *id)
            {
                f.0 = Kind::Rejected;
            }
        }
    }
    ctx.timings.submit += t.elapsed();
    Ok(Staged {
        writes,
        settled,
        findings,
        counts,
        last_id: page.last().map(|o| o.id),
    })
}

/// One transaction: the page's new states, findings, counters and watermark.
async fn record(store: &Store, job_id: i64, mode: SyncMode, p: Staged) -> Result<Duration> {
    let t = Instant::now();
    let mut tx = store.begin().await?;
    state::write_orders(&mut tx, &p.writes).await?;
    state::settle(&mut tx, &p.settled).await?;
    state::write_findings(&mut tx, job_id, &p.findings).await?;
    state::add_counts(&mut tx, job_id, &p.counts).await?;
    let raised = p.last_id.filter(|_| mode != SyncMode::Import);
    if let Some(last) = raised {
        state::raise_watermark(&mut tx, last).await?;
    }
    tx.commit().await?;
    metrics::recorded(mode, &p.counts, &p.findings);
    if let Some(last) = raised {
        metrics::watermark(last);
    }
    Ok(t.elapsed())
}

/// A full run: every order ingest may count that the source no longer has.
async fn retract_missing(ctx: &mut JobContext<'_>, job_id: i64, seen: &HashSet<i64>) -> Result<()> {
    for chunk in state::maybe_live(ctx.store).await?.chunks(500) {
        let mut counts = SyncCounts::default();
        let mut findings = Vec::new();
        let mut writes = Vec::new();
        for (id, payload) in chunk.iter().filter(|(id, _)| !seen.contains(id)) {
            let mut order = Order::decode(payload.as_slice())?;
            order.status = OrderStatus::Cancelled as i32;
            let known = state::known(ctx.store, &[*id]).await?.remove(id);
            counts.read += 1;
            let outcome = submit_one(&mut ctx.ingest, order.clone()).await?;
            let kind = if outcome == SubmitOutcome::Published {
                counts.retracted += 1;
                Kind::Retracted
            } else {
                counts.unchanged += 1;
                Kind::Rejected
            };
            if kind == Kind::Retracted {
                findings.push((
                    kind,
                    Finding::new(Reason::MissingInSource, *id, "no longer in Orders"),
                ));
            }
            writes.push(Write {
                order_id: *id,
                known: Known {
                    placed_at_ms: known.map_or(0, |k| k.placed_at_ms),
                    live: false,
                    pending: false,
                    payload: order.encode_to_vec(),
                },
            });
        }
        if counts.read == 0 {
            continue;
        }
        let mut tx = ctx.store.begin().await?;
        state::write_orders(&mut tx, &writes).await?;
        state::write_findings(&mut tx, job_id, &findings).await?;
        state::add_counts(&mut tx, job_id, &counts).await?;
        tx.commit().await?;
        metrics::recorded(SyncMode::Full, &counts, &findings);
    }
    Ok(())
}
