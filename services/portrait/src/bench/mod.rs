//! `portrait bench`: a synthetic chain at a given scale through the embedded
//! stack (or the five processes on Kafka and PostgreSQL with `--distributed`),
//! timed panel by panel against DuckDB over the same orders.

mod dist;
mod duckdb;
mod feed;
mod load;
mod panels;
mod pg;
mod report;
mod stack;
mod startup;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use portrait_synth::ChainSpec;

use self::report::Report;

#[derive(Args, Clone)]
pub(crate) struct BenchArgs {
    /// Customers in the synthetic chain.
    #[arg(long, default_value_t = 1_000_000)]
    customers: usize,
    /// Distinct orders over the period (about; re-sends and cancellations come on top).
    #[arg(long, default_value_t = 10_000_000)]
    orders: u64,
    #[arg(long, default_value_t = 300)]
    stores: usize,
    /// Up to 30.
    #[arg(long, default_value_t = 30)]
    cities: usize,
    #[arg(long, default_value_t = 365)]
    days: u32,
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Folder for the log and stores; must not hold an earlier run (default: a
    /// fresh temporary folder, removed at the end).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The first of five consecutive loopback ports the five services listen
    /// on; by default free ones are found, and a program starting servers
    /// beside the bench may race it for them.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=65_530))]
    base_port: Option<u16>,
    /// Calls per panel and filter.
    #[arg(long, default_value_t = 50)]
    calls: usize,
    /// Concurrent ingest streams while loading.
    #[arg(long, default_value_t = 4)]
    streams: usize,
    /// Concurrent overview clients, each making `client_calls` calls.
    #[arg(long, default_value_t = 1_000)]
    clients: usize,
    #[arg(long, default_value_t = 5)]
    client_calls: usize,
    /// Orders per second and seconds of the freshness phase.
    #[arg(long, default_value_t = 5_000)]
    fresh_rate: u64,
    #[arg(long, default_value_t = 10)]
    fresh_secs: u64,
    /// Do not compare with DuckDB (needs Python with `duckdb`: $PORTRAIT_PYTHON or python3).
    #[arg(long)]
    skip_duckdb: bool,
    /// Also write the report (markdown) to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Run the five service binaries (found next to this executable) as
    /// processes on a Kafka-protocol broker and PostgreSQL instead of the
    /// embedded stack: ingest throughput, the panels, freshness, and each
    /// process's memory and CPU. The concurrent clients and start-up phases
    /// are embedded-only.
    #[arg(long, requires_all = ["postgres_url", "brokers"])]
    distributed: bool,
    /// PostgreSQL server for --distributed, e.g. postgres://user@127.0.0.1:5432/postgres:
    /// one fresh database per service is created there and dropped at the end.
    #[arg(long, requires = "distributed")]
    postgres_url: Option<String>,
    /// Kafka-protocol brokers (host:port,…) for --distributed; the topics get a
    /// prefix of their own per run.
    #[arg(long, requires = "distributed")]
    brokers: Option<String>,
    /// The services' `bus.max_batch_records` with --distributed: 1 for tansu 0.6,
    /// which loses records inside multi-record batches; 0 leaves librdkafka's
    /// batching alone, as real Kafka wants.
    #[arg(long, default_value_t = 1)]
    max_batch_records: u32,
    /// The services' `bus.bundle_records` with --distributed: events per Kafka
    /// record; with one record per batch (tansu) this is what batches.
    #[arg(long, default_value_t = 1000)]
    bundle_records: u32,
    /// With --distributed: leave the services' databases on the server at the
    /// end (their names are printed) to inspect them; drop them by hand.
    #[arg(long, requires = "distributed")]
    keep_databases: bool,
    /// Only time each consumer's start-up on --data-dir, the folder of an
    /// earlier embedded run: its serving state loaded from its tables, one
    /// consumer after another. Nothing is generated or served.
    #[arg(long, requires = "data_dir", conflicts_with = "distributed")]
    loads_only: bool,
}

pub(crate) async fn run(args: BenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.customers > 0, "--customers must be at least 1");
    anyhow::ensure!(
        (1..=100_000).contains(&args.bundle_records),
        "--bundle-records must be 1 (plain records) to 100000"
    );
    anyhow::ensure!(args.calls > 0, "--calls must be at least 1");
    anyhow::ensure!(args.days > 0, "--days must be at least 1");
    anyhow::ensure!(
        (1..=30).contains(&args.cities),
        "--cities must be between 1 and 30"
    );
    if args.loads_only {
        return loads_only(&args).await;
    }
    let _tmp;
    let data_dir = match &args.data_dir {
        Some(dir) => {
            let used = std::fs::read_dir(dir).map(|mut d| d.next().is_some());
            anyhow::ensure!(
                !used.unwrap_or(false),
                "--data-dir {} is not empty; the bench needs a fresh folder",
                dir.display()
            );
            dir.clone()
        }
        None => {
            _tmp = tempfile_dir()?;
            _tmp.0.clone()
        }
    };
    let today = report::local_today();
    let spec = ChainSpec {
        seed: args.seed,
        stores: args.stores.max(1),
        cities: args.cities,
        customers: args.customers,
        start_ms: report::midnight_ms(today) - i64::from(args.days) * 86_400_000,
        days: args.days,
        ..ChainSpec::demo(report::midnight_ms(today))
    };
    let mut report = Report::new(&args, report::machine());
    let configs = portrait::embedded::configs(Some(&data_dir), None)?;
    let mut telemetry = configs[0].telemetry.clone();
    if std::env::var_os("RUST_LOG").is_none() {
        // Progress bars and routine logs do not mix; warnings still show.
        // sqlx's slow-acquire warnings would bury the report under load; the
        // report counts the failed calls instead.
        // The bench runs its stack with auth.mode = "off" on purpose (its
        // clients send no token): that warning is not news in its report.
        telemetry.log_filter = "warn,sqlx::pool=error,portrait::auth=error".into();
    }
    let _telemetry = portrait_service::init_telemetry("portrait", &telemetry)
        .context("failed to start telemetry")?;

    if args.distributed {
        dist::run(&args, &spec, &data_dir, today, &mut report).await?;
    } else {
        embedded(&args, &spec, &data_dir, today, &mut report).await?;
    }
    if !args.skip_duckdb {
        report.duckdb = Some(duckdb::compare(
            &data_dir,
            &spec,
            args.orders,
            &report.filters,
            args.calls,
        )?);
    }
    let text = report.render();
    emit(&text, args.out.as_deref())
}

async fn embedded(
    args: &BenchArgs,
    spec: &ChainSpec,
    data_dir: &Path,
    today: i64,
    report: &mut Report,
) -> anyhow::Result<()> {
    let running = stack::Running::start(data_dir, args.base_port).await?;
    let fed = feed::load(&running.endpoints, spec, args.orders, args.streams, || ()).await?;
    report.ingest = Some(fed.clone());
    report.rss_after_ingest = stack::rss();

    let mut filters = panels::filters(&fed.chain, today, args.days);
    report.panels = panels::measure(&running.endpoints, &mut filters, args.calls).await?;
    report.filters = filters.clone();
    report.rss_after_panels = stack::rss();
    report.concurrent = Some(
        load::concurrent(
            &running.endpoints,
            &filters,
            args.clients,
            args.client_calls,
        )
        .await?,
    );
    report.freshness = Some(
        load::freshness(
            &running.endpoints,
            args.fresh_rate,
            Duration::from_secs(args.fresh_secs),
        )
        .await?,
    );

    let everything = &filters[0].filter;
    let expected = panels::overview(&running.endpoints, everything)
        .await?
        .orders;
    let base_port = running.base_port;
    running.stop().await?;
    let (restarted, startup) = stack::Running::restart(data_dir, base_port, everything, expected)
        .await
        .context("failed to restart the stack on the same data")?;
    report.startup = Some(startup);
    report.rss_after_restart = stack::rss();
    restarted.stop().await?;
    report.loads = startup::each_in_child(data_dir).await?;
    Ok(())
}

/// `--loads-only`: each consumer's load from an earlier run's folder.
async fn loads_only(args: &BenchArgs) -> anyhow::Result<()> {
    let Some(dir) = &args.data_dir else {
        anyhow::bail!("--loads-only needs --data-dir");
    };
    let held = std::fs::read_dir(dir).map(|mut d| d.next().is_some());
    anyhow::ensure!(
        held.unwrap_or(false),
        "--data-dir {} holds no earlier run to load",
        dir.display()
    );
    let configs = portrait::embedded::configs(Some(dir), None)?;
    let _telemetry = portrait_service::init_telemetry("portrait", &configs[0].telemetry)
        .context("failed to start telemetry")?;
    let mut text = String::from("| consumer | load |\n|---|---:|\n");
    for l in startup::each(dir).await? {
        let line = format!(
            "| {} | {:.2} s |\n",
            l.service.as_str(),
            l.took.as_secs_f64()
        );
        text.push_str(&line);
    }
    emit(&text, args.out.as_deref())
}

/// Prints the report, and writes it to `out` when asked.
fn emit(text: &str, out: Option<&Path>) -> anyhow::Result<()> {
    println!("{text}");
    if let Some(out) = out {
        std::fs::write(out, text)
            .with_context(|| format!("failed to write the report to {}", out.display()))?;
    }
    Ok(())
}

/// A temporary folder removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempfile_dir() -> anyhow::Result<TempDir> {
    let dir = std::env::temp_dir().join(format!(
        "portrait-bench-{}-{}",
        std::process::id(),
        portrait_service::now_ms()
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("failed to create {}", dir.display()))?;
    Ok(TempDir(dir))
}
