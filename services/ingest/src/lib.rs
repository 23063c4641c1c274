//! The ingest service: validates orders, keeps the latest accepted version of
//! each, assigns revisions and publishes real changes through an outbox.
//!
//! An accepted change and its event are committed in one transaction; a relay
//! then publishes the outbox in order and deletes what the log acknowledged.
//! A crash between publish and delete re-publishes, and consumers ignore the
//! (order, revision) they already applied: nothing is lost, nothing counts twice.

mod api;
mod relay;
mod republish;
mod submit;

use portrait_bus::Bus;
use portrait_proto::v1::ingest_admin_server::IngestAdminServer;
use portrait_proto::v1::ingest_service_server::IngestServiceServer;
use portrait_service::{Config, Result};
use portrait_store::{Migration, Store, migrations};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use api::{MAX_BATCH_ORDERS, MAX_MESSAGE_BYTES};
pub use relay::relay;
pub use submit::Ingest;

const MIGRATIONS: &[Migration] = migrations!(
    "migrations",
    [
        "0001_orders",
        "0002_outbox",
        "0003_counters",
        "0004_outbox_epoch",
        "0005_orders_counter",
        "0006_outbox_counter"
    ]
);

pub async fn open_store(settings: &portrait_service::StoreSettings) -> Result<Store> {
    let store = Store::connect_with(&settings.url, settings.acquire_timeout()).await?;
    store.migrate("ingest", MIGRATIONS).await?;
    store
        .migrate("audit", portrait_store::AUDIT_MIGRATIONS)
        .await?;
    Ok(store)
}

/// Serves the ingest API and relays the outbox to the log until `shutdown`.
pub async fn run(config: Config, listener: TcpListener, shutdown: CancellationToken) -> Result<()> {
    let store = open_store(&config.store).await?;
    let bus = Bus::connect(&config.bus_config()).await?;
    let topic = config.topics().orders;
    bus.ensure_topic(&topic).await?;
    let ingest = Ingest::new(store.clone(), config.limits()).with_commit_delay(
        std::time::Duration::from_millis(config.ingest.commit_delay_ms),
    );
    ingest.index_orders().await?;
    let local = shutdown.child_token();
    // Health says NOT_SERVING while the relay fails; orders are still taken
    // into the outbox meanwhile (the overall health "" stays SERVING).
    let (progressing, serving) = tokio::sync::watch::channel(true);
    let relay_task = tokio::spawn(relay(
        store.clone(),
        bus,
        topic,
        ingest.outbox_signal(),
        progressing,
        local.clone(),
    ));
    let admin = IngestAdminServer::new(republish::Republisher::new(&ingest));
    let services = portrait_service::Services::new(
        IngestServiceServer::new(ingest).max_decoding_message_size(MAX_MESSAGE_BYTES),
    )
    .and(admin)
    .with_serving(serving)
    .with_audit_log(&portrait_service::AuditLog::start("ingest", store.clone()));
    let served =
        portrait_service::serve_until("ingest", listener, &config, services, local.clone()).await;
    local.cancel();
    let _ = relay_task.await;
    store.close().await;
    served
}
