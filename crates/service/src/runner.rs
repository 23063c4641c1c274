use portrait_bus::Bus;
use portrait_store::Store;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;
use tracing::info;

use crate::{Config, ConsumerSpec, Result, bind, metrics, run_consumer, serve};

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

/// A consumer service: the consumer loop beside its query server. Either
/// stopping stops the other; the store is closed last, after the final commit.
pub async fn run_service(
    config: &Config,
    spec: ConsumerSpec,
    bus: Bus,
    store: Store,
    routes: Routes,
    shutdown: CancellationToken,
) -> Result<()> {
    let local = shutdown.child_token();
    let consumer = {
        let (config, store, local) = (config.clone(), store.clone(), local.clone());
        tokio::spawn(async move { run_consumer(spec, &config, bus, store, local).await })
    };
    let served = serve_until(spec.service, config, routes, local.clone()).await;
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
