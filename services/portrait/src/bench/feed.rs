//! Feeds the generated chain through ingest on several concurrent streams and
//! times it until the gateway reports every consumer caught up.

use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use anyhow::Context;
use portrait_proto::v1::ingest_service_client::IngestServiceClient;
use portrait_proto::v1::{Order, SubmitOrderRequest};
use portrait_synth::{Chain, ChainSpec, OrderStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::stack::{Endpoints, Phase, connect, mark, phase};

/// Orders per `SubmitOrders` call.
const BATCH: usize = 1_000;

#[derive(Clone, Debug)]
pub(crate) struct Fed {
    pub(crate) chain: Chain,
    pub(crate) intensity: f64,
    pub(crate) orders: u64,
    pub(crate) submissions: u64,
    /// Until the last submission was accepted.
    pub(crate) accepting: Phase,
    /// From then until the gateway said caught up.
    pub(crate) catching_up: Phase,
}

/// Which stream an order goes on: all versions of one order on the same
/// stream, so they reach ingest in the order the source sent them.
pub(crate) fn lane(order_id: &str, lanes: usize) -> usize {
    let mut h = DefaultHasher::new();
    order_id.hash(&mut h);
    (h.finish() % lanes as u64) as usize
}

pub(crate) async fn load(
    at: &Endpoints,
    spec: &ChainSpec,
    orders: u64,
    streams: usize,
    on_accepted: impl FnOnce(),
) -> anyhow::Result<Fed> {
    let streams = streams.max(1);
    let stream = OrderStream::new(spec, Some(orders));
    let chain = stream.layout().clone();
    let intensity = stream.spec().intensity;
    let mut senders = Vec::new();
    let mut workers = tokio::task::JoinSet::new();
    // About 7 % of orders are sent again, changed or cancelled.
    let bar = crate::follow::progress(orders * 107 / 100, "submitting orders");
    for _ in 0..streams {
        let (tx, mut rx) = mpsc::channel::<Vec<Order>>(4);
        senders.push(tx);
        let mut client = IngestServiceClient::new(connect(&at.ingest_url).await?);
        let bar = bar.clone();
        workers.spawn(async move {
            while let Some(batch) = rx.recv().await {
                let n = batch.len() as u64;
                let requests = batch
                    .into_iter()
                    .map(|o| SubmitOrderRequest { order: Some(o) });
                client
                    .submit_orders(tokio_stream::iter(requests))
                    .await
                    .context("failed to submit orders")?;
                bar.inc(n);
            }
            anyhow::Ok(())
        });
    }
    let started = mark();
    let producer = tokio::task::spawn_blocking(move || produce(stream, senders));
    while let Some(done) = workers.join_next().await {
        done.context("an ingest stream panicked")??;
    }
    let (orders, submissions) = producer.await.context("the generator panicked")??;
    let accepting = phase(started);
    on_accepted();
    bar.set_length(submissions);
    bar.finish();
    let catching = mark();
    wait_caught_up(at).await?;
    Ok(Fed {
        chain,
        intensity,
        orders,
        submissions,
        accepting,
        catching_up: phase(catching),
    })
}

/// Generates on a blocking thread and deals the orders out to the streams.
fn produce(
    mut stream: OrderStream,
    senders: Vec<mpsc::Sender<Vec<Order>>>,
) -> anyhow::Result<(u64, u64)> {
    let lanes = senders.len();
    let mut batches: Vec<Vec<Order>> = (0..lanes).map(|_| Vec::with_capacity(BATCH)).collect();
    let mut submissions = 0_u64;
    for day in stream.by_ref() {
        for order in day {
            submissions += 1;
            let i = lane(&order.order_id, lanes);
            batches[i].push(order);
            if batches[i].len() == BATCH {
                let full = std::mem::replace(&mut batches[i], Vec::with_capacity(BATCH));
                senders[i]
                    .blocking_send(full)
                    .context("an ingest stream stopped")?;
            }
        }
    }
    for (i, batch) in batches.into_iter().enumerate() {
        if !batch.is_empty() {
            senders[i]
                .blocking_send(batch)
                .context("an ingest stream stopped")?;
        }
    }
    Ok((stream.orders_so_far(), submissions))
}

async fn wait_caught_up(at: &Endpoints) -> anyhow::Result<()> {
    let channel = super::stack::connect(&at.gateway_url).await?;
    let mut gateway = PortraitServiceClient::new(crate::token::authed(channel, "")?);
    crate::follow::caught_up(
        &mut gateway,
        Duration::from_millis(50),
        &CancellationToken::new(),
    )
    .await?;
    Ok(())
}
