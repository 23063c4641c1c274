use anyhow::Context;
use portrait_service::{Config, ServiceName};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::load(ServiceName::Rfm).context("failed to load configuration")?;
    let _telemetry = portrait_service::init_telemetry("rfm", &config.telemetry)
        .context("failed to start telemetry")?;
    let shutdown = portrait_service::shutdown_token();
    portrait_rfm::run(config, shutdown)
        .await
        .context("rfm failed")
}
