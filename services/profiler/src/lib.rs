//! The profiler service: customer days and store days (hours, channels,
//! products), and the overview, hour, channel and product queries over them,
//! answered from memory.

mod anomaly;
mod clusters;
mod customer;
mod patterns;
mod projection;
mod queries;
mod scores;
mod summary;

use portrait_proto::v1::profiler_query_server::ProfilerQueryServer;
use portrait_service::{Config, Result};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use clusters::ClusterBook;
pub use projection::ProfilerProjection;
pub use queries::Profiler;

/// Consumes the order stream and serves queries until `shutdown`.
pub async fn run(config: Config, listener: TcpListener, shutdown: CancellationToken) -> Result<()> {
    let schedule = shutdown.clone();
    let rfm = portrait_core::RfmParams::resolve(None, &config.rfm.domain())?;
    let suggest = portrait_service::exchange::peer_channel(
        "gateway.suggest",
        &config.gateway.suggest,
        &config.auth,
        &config.server,
    )?;
    let every = std::time::Duration::from_millis(config.exchange.poll_ms);
    portrait_service::run_consumer_service(
        config,
        listener,
        ProfilerProjection::default(),
        move |projection, ctx| {
            let profiler = Profiler::new(projection.clone(), ctx, rfm);
            profiler.clusters.spawn_schedule(schedule.clone());
            scores::follow_scores(&profiler.scores, projection, suggest, every, schedule);
            portrait_service::Services::new(ProfilerQueryServer::new(profiler))
        },
        shutdown,
    )
    .await
}
