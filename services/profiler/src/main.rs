use anyhow::Context;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    portrait_service::run_main(
        portrait_service::ServiceName::Profiler,
        portrait_profiler::run,
    )
    .await
    .context("portrait-profiler failed")
}
