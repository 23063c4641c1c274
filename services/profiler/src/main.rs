use anyhow::Context;
use portrait_service::{Config, ServiceName};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::load(ServiceName::Profiler).context("failed to load configuration")?;
    let _telemetry = portrait_service::init_telemetry("profiler", &config.telemetry)
        .context("failed to start telemetry")?;
    let shutdown = portrait_service::shutdown_token();
    portrait_profiler::run(config, shutdown)
        .await
        .context("profiler failed")
}
