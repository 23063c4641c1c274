use anyhow::Context;

fn main() -> anyhow::Result<()> {
    portrait_service::main(
        portrait_service::ServiceName::Gateway,
        portrait_gateway::run,
    )
    .context("portrait-gateway failed")
}
