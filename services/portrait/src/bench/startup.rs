//! Each consumer's start-up on its own: the serving state loaded from the
//! consumer's tables, one consumer at a time, as a consumer process of the
//! five-process deployment starts (the embedded restart loads all three at
//! once on the same cores).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use portrait_profiler::ProfilerProjection;
use portrait_service::{CustomerProjection, Projection, ServiceName};

#[derive(Clone, Debug)]
pub(crate) struct Load {
    pub(crate) service: ServiceName,
    pub(crate) took: Duration,
}

/// Loads each consumer's serving state from `data_dir`, one after another.
pub(crate) async fn each(data_dir: &Path) -> anyhow::Result<Vec<Load>> {
    let configs = portrait::embedded::configs(Some(data_dir), None)?;
    let mut loads = Vec::new();
    // `configs` lists the services in `ServiceName::ALL` order.
    for (service, config) in ServiceName::ALL.into_iter().zip(configs) {
        let took = match service {
            ServiceName::Profiler => time(&config.store.url, ProfilerProjection::default()).await,
            ServiceName::Rfm => time(&config.store.url, CustomerProjection::new("rfm")).await,
            ServiceName::Suggest => {
                time(&config.store.url, CustomerProjection::new("suggest")).await
            }
            _ => continue,
        }
        .with_context(|| format!("failed to load the {} state", service.as_str()))?;
        loads.push(Load { service, took });
    }
    Ok(loads)
}

async fn time<P: Projection>(url: &str, projection: P) -> anyhow::Result<Duration> {
    let settings = portrait_service::StoreSettings {
        url: url.to_owned(),
        acquire_timeout_ms: 2_000,
    };
    let store = portrait_service::open_store(&settings, &projection).await?;
    let started = Instant::now();
    projection.load(&store).await?;
    let took = started.elapsed();
    store.close().await;
    Ok(took)
}
