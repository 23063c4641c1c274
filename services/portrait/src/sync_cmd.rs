//! `portrait sync`, `portrait import` and `portrait quality`.

use std::path::PathBuf;
use std::time::Duration;

use crate::token::ClientChannel as Channel;
use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{
    DataQualityReport, GetDataQualityReportRequest, GetSyncJobRequest, ListSyncJobsRequest,
    SyncJob, SyncJobState, SyncMode, SyncStatusRequest, TriggerSyncRequest,
};

use crate::embedded;

#[derive(Args)]
pub(crate) struct SyncArgs {
    /// Read every source order and retract accepted orders gone from the source.
    #[arg(long)]
    full: bool,
    #[command(flatten)]
    pub(crate) reach: crate::token::GatewayArgs,
    /// Run one job in this process on an embedded store instead, from this source URL.
    #[arg(long, env = "PORTRAIT_SYNC_SOURCE", hide_env_values = true)]
    source: Option<String>,
    /// The embedded store's folder (with --source).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Gateway port of the in-process stack; the other services take the next four.
    #[arg(long)]
    base_port: Option<u16>,
}

#[derive(Args)]
pub(crate) struct QualityArgs {
    #[command(flatten)]
    pub(crate) reach: crate::token::GatewayArgs,
    /// The job to report on (default: the latest finished one).
    #[arg(long, default_value_t = 0)]
    job: i64,
}

impl SyncArgs {
    /// `--source`: the job runs on a stack started in this process.
    pub(crate) fn in_process(&self) -> bool {
        self.source.is_some()
    }
}

pub(crate) async fn sync(args: SyncArgs) -> anyhow::Result<()> {
    let mode = if args.full {
        SyncMode::Full
    } else {
        SyncMode::Incremental
    };
    match args.source {
        Some(source) => in_process(args.data_dir, args.base_port, Work::Sync(mode, source)).await,
        None => {
            let mut gateway = connect(&args.reach).await?;
            let t = gateway
                .trigger_sync(TriggerSyncRequest { mode: mode as i32 })
                .await
                .context("failed to start the sync")?
                .into_inner();
            let job = t.job.context("the gateway returned no job")?;
            if t.already_running {
                eprintln!(
                    "a sync job is already running: following job {}",
                    job.job_id
                );
            }
            let job = follow(&mut gateway, job.job_id).await?;
            finish(&job)
        }
    }
}

pub(crate) async fn quality(args: QualityArgs) -> anyhow::Result<()> {
    let mut gateway = connect(&args.reach).await?;
    let report = gateway
        .get_data_quality_report(GetDataQualityReportRequest { job_id: args.job })
        .await
        .context("failed to read the data-quality report")?
        .into_inner();
    print_report(&report);
    Ok(())
}

pub(crate) enum Work {
    Sync(SyncMode, String),
    Import(PathBuf),
}

/// Starts the embedded stack in this process, runs one job through its ingest,
/// waits until every consumer applied it, and stops.
pub(crate) async fn in_process(
    data_dir: Option<PathBuf>,
    base_port: Option<u16>,
    work: Work,
) -> anyhow::Result<()> {
    let mut configs = embedded::configs(data_dir.as_deref(), base_port)?;
    if std::env::var_os("RUST_LOG").is_none() {
        configs[0].telemetry.log_filter = "warn".into();
    }
    let _telemetry = portrait_service::init_telemetry("portrait", &configs[0].telemetry)
        .context("failed to start telemetry")?;
    let token = embedded::ephemeral_admin(&mut configs);
    embedded::prepare_auth(&mut configs)?;
    let mut config = configs[0].clone();
    let ingest_url = config.gateway.ingest.clone();
    let shutdown = portrait_service::shutdown_token();
    let stack = embedded::start(configs, shutdown.clone())
        .await
        .context("failed to start the embedded stack")?;
    let gateway_url = format!("http://{}", stack.gateway_addr);
    let mut gateway = connect(&crate::token::GatewayArgs::plain(gateway_url, &token)).await?;
    // The port is bound before the gateway has opened sync's store (and marked
    // a dead process's jobs interrupted): a sync answer means it has.
    let mut ready = false;
    for _ in 0..100 {
        if gateway
            .list_sync_jobs(ListSyncJobsRequest::default())
            .await
            .is_ok()
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::ensure!(ready, "the in-process gateway did not start");
    let job = match work {
        // Uploaded like an import into a running stack: one path for both.
        Work::Import(path) => {
            let (orders, shops) = crate::import_cmd::read(&path)?;
            let job = crate::import_cmd::upload(&mut gateway, &path, orders, shops).await?;
            follow(&mut gateway, job.job_id).await?
        }
        Work::Sync(mode, source) => {
            // Only this job reads the source: the gateway's own sync stays idle.
            config.sync.source = source;
            let config = config
                .validated(portrait_service::ServiceName::Gateway)
                .context("failed to configure the sync")?;
            let sync = portrait_sync::Sync::open(&config, &ingest_url, shutdown.clone())
                .await
                .context("failed to open the sync store")?;
            let started = sync
                .trigger(mode, "cli")
                .await
                .context("failed to start the job")?;
            let bar = progress(&started.job);
            loop {
                let job = sync
                    .job(started.job.job_id)
                    .await?
                    .context("the job vanished")?;
                update(&bar, &job);
                if job.state != SyncJobState::Running as i32 {
                    bar.finish();
                    break job;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    wait_caught_up(&mut gateway).await?;
    shutdown.cancel();
    stack.wait().await?;
    finish(&job)
}

pub(crate) async fn follow(
    gateway: &mut PortraitServiceClient<Channel>,
    id: i64,
) -> anyhow::Result<SyncJob> {
    let mut bar: Option<ProgressBar> = None;
    loop {
        let job = gateway
            .get_sync_job(GetSyncJobRequest { job_id: id })
            .await
            .context("failed to read the sync job")?
            .into_inner();
        let b = bar.get_or_insert_with(|| progress(&job));
        update(b, &job);
        if job.state != SyncJobState::Running as i32 {
            b.finish();
            return Ok(job);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn wait_caught_up(gateway: &mut PortraitServiceClient<Channel>) -> anyhow::Result<()> {
    loop {
        let s = gateway
            .get_sync_status(SyncStatusRequest {})
            .await
            .context("failed to read the pipeline status")?
            .into_inner();
        if s.caught_up {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn progress(job: &SyncJob) -> ProgressBar {
    let bar = ProgressBar::new(job.source_rows.max(0) as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:16} [{bar:40}] {pos}/{len} orders ({per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar
}

fn update(bar: &ProgressBar, job: &SyncJob) {
    let read = job.counts.as_ref().map_or(0, |c| c.read);
    bar.set_length(job.source_rows.max(read).max(0) as u64);
    bar.set_position(read.max(0) as u64);
    bar.set_message(job.phase.clone());
}

pub(crate) fn finish(job: &SyncJob) -> anyhow::Result<()> {
    print_job(job);
    if job.state == SyncJobState::Succeeded as i32 {
        Ok(())
    } else {
        anyhow::bail!("sync job {} did not succeed: {}", job.job_id, job.error)
    }
}

fn state_name(state: i32) -> &'static str {
    SyncJobState::try_from(state).map_or("unknown", |s| match s {
        SyncJobState::Running => "running",
        SyncJobState::Succeeded => "succeeded",
        SyncJobState::Failed => "failed",
        SyncJobState::Interrupted => "interrupted",
        SyncJobState::Unspecified => "unknown",
    })
}

fn mode_name(mode: i32) -> &'static str {
    SyncMode::try_from(mode).map_or("unknown", |m| match m {
        SyncMode::Full => "full",
        SyncMode::Import => "import",
        SyncMode::Incremental | SyncMode::Unspecified => "incremental",
    })
}

fn print_job(job: &SyncJob) {
    let c = job.counts.unwrap_or_default();
    let secs = (job.finished_at_ms - job.started_at_ms).max(0) as f64 / 1000.0;
    println!(
        "sync job {} ({}, {}) {} in {secs:.1} s",
        job.job_id,
        mode_name(job.mode),
        job.trigger,
        state_name(job.state)
    );
    println!("  {:<10} {:>10}", "read", c.read);
    for (name, v) in [
        ("accepted", c.accepted),
        ("unchanged", c.unchanged),
        ("retracted", c.retracted),
        ("rejected", c.rejected),
    ] {
        println!("  {name:<10} {v:>10}");
    }
    println!(
        "  {:<10} {:>10}  (accepted after a correction)",
        "corrected", c.corrected
    );
    if !job.error.is_empty() {
        println!("  error: {}", job.error);
    }
}

fn print_report(r: &DataQualityReport) {
    if r.job_id == 0 {
        println!("no sync job has finished yet");
    } else {
        println!("data quality of sync job {}", r.job_id);
        let c = r.counts.unwrap_or_default();
        println!(
            "  read {} = accepted {} + unchanged {} + retracted {} + rejected {} ({} corrected)",
            c.read, c.accepted, c.unchanged, c.retracted, c.rejected, c.corrected
        );
        println!(
            "  {:<18} {:<10} {:>8}  samples (source order / line: detail)",
            "reason", "kind", "count"
        );
        for reason in &r.reasons {
            println!(
                "  {:<18} {:<10} {:>8}",
                reason.reason, reason.kind, reason.count
            );
            for s in &reason.samples {
                let line = if s.source_line_id > 0 {
                    format!(" / {}", s.source_line_id)
                } else {
                    String::new()
                };
                println!("  {:>40}  {}{line}: {}", "", s.source_order_id, s.detail);
            }
        }
    }
    println!("recent jobs:");
    for job in &r.recent_jobs {
        let c = job.counts.unwrap_or_default();
        println!(
            "  #{:<5} {:<12} {:<11} read {:>8} accepted {:>8} unchanged {:>8} retracted {:>6} rejected {:>6}",
            job.job_id,
            mode_name(job.mode),
            state_name(job.state),
            c.read,
            c.accepted,
            c.unchanged,
            c.retracted,
            c.rejected
        );
    }
}

async fn connect(
    reach: &crate::token::GatewayArgs,
) -> anyhow::Result<PortraitServiceClient<Channel>> {
    let (url, token) = (&reach.gateway, &reach.token);
    let endpoint = crate::token::endpoint(reach)?;
    let mut last = None;
    for _ in 0..100 {
        match endpoint.connect().await {
            Ok(channel) => {
                return Ok(PortraitServiceClient::new(crate::token::authed(
                    channel, token,
                )?));
            }
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(anyhow::anyhow!("{last:?}"))
        .with_context(|| format!("failed to connect to the gateway at {url}"))
}
