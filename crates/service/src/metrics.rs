//! Prometheus metrics: events/s, batch sizes, lag, dead letters, query latency.

use std::sync::LazyLock;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};
use tokio_util::sync::CancellationToken;

use crate::{Error, Result};

pub struct Metrics {
    pub registry: Registry,
    pub events_applied: IntCounterVec,
    pub duplicates_skipped: IntCounterVec,
    pub dead_lettered: IntCounterVec,
    pub batch_size: HistogramVec,
    pub lag: IntGaugeVec,
    pub log_condition: IntGaugeVec,
    /// The serving state's heap by part (`Projection::state_bytes`).
    pub state_bytes: IntGaugeVec,
    pub rpc_seconds: HistogramVec,
    pub rpc_errors: IntCounterVec,
    pub orders_submitted: IntCounterVec,
    /// Segment transitions committed by the rfm service, by kind.
    pub segment_transitions: IntCounterVec,
    /// segments.v1 records a follower read, by outcome (applied, duplicate, unreadable).
    pub segment_records: IntCounterVec,
}

fn build() -> std::result::Result<Metrics, prometheus::Error> {
    let registry = Registry::new();
    let counter = |name: &str,
                   help: &str,
                   labels: &[&str]|
     -> std::result::Result<IntCounterVec, prometheus::Error> {
        let c = IntCounterVec::new(Opts::new(name, help), labels)?;
        registry.register(Box::new(c.clone()))?;
        Ok(c)
    };
    let events_applied = counter(
        "portrait_events_applied_total",
        "order events applied",
        &["service"],
    )?;
    let duplicates_skipped = counter(
        "portrait_duplicates_skipped_total",
        "events skipped as already applied",
        &["service"],
    )?;
    let dead_lettered = counter(
        "portrait_dead_lettered_total",
        "records sent to the dead-letter topic",
        &["service"],
    )?;
    let orders_submitted = counter(
        "portrait_orders_submitted_total",
        "orders submitted to ingest",
        &["outcome"],
    )?;
    let batch_size = HistogramVec::new(
        HistogramOpts::new("portrait_batch_size", "records per consumed batch")
            .buckets(vec![1.0, 10.0, 100.0, 500.0, 1000.0, 2000.0, 5000.0]),
        &["service"],
    )?;
    registry.register(Box::new(batch_size.clone()))?;
    let lag = IntGaugeVec::new(
        Opts::new("portrait_consumer_lag", "records behind the log end"),
        &["service"],
    )?;
    registry.register(Box::new(lag.clone()))?;
    let log_condition = IntGaugeVec::new(
        Opts::new(
            "portrait_log_condition",
            "1 while the consumer has stopped because its log went backwards",
        ),
        &["service"],
    )?;
    registry.register(Box::new(log_condition.clone()))?;
    let state_bytes = IntGaugeVec::new(
        Opts::new(
            "portrait_state_bytes",
            "bytes the serving state holds in memory, by part (from capacities; RSS is higher)",
        ),
        &["service", "part"],
    )?;
    registry.register(Box::new(state_bytes.clone()))?;
    let rpc_seconds = HistogramVec::new(
        HistogramOpts::new("portrait_rpc_seconds", "gRPC call latency by method").buckets(vec![
            0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 5.0,
        ]),
        &["method"],
    )?;
    registry.register(Box::new(rpc_seconds.clone()))?;
    let rpc_errors = counter(
        "portrait_rpc_errors_total",
        "gRPC calls answered with an error status, by method and code",
        &["method", "code"],
    )?;
    let segment_transitions = counter(
        "portrait_segment_transitions_total",
        "segment transitions committed for segments.v1",
        &["kind"],
    )?;
    let segment_records = counter(
        "portrait_segment_records_total",
        "segments.v1 records read by a follower",
        &["outcome"],
    )?;
    Ok(Metrics {
        registry,
        events_applied,
        duplicates_skipped,
        dead_lettered,
        batch_size,
        lag,
        log_condition,
        state_bytes,
        rpc_seconds,
        rpc_errors,
        orders_submitted,
        segment_transitions,
        segment_records,
    })
}

static METRICS: LazyLock<Option<Metrics>> = LazyLock::new(|| build().ok());

/// The process's metrics; `None` only if registration failed, which it cannot
/// with these fixed names.
pub fn get() -> Option<&'static Metrics> {
    METRICS.as_ref()
}

/// Serves `/metrics` on `addr` until shutdown.
/// With `tls`, over TLS like the service's own port.
pub async fn serve(
    addr: &str,
    tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    shutdown: CancellationToken,
) -> Result<()> {
    let (listener, local) = crate::bind(addr).await?;
    tracing::info!(%local, tls = tls.is_some(), "serving metrics");
    let app = axum::Router::new().route("/metrics", axum::routing::get(render));
    let failed = |e: std::io::Error| Error::Telemetry(format!("metrics server: {e}"));
    match tls {
        Some(tls) => {
            let listener =
                crate::tls::Listener::new(listener, tls, shutdown.clone()).map_err(failed)?;
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown.cancelled_owned())
                .await
                .map_err(failed)
        }
        None => axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
            .map_err(failed),
    }
}

async fn render() -> String {
    let Some(m) = get() else {
        return String::new();
    };
    let mut out = Vec::new();
    let _ = TextEncoder::new().encode(&m.registry.gather(), &mut out);
    String::from_utf8(out).unwrap_or_default()
}
