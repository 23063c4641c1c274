//! Many dashboard clients at once, and how soon an accepted order shows.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use portrait_proto::v1::ingest_service_client::IngestServiceClient;
use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{
    Channel as SaleChannel, Filter, Order, OrderLine, OrderStatus, OverviewRequest,
    SubmitOrderRequest,
};
use tokio::sync::{Mutex, Semaphore};

use super::panels::{NamedFilter, Timing, timing};
use super::stack::{Endpoints, Phase, connect, mark, phase};

#[derive(Clone, Debug)]
pub(crate) struct Concurrent {
    pub(crate) clients: usize,
    pub(crate) calls: usize,
    pub(crate) phase: Phase,
    pub(crate) timing: Timing,
    /// gRPC status codes of the failed calls, with counts.
    pub(crate) error_codes: BTreeMap<String, usize>,
}

/// `clients` clients, each on its own connection, each asking for the
/// overview `calls` times with filters taken in turn.
pub(crate) async fn concurrent(
    at: &Endpoints,
    filters: &[NamedFilter],
    clients: usize,
    calls: usize,
) -> anyhow::Result<Concurrent> {
    let mut connected = Vec::with_capacity(clients);
    for _ in 0..clients {
        connected.push(PortraitServiceClient::new(connect(&at.gateway_url).await?));
    }
    // Everyone starts together, after all connections are up.
    let start = Arc::new(tokio::sync::Barrier::new(clients + 1));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, mut client) in connected.into_iter().enumerate() {
        let start = start.clone();
        let filters: Vec<Filter> = filters.iter().map(|f| f.filter.clone()).collect();
        tasks.spawn(async move {
            start.wait().await;
            let mut samples = Vec::with_capacity(calls);
            let mut errors = Vec::new();
            for call in 0..calls {
                let filter = filters[(i + call) % filters.len()].clone();
                let t = Instant::now();
                let answer = client
                    .get_overview(OverviewRequest {
                        filter: Some(filter),
                    })
                    .await;
                samples.push(t.elapsed());
                if let Err(status) = answer {
                    errors.push(format!("{:?}", status.code()));
                }
            }
            (samples, errors)
        });
    }
    start.wait().await;
    let began = mark();
    let mut samples = Vec::new();
    let mut error_codes = BTreeMap::new();
    while let Some(done) = tasks.join_next().await {
        let (s, e) = done.context("a client panicked")?;
        samples.extend(s);
        for code in e {
            *error_codes.entry(code).or_default() += 1;
        }
    }
    let phase = phase(began);
    let mut timing = timing(samples, error_codes.values().sum());
    timing.first = Duration::ZERO;
    Ok(Concurrent {
        clients,
        calls: clients * calls,
        phase,
        timing,
        error_codes,
    })
}

#[derive(Clone, Debug)]
pub(crate) struct Freshness {
    pub(crate) sent: u64,
    pub(crate) achieved_rate: f64,
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    pub(crate) max: Duration,
}

/// A store of its own, so its overview order count tells exactly how many of
/// the orders sent here are visible.
const FRESH_STORE: &str = "s-bench-fresh";
const TICK: Duration = Duration::from_millis(10);

/// Sends `rate` orders a second for `span` to one new store, in small batches
/// every 10 ms, while a poller reads that store's overview. An order counts as
/// visible at the first poll whose order count covers its position; when
/// batches complete out of order this can credit an order a little early.
pub(crate) async fn freshness(
    at: &Endpoints,
    rate: u64,
    span: Duration,
) -> anyhow::Result<Freshness> {
    let per_tick = (rate as f64 * TICK.as_secs_f64()).ceil().max(1.0) as usize;
    let ticks = (span.as_secs_f64() / TICK.as_secs_f64()).ceil() as usize;
    let total = per_tick * ticks;
    let ingest = IngestServiceClient::new(connect(&at.ingest_url).await?);
    let filter = Filter {
        store_ids: vec![FRESH_STORE.to_owned()],
        ..Filter::default()
    };
    let mut gateway = at.gateway().await?;
    let base = gateway
        .get_overview(OverviewRequest {
            filter: Some(filter.clone()),
        })
        .await
        .context("failed to read the fresh store's overview")?
        .into_inner()
        .orders;

    // (first position, accepted at) per batch.
    let accepted: Arc<Mutex<Vec<(usize, usize, Instant)>>> = Arc::default();
    let polls = tokio::spawn(poll(gateway, filter, base, total as i64));
    let in_flight = Arc::new(Semaphore::new(64));
    let run = portrait_service::now_ms();
    let began = Instant::now();
    let mut tick = tokio::time::interval(TICK);
    let mut sends = tokio::task::JoinSet::new();
    for t in 0..ticks {
        tick.tick().await;
        let permit = in_flight
            .clone()
            .acquire_owned()
            .await
            .context("semaphore closed")?;
        let batch: Vec<SubmitOrderRequest> = (0..per_tick)
            .map(|k| SubmitOrderRequest {
                order: Some(fresh_order(run, t * per_tick + k)),
            })
            .collect();
        let (mut ingest, accepted) = (ingest.clone(), accepted.clone());
        sends.spawn(async move {
            ingest
                .submit_orders(tokio_stream::iter(batch))
                .await
                .context("failed to submit fresh orders")?;
            accepted
                .lock()
                .await
                .push((t * per_tick, per_tick, Instant::now()));
            drop(permit);
            anyhow::Ok(())
        });
    }
    while let Some(done) = sends.join_next().await {
        done.context("a sender panicked")??;
    }
    let achieved_rate = total as f64 / began.elapsed().as_secs_f64();
    let seen = polls.await.context("the poller panicked")??;
    let mut latencies = Vec::with_capacity(total);
    for (first, n, at) in accepted.lock().await.iter() {
        for position in *first..first + n {
            // Counts only grow, so the first poll covering it is a binary search.
            let i = seen.partition_point(|(count, _)| *count <= position as i64);
            let (_, visible) = seen
                .get(i)
                .context("an accepted order never became visible")?;
            latencies.push(visible.saturating_duration_since(*at));
        }
    }
    latencies.sort();
    Ok(Freshness {
        sent: total as u64,
        achieved_rate,
        p50: super::panels::percentile(&latencies, 0.5),
        p99: super::panels::percentile(&latencies, 0.99),
        max: latencies.last().copied().unwrap_or_default(),
    })
}

/// Polls until all `total` orders are visible; returns (visible count, when)
/// at each change.
async fn poll(
    mut gateway: PortraitServiceClient<tonic::transport::Channel>,
    filter: Filter,
    base: i64,
    total: i64,
) -> anyhow::Result<Vec<(i64, Instant)>> {
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut seen: Vec<(i64, Instant)> = Vec::new();
    loop {
        let orders = gateway
            .get_overview(OverviewRequest {
                filter: Some(filter.clone()),
            })
            .await
            .context("failed to poll the fresh store's overview")?
            .into_inner()
            .orders
            - base;
        if seen.last().is_none_or(|(last, _)| *last != orders) {
            seen.push((orders, Instant::now()));
        }
        if orders >= total {
            return Ok(seen);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "fresh orders were not all visible after 5 minutes"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn fresh_order(run: i64, n: usize) -> Order {
    Order {
        order_id: format!("fresh-{run}-{n:07}"),
        customer_id: String::new(),
        store_id: FRESH_STORE.to_owned(),
        store_name: "基准新鲜度店".to_owned(),
        city: "基准市".to_owned(),
        channel: SaleChannel::Pos as i32,
        placed_at_ms: portrait_service::now_ms(),
        net_amount_fen: 1_000,
        lines: vec![OrderLine {
            product_id: "p-bench".to_owned(),
            product_name: "基准套餐".to_owned(),
            category_id: "bench".to_owned(),
            category_name: "基准".to_owned(),
            quantity: 1,
            net_amount_fen: 1_000,
        }],
        status: OrderStatus::Paid as i32,
    }
}
