use anyhow::Context;

fn main() -> anyhow::Result<()> {
    portrait_service::main(
        portrait_service::ServiceName::Suggest,
        portrait_suggest::run,
    )
    .context("portrait-suggest failed")
}
