use anyhow::Context;
use portrait_service::{Config, ServiceName};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::load(ServiceName::Suggest).context("failed to load configuration")?;
    let _telemetry = portrait_service::init_telemetry("suggest", &config.telemetry)
        .context("failed to start telemetry")?;
    let shutdown = portrait_service::shutdown_token();
    portrait_suggest::run(config, shutdown)
        .await
        .context("suggest failed")
}
