use anyhow::Context;

fn main() -> anyhow::Result<()> {
    portrait_service::main(portrait_service::ServiceName::Ingest, portrait_ingest::run)
        .context("portrait-ingest failed")
}
