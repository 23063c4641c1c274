use anyhow::Context;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    portrait_service::run_main(portrait_service::ServiceName::Rfm, portrait_rfm::run)
        .await
        .context("portrait-rfm failed")
}
