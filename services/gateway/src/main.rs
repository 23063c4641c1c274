use anyhow::Context;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    portrait_service::run_main(
        portrait_service::ServiceName::Gateway,
        portrait_gateway::run,
    )
    .await
    .context("portrait-gateway failed")
}
