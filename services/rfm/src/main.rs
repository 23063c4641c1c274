use anyhow::Context;

fn main() -> anyhow::Result<()> {
    portrait_service::main(portrait_service::ServiceName::Rfm, portrait_rfm::run)
        .context("portrait-rfm failed")
}
