//! Sync's Prometheus metrics, registered in the process's registry
//! (`portrait_service::metrics`), so the hosting gateway's `/metrics` serves
//! them. Counters move when a page's results are committed to sync's store,
//! so after a job they equal its recorded counters.

use std::sync::LazyLock;

use portrait_proto::v1::{SyncCounts, SyncJobState, SyncMode};
use prometheus::{GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts};

use crate::reason::{Finding, Kind};
use crate::state;

struct SyncMetrics {
    orders: IntCounterVec,
    findings: IntCounterVec,
    jobs: IntCounterVec,
    job_seconds: HistogramVec,
    watermark: IntGauge,
    last_success: GaugeVec,
    running: IntGauge,
}

fn build() -> Result<SyncMetrics, prometheus::Error> {
    let registry = &portrait_service::metrics::get()
        .ok_or_else(|| prometheus::Error::Msg("no metrics registry".into()))?
        .registry;
    let counter = |name: &str, help: &str, labels: &[&str]| {
        let c = IntCounterVec::new(Opts::new(name, help), labels)?;
        registry.register(Box::new(c.clone()))?;
        Ok::<_, prometheus::Error>(c)
    };
    let orders = counter(
        "portrait_sync_orders_total",
        "source orders a sync job decided on, by mode and outcome (read = accepted + unchanged + retracted + rejected; corrected is a subset of accepted + unchanged)",
        &["mode", "outcome"],
    )?;
    let findings = counter(
        "portrait_sync_findings_total",
        "data-quality findings by mode, kind (rejected, corrected, retracted) and reason code",
        &["mode", "kind", "reason"],
    )?;
    let jobs = counter(
        "portrait_sync_jobs_total",
        "sync jobs ended, by mode and outcome (succeeded, failed, interrupted)",
        &["mode", "outcome"],
    )?;
    let job_seconds = HistogramVec::new(
        HistogramOpts::new("portrait_sync_job_seconds", "sync job duration by mode").buckets(vec![
            0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
        ]),
        &["mode"],
    )?;
    registry.register(Box::new(job_seconds.clone()))?;
    let watermark = IntGauge::new(
        "portrait_sync_watermark",
        "highest source Orders.id an incremental or full run has recorded",
    )?;
    registry.register(Box::new(watermark.clone()))?;
    let last_success = GaugeVec::new(
        Opts::new(
            "portrait_sync_last_success_timestamp_seconds",
            "Unix time the last successful sync job of each mode finished (alert when it is old)",
        ),
        &["mode"],
    )?;
    registry.register(Box::new(last_success.clone()))?;
    let running = IntGauge::new("portrait_sync_job_running", "1 while a sync job runs")?;
    registry.register(Box::new(running.clone()))?;
    Ok(SyncMetrics {
        orders,
        findings,
        jobs,
        job_seconds,
        watermark,
        last_success,
        running,
    })
}

static METRICS: LazyLock<Option<SyncMetrics>> = LazyLock::new(|| match build() {
    Ok(m) => Some(m),
    Err(e) => {
        tracing::warn!(error = %e, "sync metrics are not available");
        None
    }
});

fn get() -> Option<&'static SyncMetrics> {
    METRICS.as_ref()
}

/// A page's (or a full run's missing orders') results, once committed.
pub(crate) fn recorded(mode: SyncMode, counts: &SyncCounts, findings: &[(Kind, Finding)]) {
    let Some(m) = get() else { return };
    let mode = state::mode_code(mode);
    for (outcome, n) in [
        ("read", counts.read),
        ("accepted", counts.accepted),
        ("unchanged", counts.unchanged),
        ("retracted", counts.retracted),
        ("rejected", counts.rejected),
        ("corrected", counts.corrected),
    ] {
        // Touched even at 0, so every series exists from the first page on.
        m.orders
            .with_label_values(&[mode, outcome])
            .inc_by(n.max(0) as u64);
    }
    for (kind, f) in findings {
        m.findings
            .with_label_values(&[mode, kind.code(), f.reason.code()])
            .inc();
    }
}

/// The watermark only rises (as in sync's store).
pub(crate) fn watermark(id: i64) {
    if let Some(m) = get()
        && id > m.watermark.get()
    {
        m.watermark.set(id);
    }
}

pub(crate) fn started() {
    if let Some(m) = get() {
        m.running.set(1);
    }
}

pub(crate) fn finished(mode: SyncMode, state: SyncJobState, started_ms: i64, finished_ms: i64) {
    let Some(m) = get() else { return };
    let mode = state::mode_code(mode);
    let outcome = match state {
        SyncJobState::Succeeded => "succeeded",
        SyncJobState::Failed => "failed",
        _ => "interrupted",
    };
    m.jobs.with_label_values(&[mode, outcome]).inc();
    m.job_seconds
        .with_label_values(&[mode])
        .observe((finished_ms - started_ms).max(0) as f64 / 1000.0);
    if state == SyncJobState::Succeeded {
        last_success(mode, finished_ms);
    }
    m.running.set(0);
}

/// What a restarted process knows from sync's store, so a stale-sync alert
/// does not fire (or fall silent) just because the gateway restarted.
pub(crate) fn restore(watermark_id: i64, successes: &[(SyncMode, i64)]) {
    watermark(watermark_id);
    for (mode, finished_ms) in successes {
        last_success(state::mode_code(*mode), *finished_ms);
    }
}

fn last_success(mode: &str, finished_ms: i64) {
    if let Some(m) = get() {
        let g = m.last_success.with_label_values(&[mode]);
        let secs = finished_ms as f64 / 1000.0;
        if secs > g.get() {
            g.set(secs);
        }
    }
}
