use std::sync::Arc;

use portrait_bus::Bus;
use portrait_core::{Calendar, ResolvedFilter};
use portrait_proto::v1::consumer_admin_server::ConsumerAdminServer;
use portrait_proto::v1::{ConsumerStatus, Filter, PartitionLag};
use portrait_store::Store;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::SeenIds;
use crate::consumer::{ConsumerParts, load, run_consumer};
use crate::rebuild::Control;
use crate::{
    Config, Live, Progress, Projection, Result, Services, bind, metrics, open_store, serve,
};

/// The runtime every Portrait process runs on. By default a tokio worker
/// looks at the shared queue (where woken tasks go once its own is full)
/// every 200 µs of polls, up to 127 tasks; with short polls that is rare, so
/// with many connections at once (1,000 dashboard clients) the requests that
/// landed there waited behind whole chains of newer work: p50 5–8 ms but
/// p99 157–202 ms. Looking every second task: p50 26–38 ms, p99 51–70 ms,
/// the same throughput (benchmarks.md, session 29).
pub fn runtime() -> tokio::runtime::Builder {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.global_queue_interval(2).enable_all();
    builder
}

/// Serves `services` on `listener` (and `/metrics` when set) until `shutdown`,
/// then returns.
pub async fn serve_until(
    service: &str,
    listener: TcpListener,
    config: &Config,
    services: Services,
    shutdown: CancellationToken,
) -> Result<()> {
    let auth = portrait_auth::Authenticator::from_settings(&config.auth)
        .map_err(|e| crate::Error::Config(e.to_string()))?;
    if !auth.is_on() {
        tracing::warn!(
            target: "portrait::auth",
            service,
            "auth.mode is \"off\": every caller is an admin; set auth.api_keys or auth.jwt"
        );
    }
    if let Ok(addr) = listener.local_addr() {
        info!(service, %addr, tls = !config.server.tls_cert.is_empty(), "serving grpc");
    }
    let tls = crate::tls::server_config(&config.server)?;
    let metrics_task = (!config.telemetry.metrics_listen.is_empty()).then(|| {
        let addr = config.telemetry.metrics_listen.clone();
        let token = shutdown.clone();
        let tls = tls.clone();
        tokio::spawn(async move { metrics::serve(&addr, tls, token).await })
    });
    let served = serve(
        listener,
        services,
        std::sync::Arc::new(auth),
        tls,
        shutdown.clone(),
    )
    .await;
    shutdown.cancel();
    if let Some(task) = metrics_task {
        let _ = task.await;
    }
    served
}

/// What a consumer service's queries need besides its projection: the log
/// (for the lag), its progress, and the calendar that turns today into a day.
#[derive(Clone)]
pub struct QueryContext {
    bus: Bus,
    calendar: Calendar,
    topic: String,
    service: &'static str,
    progress: Arc<Live<Progress>>,
    store: Store,
    /// `domain.max_id_length`: ingest accepts no longer id, so none names anyone.
    max_id_length: usize,
}

impl QueryContext {
    /// A customer id a query names: 1 to `domain.max_id_length` bytes.
    pub fn customer_id<'a>(&self, field: &str, id: &'a str) -> Result<&'a str> {
        self.id_text(field, id)?;
        if id.is_empty() {
            let reason = format!("must be 1 to {} bytes", self.max_id_length);
            return Err(portrait_core::Error::invalid(field, reason).into());
        }
        Ok(id)
    }

    /// Text matched against ids (a prefix, a search): at most `domain.max_id_length` bytes.
    pub fn id_text<'a>(&self, field: &str, text: &'a str) -> Result<&'a str> {
        if text.len() > self.max_id_length {
            let reason = format!(
                "at most {} bytes (domain.max_id_length)",
                self.max_id_length
            );
            return Err(portrait_core::Error::invalid(field, reason).into());
        }
        Ok(text)
    }

    /// The service's own store, for answers read from its tables rather than
    /// its serving state (one customer's rows, found by key).
    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn calendar(&self) -> &Calendar {
        &self.calendar
    }

    /// Validates a request's filter against today.
    pub fn resolve(&self, filter: Option<&Filter>) -> Result<ResolvedFilter> {
        Ok(ResolvedFilter::resolve(
            filter,
            self.calendar.day(crate::now_ms()),
        )?)
    }

    /// Where the consumer stands against the log, as of its last commit.
    pub async fn status(&self) -> Result<ConsumerStatus> {
        let progress = self.progress.read().0.clone();
        let ends = self.bus.end_offsets(&self.topic).await?;
        let partitions: Vec<PartitionLag> = ends
            .into_iter()
            .map(|(partition, end)| PartitionLag {
                topic: self.topic.clone(),
                partition,
                position: progress.positions.get(&partition).copied().unwrap_or(0),
                end,
            })
            .collect();
        let lag = partitions.iter().map(|p| (p.end - p.position).max(0)).sum();
        if let Some(m) = metrics::get() {
            m.lag.with_label_values(&[self.service]).set(lag);
        }
        Ok(ConsumerStatus {
            service: self.service.to_owned(),
            partitions,
            lag,
            events_applied: progress.events_applied,
            dead_lettered: progress.dead_lettered,
            condition: progress.condition.unwrap_or_default(),
            failure: progress.failure.unwrap_or_default(),
            epoch: progress.epoch,
        })
    }
}

/// A consumer service: opens its store, loads its serving state, then runs the
/// consumer loop beside the query server `services` builds. Either stopping
/// stops the other; the store is closed last, after the final commit.
pub async fn run_consumer_service<P: Projection>(
    config: Config,
    listener: TcpListener,
    projection: P,
    services: impl FnOnce(Arc<P>, QueryContext) -> Services,
    shutdown: CancellationToken,
) -> Result<()> {
    let service = projection.name();
    let store = open_store(&config.store, &projection).await?;
    let bus = Bus::connect(&config.bus_config()).await?;
    let topic = config.topics().orders;
    let progress = Arc::new(Live::<Progress>::default());
    let projection = Arc::new(projection);
    let seen = Arc::new(SeenIds::default());
    // Nothing is written while loading, so a stop halfway loses nothing; at
    // 10M orders a load takes about as long as an orchestrator's grace
    // period (30 s), and a stop request must not wait for it.
    tokio::select! {
        loaded = load(&*projection, &store, &topic, &progress, &seen) => loaded?,
        () = shutdown.cancelled() => {
            info!(service, "stopped while loading the serving state");
            store.close().await;
            return Ok(());
        }
    }
    let control = Arc::new(Control::new());
    control.report(service, progress.read().0.condition.as_deref());
    let rebuilder = crate::rebuild::Rebuilder {
        projection: projection.clone(),
        store: store.clone(),
        topic: topic.clone(),
        progress: progress.clone(),
        control: control.clone(),
        seen: seen.clone(),
    };
    let services = services(
        projection.clone(),
        QueryContext {
            bus: bus.clone(),
            calendar: config.calendar(),
            topic,
            service,
            progress: progress.clone(),
            store: store.clone(),
            max_id_length: config.domain.max_id_length,
        },
    )
    .with_serving(control.serving.subscribe())
    .and(ConsumerAdminServer::new(rebuilder))
    .with_audit_log(&crate::AuditLog::start(service, store.clone()));
    let local = shutdown.child_token();
    let consumer = {
        let (config, local) = (config.clone(), local.clone());
        let parts = ConsumerParts {
            projection,
            store: store.clone(),
            bus,
            progress,
            control,
            seen,
        };
        tokio::spawn(async move { run_consumer(parts, &config, local).await })
    };
    let served = serve_until(service, listener, &config, services, local.clone()).await;
    local.cancel();
    let _ = consumer.await;
    store.close().await;
    info!(service, "stopped");
    served
}

/// A service binary's whole `main`: a runtime, [`run_main`] on it, then a
/// bounded wait for blocking work still running. Dropping a runtime waits for
/// its blocking tasks without limit, and a librdkafka client asked for a
/// topic's bounds while the broker is away can block for its timeouts: after
/// the flush, the process must end regardless.
pub fn main<F, Fut>(service: crate::ServiceName, run: F) -> Result<()>
where
    F: FnOnce(Config, TcpListener, CancellationToken) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    crate::return_freed_memory_promptly();
    let runtime = runtime()
        .build()
        .map_err(|e| crate::Error::Config(format!("failed to start the runtime: {e}")))?;
    let result = runtime.block_on(run_main(service, run));
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    result
}

/// What a service binary's `main` does: configuration, telemetry, the
/// shutdown signal, binding the address (a taken port fails start-up at
/// once), then `run` until it returns.
pub async fn run_main<F, Fut>(service: crate::ServiceName, run: F) -> Result<()>
where
    F: FnOnce(Config, TcpListener, CancellationToken) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let config = Config::load(service)?;
    // Before anything is loaded: a stack nobody can log in to says so at once.
    portrait_auth::Authenticator::from_settings(&config.auth)
        .map_err(|e| crate::Error::Config(e.to_string()))?;
    let _telemetry = crate::init_telemetry(service.as_str(), &config.telemetry)?;
    let (listener, _) = bind(&config.server.listen).await?;
    run(config, listener, crate::shutdown_token()).await
}

#[cfg(test)]
#[path = "runner_tests.rs"]
mod tests;
