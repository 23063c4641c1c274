use anyhow::Context;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    portrait_service::run_main(portrait_service::ServiceName::Ingest, portrait_ingest::run)
        .await
        .context("portrait-ingest failed")
}
