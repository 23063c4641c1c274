//! The profiler service: per-customer, per-hour, per-channel and per-product
//! day-grain tables, and the overview, hour and product queries over them.

mod queries;

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
    portrait_service::run_consumer_service(
        config,
        SPEC,
        |ctx| tonic::service::Routes::new(ProfilerQueryServer::new(Profiler::new(ctx))),
        shutdown,
    )
    .await
}
