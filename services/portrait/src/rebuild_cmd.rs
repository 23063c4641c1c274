//! `portrait rebuild SERVICE…|--all`: heals consumers whose log went
//! backwards (the broker came back empty, the topic was re-created, retention
//! dropped records). Ingest queues a fresh publication of every order's latest
//! version (a new epoch); each named service empties its tables and reads the
//! log from its start, skipping older publications; then this waits until the
//! stack is caught up, with a progress bar.

use std::time::Duration;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use portrait_proto::v1::consumer_admin_client::ConsumerAdminClient;
use portrait_proto::v1::ingest_admin_client::IngestAdminClient;
use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{RebuildRequest, RepublishRequest, SyncStatusRequest};
use portrait_service::{Config, ServiceName};

const CONSUMERS: [&str; 3] = ["profiler", "rfm", "suggest"];

#[derive(Args)]
pub(crate) struct RebuildArgs {
    /// The consumer services to rebuild: profiler, rfm, suggest.
    #[arg(value_parser = CONSUMERS)]
    services: Vec<String>,
    /// Rebuild all three.
    #[arg(long, conflicts_with = "services")]
    all: bool,
    /// The gateway, followed until caught up.
    #[arg(
        long,
        default_value = "http://127.0.0.1:50051",
        env = "PORTRAIT_GATEWAY"
    )]
    gateway: String,
    /// The bearer token (an API key or a JWT); `portrait run` prints one.
    #[arg(
        long,
        env = "PORTRAIT_TOKEN",
        default_value = "",
        hide_env_values = true
    )]
    token: String,
    /// Return once the fresh publication is queued, without waiting.
    #[arg(long)]
    no_wait: bool,
    /// Give up waiting after this many seconds (0 = wait as long as it takes).
    #[arg(long, default_value_t = 0)]
    timeout_secs: u64,
}

pub(crate) async fn run(args: RebuildArgs) -> anyhow::Result<()> {
    let names: Vec<&str> = if args.all {
        CONSUMERS.to_vec()
    } else {
        args.services.iter().map(String::as_str).collect()
    };
    anyhow::ensure!(
        !names.is_empty(),
        "name the services to rebuild (profiler, rfm, suggest) or pass --all"
    );
    // The services' addresses are the gateway's settings (`gateway.*`), so
    // one config file serves both.
    let config = Config::load(ServiceName::Gateway).context("failed to load configuration")?;
    let address = |name: &str| match name {
        "profiler" => config.gateway.profiler.clone(),
        "rfm" => config.gateway.rfm.clone(),
        _ => config.gateway.suggest.clone(),
    };
    let connect = |url: String| {
        let token = args.token.clone();
        let server = config.server.clone();
        async move {
            let channel = portrait_service::tls::endpoint("gateway.*", &url, &server)?
                .connect()
                .await
                .with_context(|| format!("failed to reach {url}"))?;
            crate::token::authed(channel, &token)
        }
    };
    let mut ingest = IngestAdminClient::new(connect(config.gateway.ingest.clone()).await?);
    let published = ingest
        .republish(RepublishRequest {})
        .await
        .context("failed to queue a fresh publication on ingest")?
        .into_inner();
    println!(
        "ingest: fresh publication {} queued: {} orders ({} events waiting in the outbox)",
        published.epoch, published.orders, published.outbox_pending
    );
    for name in &names {
        let url = address(name);
        let mut client = ConsumerAdminClient::new(
            connect(url.clone())
                .await
                .with_context(|| format!("failed to reach {name}"))?,
        );
        let done = client
            .rebuild(RebuildRequest {
                epoch: published.epoch,
            })
            .await
            .with_context(|| format!("failed to rebuild {name}"))?
            .into_inner();
        println!(
            "{}: emptied {} tables ({}); reading the log from its start, publication {} on",
            done.service,
            done.tables_emptied.len(),
            done.tables_emptied.join(", "),
            done.epoch
        );
        if !done.cleared_condition.is_empty() {
            println!("{}: cleared: {}", done.service, done.cleared_condition);
        }
    }
    if args.no_wait {
        return Ok(());
    }
    let waiting = follow(connect(args.gateway.clone()), &names, published.orders);
    if args.timeout_secs == 0 {
        return waiting.await;
    }
    tokio::time::timeout(Duration::from_secs(args.timeout_secs), waiting)
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "not caught up after {} s; the rebuild goes on: follow it with `portrait query status`",
                args.timeout_secs
            )
        })?
}

/// Waits until the gateway says caught up, showing the slowest rebuilt
/// service's events applied against the publication's orders.
async fn follow(
    gateway: impl std::future::Future<Output = anyhow::Result<crate::token::ClientChannel>>,
    names: &[&str],
    orders: i64,
) -> anyhow::Result<()> {
    let mut client =
        PortraitServiceClient::new(gateway.await.context("failed to reach the gateway")?);
    let bar = ProgressBar::new(orders.max(0) as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} orders, {per_sec}, eta {eta}")
            .context("failed to style the progress bar")?,
    );
    bar.set_message("applying");
    loop {
        let status = client
            .get_sync_status(SyncStatusRequest {})
            .await
            .context("failed to read the sync status")?
            .into_inner();
        let applied = status
            .consumers
            .iter()
            .filter(|c| names.contains(&c.service.as_str()))
            .map(|c| c.events_applied)
            .min()
            .unwrap_or(0);
        bar.set_position(applied.clamp(0, orders.max(0)) as u64);
        if status.caught_up {
            bar.finish_and_clear();
            println!(
                "caught up: {} rebuilt from {} orders",
                names.join(", "),
                orders
            );
            return Ok(());
        }
        if !status.condition.is_empty() {
            bar.set_message(format!("still stopped: {}", status.condition));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
