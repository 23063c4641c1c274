use anyhow::Context;

fn main() -> anyhow::Result<()> {
    portrait_service::main(
        portrait_service::ServiceName::Profiler,
        portrait_profiler::run,
    )
    .context("portrait-profiler failed")
}
