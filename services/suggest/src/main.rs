use anyhow::Context;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    portrait_service::run_main(
        portrait_service::ServiceName::Suggest,
        portrait_suggest::run,
    )
    .await
    .context("portrait-suggest failed")
}
