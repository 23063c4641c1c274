//! `portrait`: the whole system in one process on embedded SQLite (no servers
//! needed), a demo with a synthetic chain, a query client, and model commands.

mod auth_cmd;
mod backup_cmd;
mod bench;
mod demo;
mod follow;
mod import_cmd;
mod models_cmd;
mod query;
mod rebuild_cmd;
mod sync_cmd;
mod token;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use portrait::embedded;

#[derive(Parser)]
#[command(
    name = "portrait",
    version,
    about = "Customer portraits from a food chain's orders"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run all five services in this process on embedded SQLite files.
    Run {
        /// Folder for the log and the stores (default: config `data_dir`, `.portrait`).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Gateway port; ingest, profiler, rfm and suggest take the next four.
        #[arg(long)]
        base_port: Option<u16>,
    },
    /// Generate a synthetic chain, feed it through ingest, and keep serving it.
    Demo(demo::DemoArgs),
    /// Time the whole system on a synthetic chain at a given scale, side by side with DuckDB.
    Bench(bench::BenchArgs),
    /// Ask a running gateway and print the answer as JSON.
    Query(Box<query::QueryArgs>),
    /// Sync from the chain's order database: on a running stack, or in-process with --source.
    Sync(sync_cmd::SyncArgs),
    /// Load a CSV or JSONL export of the source (one row per order line) into a
    /// running stack, or in-process with --data-dir.
    Import(import_cmd::ImportArgs),
    /// Print the data-quality report of the last sync job.
    Quality(sync_cmd::QualityArgs),
    /// Heal consumers whose log went backwards: a fresh publication of every
    /// order from ingest, the services' projections emptied and rebuilt from it.
    Rebuild(rebuild_cmd::RebuildArgs),
    /// Copy the embedded stores and log, online, into a folder with a manifest.
    Backup(backup_cmd::BackupArgs),
    /// Put a backup back into a stopped stack's data folder.
    Restore(backup_cmd::RestoreArgs),
    /// Fit customer models on a transactions file.
    #[command(subcommand)]
    Models(Models),
    /// API keys: `portrait auth new-key --role viewer --store s001`.
    #[command(subcommand)]
    Auth(auth_cmd::AuthCommand),
}

#[derive(Subcommand)]
enum Models {
    /// BG/NBD and Gamma-Gamma: parameters as JSON, per-customer predictions as CSV.
    Btyd(models_cmd::BtydArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if starts_a_stack(&cli.command) {
        portrait_service::return_freed_memory_promptly();
    }
    let runtime = portrait_service::runtime()
        .build()
        .context("failed to start the runtime")?;
    let result = runtime.block_on(run(cli));
    // Dropping the runtime would wait for blocking work without limit (see
    // `portrait_service::main`); the stores are flushed and closed by now.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    result
}

/// Whether the command starts the services in this process; those set up
/// logging from the stack's configuration themselves.
fn starts_a_stack(command: &Command) -> bool {
    match command {
        Command::Run { .. } | Command::Demo(_) | Command::Bench(_) => true,
        Command::Sync(args) => args.in_process(),
        Command::Import(args) => args.in_process(),
        _ => false,
    }
}

/// A client command logs warnings only unless `RUST_LOG` asks for more, on
/// stderr like every binary, so its data on stdout stays parseable.
fn client_telemetry() -> anyhow::Result<portrait_service::TelemetryGuard> {
    let settings = portrait_service::TelemetrySettings {
        log_format: portrait_service::LogFormat::Text,
        log_filter: "warn".into(),
        otlp_endpoint: String::new(),
        metrics_listen: String::new(),
    };
    portrait_service::init_telemetry("portrait", &settings).context("failed to start telemetry")
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let _client_telemetry = if starts_a_stack(&cli.command) {
        None
    } else {
        Some(client_telemetry()?)
    };
    match cli.command {
        Command::Run {
            data_dir,
            base_port,
        } => {
            let mut configs = embedded::configs(data_dir.as_deref(), base_port)
                .context("failed to load configuration")?;
            let admin = embedded::prepare_auth(&mut configs)?;
            let _telemetry = portrait_service::init_telemetry("portrait", &configs[0].telemetry)
                .context("failed to start telemetry")?;
            let server = configs[0].server.clone();
            let auth = configs[0].auth.mode == portrait_auth::AuthMode::On;
            let shutdown = portrait_service::shutdown_token();
            let stack = embedded::start(configs, shutdown.clone())
                .await
                .context("failed to start the services")?;
            let reach = portrait::hints::Reach::new(stack.gateway_addr, &server, auth);
            eprintln!(
                "portrait is running; the gateway listens on {} (gRPC, JSON under /v1/, the 客群画像 page at {}). Ctrl-C stops it.",
                reach.url(),
                reach.page()
            );
            if let Some(token) = admin {
                eprintln!(
                    "open {} and log in with {token}\n(kept in {}; for the CLI: export PORTRAIT_TOKEN={token}; portrait query overview{})",
                    reach.page(),
                    embedded::ADMIN_TOKEN_FILE,
                    reach.cli_flags()
                );
            } else if !reach.cli_flags().is_empty() {
                eprintln!("for the CLI: portrait query overview{}", reach.cli_flags());
            }
            stack.wait().await
        }
        Command::Demo(args) => demo::run(args).await,
        Command::Bench(args) => bench::run(args).await,
        Command::Query(args) => query::run(*args).await,
        Command::Sync(args) => sync_cmd::sync(args).await,
        Command::Import(args) => import_cmd::import(args).await,
        Command::Quality(args) => sync_cmd::quality(args).await,
        Command::Models(Models::Btyd(args)) => models_cmd::run(&args),
        Command::Rebuild(args) => rebuild_cmd::run(args).await,
        Command::Auth(command) => auth_cmd::run(command),
        Command::Backup(args) => backup_cmd::backup(args).await,
        Command::Restore(args) => backup_cmd::restore(args).await,
    }
}
