//! The profiler service: per-customer, per-hour, per-channel and per-product
//! day-grain tables, and the overview, hour and product queries over them.

mod queries;

use portrait_bus::Bus;
use portrait_proto::v1::profiler_query_server::ProfilerQueryServer;
use portrait_service::{Config, ConsumerSpec, Result};
use portrait_store::TableSet;
use tokio_util::sync::CancellationToken;

pub use queries::Profiler;

pub const SPEC: ConsumerSpec = ConsumerSpec {
    service: "profiler",
    tables: TableSet {
        customer_days: true,
        hours: true,
        channels: true,
        products: true,
    },
};

/// Consumes the order stream and serves queries until `shutdown`.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<()> {
    let store = portrait_service::open_store(&config.store.url, &SPEC).await?;
    let bus = Bus::connect(&config.bus_config()).await?;
    portrait_service::run_service(
        &config,
        SPEC,
        bus.clone(),
        store.clone(),
        tonic::service::Routes::new(ProfilerQueryServer::new(Profiler::new(
            store,
            bus,
            config.calendar(),
            config.topics().orders,
        ))),
        shutdown,
    )
    .await
}
