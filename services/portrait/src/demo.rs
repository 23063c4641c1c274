use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use portrait_proto::v1::SubmitOrderBatchRequest;
use portrait_proto::v1::ingest_service_client::IngestServiceClient;
use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_synth::ChainSpec;

use portrait::embedded;

#[derive(Args)]
pub(crate) struct DemoArgs {
    /// Folder for the demo's log and stores; a second run reuses it.
    #[arg(long, default_value = ".portrait/demo")]
    data_dir: PathBuf,
    /// Customers in the synthetic chain.
    #[arg(long)]
    customers: Option<usize>,
    /// Seed of the generator: the same seed gives the same chain.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Gateway port; the other services take the next four.
    #[arg(long)]
    base_port: Option<u16>,
}

/// Orders per `SubmitOrderBatch`: the most ingest takes in one batch.
const CHUNK: usize = portrait_ingest::MAX_BATCH_ORDERS;

pub(crate) async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let mut configs = embedded::configs(Some(&args.data_dir), args.base_port)?;
    if std::env::var_os("RUST_LOG").is_none() {
        // Progress bars and routine logs do not mix; warnings still show.
        configs[0].telemetry.log_filter = "warn".into();
    }
    let _telemetry = portrait_service::init_telemetry("portrait", &configs[0].telemetry)
        .context("failed to start telemetry")?;
    let admin = embedded::prepare_auth(&mut configs)?;
    // The demo feeds its chain as an admin: the printed key, or one of this
    // run only when keys or a JWT issuer are configured.
    let token = match (&admin, configs[0].auth.mode) {
        (Some(token), _) => token.clone(),
        (None, portrait_auth::AuthMode::Off) => String::new(),
        (None, portrait_auth::AuthMode::On) => embedded::ephemeral_admin(&mut configs),
    };
    let shutdown = portrait_service::shutdown_token();
    let calendar = configs[0].calendar();
    let server = configs[0].server.clone();
    let scheme = if server.tls_cert.is_empty() {
        "http"
    } else {
        "https"
    };
    let stack = embedded::start(configs, shutdown.clone())
        .await
        .context("failed to start the services")?;
    let gateway_url = format!("{scheme}://{}", stack.gateway_addr);

    // Ends at today's local midnight, so a rerun the same day submits the same
    // orders again: all unchanged, nothing published twice.
    let today = calendar.day(portrait_service::now_ms());
    let mut spec = ChainSpec::demo(calendar.midnight_ms(today));
    spec.seed = args.seed;
    if let Some(n) = args.customers {
        spec.customers = n;
    }
    let (chain, orders) = portrait_synth::generate(&spec);
    eprintln!(
        "generated a chain of {} stores, {} menu items, {} customers: {} order submissions over {} days",
        chain.stores.len(),
        chain.menu.len(),
        spec.customers,
        orders.len(),
        spec.days
    );

    let started = Instant::now();
    let mut ingest = IngestServiceClient::new(
        connect(
            &format!("{scheme}://{}", stack.ingest_addr),
            &token,
            &server,
        )
        .await?,
    )
    .max_encoding_message_size(portrait_ingest::MAX_MESSAGE_BYTES);
    let bar = crate::follow::progress(orders.len() as u64, "submitting orders");
    for chunk in orders.chunks(CHUNK) {
        if shutdown.is_cancelled() {
            break;
        }
        ingest
            .submit_order_batch(SubmitOrderBatchRequest {
                orders: chunk.to_vec(),
            })
            .await
            .context("failed to submit orders")?;
        bar.inc(chunk.len() as u64);
    }
    bar.finish();

    let mut gateway = PortraitServiceClient::new(connect(&gateway_url, &token, &server).await?);
    crate::follow::caught_up(&mut gateway, Duration::from_millis(250), &shutdown).await?;
    let secs = started.elapsed().as_secs_f64();
    if !shutdown.is_cancelled() {
        eprintln!(
            "\ningested {} submissions end to end in {secs:.1} s ({:.0} orders/s)\n",
            orders.len(),
            orders.len() as f64 / secs
        );
        let reach = portrait::hints::Reach::new(stack.gateway_addr, &server, !token.is_empty());
        print_help(&reach);
        if let Some(token) = &admin {
            println!(
                "\nopen {} and log in with {token}\n(kept in {}; for the CLI: export PORTRAIT_TOKEN={token})",
                reach.page(),
                args.data_dir.join(embedded::ADMIN_TOKEN_FILE).display()
            );
        }
    }
    stack.wait().await
}

/// Connects, retrying while the freshly started services bind their ports.
async fn connect(
    url: &str,
    token: &str,
    server: &portrait_service::ServerSettings,
) -> anyhow::Result<crate::token::ClientChannel> {
    let endpoint =
        portrait_service::tls::endpoint("gateway", url, server).context("bad service address")?;
    let mut last = None;
    for _ in 0..100 {
        match endpoint.connect().await {
            Ok(channel) => return crate::token::authed(channel, token),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(anyhow::anyhow!("{last:?}")).with_context(|| format!("failed to connect to {url}"))
}

fn print_help(reach: &portrait::hints::Reach<'_>) {
    let (url, flags) = (reach.url(), reach.cli_flags());
    println!(
        "The demo chain is served by the gateway at {url} (gRPC with reflection, and JSON over HTTP)."
    );
    println!("Open the 客群画像 page in a browser: {}", reach.page());
    println!("Try, in another terminal:");
    for query in [
        "overview",
        "segments --city 上海",
        "products --by-revenue",
        "suggestions --limit 5",
    ] {
        println!("  cargo run --release --bin portrait -- query {query}{flags}");
    }
    println!("or with grpcurl:");
    println!(
        "  {}",
        reach.grpcurl(
            r#"{"filter": {"cities": ["上海"]}}"#,
            "portrait.v1.PortraitService/GetOverview"
        )
    );
    println!("or with curl (the routes: {url}/v1/openapi.json):");
    println!("  {}", reach.curl("/v1/overview?cities=%E4%B8%8A%E6%B5%B7"));
    println!("Ctrl-C stops the demo; run it again to continue where it stopped.");
}
