use std::sync::Arc;
use std::time::Duration;

use portrait_bus::{Bus, Message};
use portrait_store::Store;
use sqlx::Row;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

const BATCH: i64 = 2000;

/// Publishes the outbox in commit order until `shutdown`, then drains it once more.
pub async fn relay(
    store: Store,
    bus: Bus,
    topic: String,
    wake: Arc<Notify>,
    progressing: watch::Sender<bool>,
    shutdown: CancellationToken,
) {
    let reader = portrait_service::OutboxReader::new(&OUTBOX, BATCH, Duration::ZERO);
    portrait_service::relay_loop(
        "outbox",
        Duration::from_millis(100),
        wake,
        &progressing,
        &shutdown,
        || publish_some(&store, &bus, &topic, &reader),
    )
    .await;
    loop {
        match publish_some(&store, &bus, &topic, &reader).await {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                error!(error = %e, "outbox not drained at shutdown; it is published on the next start");
                break;
            }
        }
    }
    info!("outbox relay stopped");
}

const OUTBOX: portrait_service::Outbox = portrait_service::Outbox {
    select: "SELECT id, msg_key, payload, traceparent, epoch FROM outbox WHERE id > $1 ORDER BY id LIMIT $2",
    delete: "DELETE FROM outbox WHERE id > $1 AND id <= $2",
    counter: "events_published",
    pending: Some(crate::submit::PENDING),
};

async fn publish_some(
    store: &Store,
    bus: &Bus,
    topic: &str,
    reader: &portrait_service::OutboxReader,
) -> portrait_service::Result<usize> {
    reader
        .publish(store, bus, topic, |r| {
            let traceparent: String = r.try_get(3)?;
            let epoch: i64 = r.try_get(4)?;
            let mut headers = Vec::new();
            if !traceparent.is_empty() {
                headers.push(("traceparent".to_owned(), traceparent));
            }
            if epoch > 0 {
                headers.push((portrait_service::EPOCH_HEADER.to_owned(), epoch.to_string()));
            }
            Ok(Message {
                key: r.try_get(1)?,
                payload: r.try_get(2)?,
                headers,
            })
        })
        .await
}
