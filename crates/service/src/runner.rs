use portrait_bus::Bus;
use portrait_store::Store;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;
use tracing::info;

use portrait_core::{Calendar, ResolvedFilter};
use portrait_proto::v1::{ConsumerStatus, Filter};

use crate::{
    Config, ConsumerSpec, Result, bind, consumer_status, metrics, open_store, run_consumer, serve,
};

/// Binds the service's address, serves `routes` (and `/metrics` when set) until
/// `shutdown`, then returns.
pub async fn serve_until(
    service: &str,
    config: &Config,
    routes: Routes,
    shutdown: CancellationToken,
) -> Result<()> {
    let (listener, addr) = bind(&config.server.listen).await?;
    info!(service, %addr, "serving grpc");
    let metrics_task = (!config.telemetry.metrics_listen.is_empty()).then(|| {
        let addr = config.telemetry.metrics_listen.clone();
        let token = shutdown.clone();
        tokio::spawn(async move { metrics::serve(&addr, token).await })
    });
    let served = serve(listener, routes, shutdown.clone()).await;
    shutdown.cancel();
    if let Some(task) = metrics_task {
        let _ = task.await;
    }
    served
}

/// What a consumer service's queries need: its own store, the log (for the
/// lag), and the calendar that turns today into a day number.
#[derive(Clone)]
pub struct QueryContext {
    pub store: Store,
    bus: Bus,
    calendar: Calendar,
    topic: String,
    service: &'static str,
}

impl QueryContext {
    /// Validates a request's filter against today.
    pub fn resolve(&self, filter: Option<&Filter>) -> Result<ResolvedFilter> {
        Ok(ResolvedFilter::resolve(
            filter,
            self.calendar.day(crate::now_ms()),
        )?)
    }

    pub async fn status(&self) -> Result<ConsumerStatus> {
        consumer_status(self.service, &self.topic, &self.bus, &self.store).await
    }
}

/// A consumer service: opens its store and the log, then runs the consumer
/// loop beside the query server `routes` builds. Either stopping stops the
/// other; the store is closed last, after the final commit.
pub async fn run_consumer_service(
    config: Config,
    spec: ConsumerSpec,
    routes: impl FnOnce(QueryContext) -> Routes,
    shutdown: CancellationToken,
) -> Result<()> {
    let store = open_store(&config.store.url, &spec).await?;
    let bus = Bus::connect(&config.bus_config()).await?;
    let routes = routes(QueryContext {
        store: store.clone(),
        bus: bus.clone(),
        calendar: config.calendar(),
        topic: config.topics().orders,
        service: spec.service,
    });
    let local = shutdown.child_token();
    let consumer = {
        let (config, store, local) = (config.clone(), store.clone(), local.clone());
        tokio::spawn(async move { run_consumer(spec, &config, bus, store, local).await })
    };
    let served = serve_until(spec.service, &config, routes, local.clone()).await;
    local.cancel();
    let _ = consumer.await;
    store.close().await;
    info!(service = spec.service, "stopped");
    served
}

/// What a service binary's `main` does: configuration, telemetry, the
/// shutdown signal, then `run` until it returns.
pub async fn run_main<F, Fut>(service: crate::ServiceName, run: F) -> Result<()>
where
    F: FnOnce(Config, CancellationToken) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let config = Config::load(service)?;
    let _telemetry = crate::init_telemetry(service.as_str(), &config.telemetry)?;
    run(config, crate::shutdown_token()).await
}
