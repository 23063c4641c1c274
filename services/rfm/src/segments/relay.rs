//! Publishes the transitions outbox to `segments.v1` in sequence order and
//! deletes what the log acknowledged. A crash between the two sends the same
//! records again, with the same sequence numbers, which consumers drop.

use std::sync::Arc;
use std::time::Duration;

use portrait_bus::{Bus, Message};
use portrait_proto::v1::SegmentTransition;
use portrait_service::{Error, Result};
use portrait_store::Store;
use prost::Message as _;
use sqlx::Row;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::info;

/// The header carrying a transition's sequence number.
pub const SEQUENCE_HEADER: &str = "portrait-sequence";

const BATCH: i64 = 2000;

pub(crate) async fn relay(
    store: Store,
    bus: Bus,
    topic: String,
    wake: Arc<Notify>,
    delay: Duration,
    progressing: tokio::sync::watch::Sender<bool>,
    shutdown: CancellationToken,
) {
    // The rfm service's health follows this too (see `run`); a failed publish
    // is sent again, and consumers drop what they have.
    let reader = portrait_service::OutboxReader::new(&OUTBOX, BATCH, delay);
    portrait_service::relay_loop(
        "segments",
        Duration::from_secs(1),
        wake,
        &progressing,
        &shutdown,
        || publish_some(&store, &bus, &topic, &reader),
    )
    .await;
    info!("segment relay stopped");
}

const OUTBOX: portrait_service::Outbox = portrait_service::Outbox {
    select: "SELECT seq, customer_id, payload FROM published_segment_outbox WHERE seq > $1 ORDER BY seq LIMIT $2",
    delete: "DELETE FROM published_segment_outbox WHERE seq > $1 AND seq <= $2",
    counter: "segment_transitions_published",
    pending: None,
};

async fn publish_some(
    store: &Store,
    bus: &Bus,
    topic: &str,
    reader: &portrait_service::OutboxReader,
) -> Result<usize> {
    reader
        .publish(store, bus, topic, |r| {
            let seq: i64 = r.try_get(0)?;
            let json: String = r.try_get(2)?;
            let event: SegmentTransition = serde_json::from_str(&json)
                .map_err(|e| Error::Corrupt(format!("segment outbox row {seq}: {e}")))?;
            Ok(Message {
                key: r.try_get(1)?,
                payload: event.encode_to_vec(),
                headers: vec![(SEQUENCE_HEADER.to_owned(), seq.to_string())],
            })
        })
        .await
}
