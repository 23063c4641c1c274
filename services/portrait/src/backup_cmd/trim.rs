//! Makes the log copy agree with its producers' copies. An event published
//! between a producer's copy and the log's is in the copied log but unknown
//! to the copied producer: restored, the producer would hand out its revision
//! (ingest) or sequence number (rfm) again, for another change, and the
//! consumers, having applied the first, would drop the second. So the records
//! at or after the log's end as read just before the producer's copy started
//! (everything below it was published, hence written, before that copy) are
//! checked against the copy, and those it does not know are deleted: the
//! backup is then the state as of the producer's copy, the orders accepted
//! after it are not in it. No consumer position is affected: every consumer
//! was copied before the producers, so it can only have read below the mark.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use prost::Message;
use sqlx::Row;

use portrait_proto::v1::{OrderEvent, SegmentTransition};

use super::open;

/// The next offset of `topic` in the live log.
pub(super) async fn live_end(log: &Path, topic: &str) -> anyhow::Result<i64> {
    let mut conn = open(log, false).await?;
    sqlx::query_scalar("SELECT COALESCE(MAX(offset) + 1, 0) FROM log WHERE topic = ?")
        .bind(topic)
        .fetch_one(&mut conn)
        .await
        .with_context(|| format!("failed to read the end of {topic} in {}", log.display()))
}

/// A producer's copy and the topic it writes.
pub(super) struct Producer<'a> {
    pub topic: &'a str,
    /// The topic's end in the live log just before the producer was copied.
    pub mark: i64,
    pub copy: &'a Path,
    pub kind: Kind,
}

#[derive(Clone, Copy)]
pub(super) enum Kind {
    /// Ingest: an `OrderEvent` is known when the copy's `orders` row has its revision.
    Orders,
    /// rfm: a `SegmentTransition` is known up to the copy's last sequence number.
    Segments,
}

/// Deletes from the log copy the records its producers' copies do not know;
/// returns how many per topic.
pub(super) async fn trim(
    log_copy: &Path,
    producers: &[Producer<'_>],
) -> anyhow::Result<BTreeMap<String, i64>> {
    let mut log = open(log_copy, false).await?;
    let fail = || format!("failed to check the log copy {}", log_copy.display());
    let mut dropped = BTreeMap::new();
    for p in producers {
        let mut producer = open(p.copy, true).await?;
        let pfail = || format!("failed to read {}", p.copy.display());
        let last_sequence: i64 = match p.kind {
            Kind::Segments => sqlx::query_scalar(
                "SELECT COALESCE(MAX(value), 0) FROM published_segment_state WHERE name = 'last_sequence'",
            )
            .fetch_one(&mut producer)
            .await
            .with_context(pfail)?,
            Kind::Orders => 0,
        };
        let rows = sqlx::query(
            "SELECT offset, payload FROM log WHERE topic = ? AND offset >= ? ORDER BY offset",
        )
        .bind(p.topic)
        .bind(p.mark)
        .fetch_all(&mut log)
        .await
        .with_context(fail)?;
        let mut unknown = Vec::new();
        for r in &rows {
            let offset: i64 = r.try_get(0).with_context(fail)?;
            let payload: Vec<u8> = r.try_get(1).with_context(fail)?;
            let known = match p.kind {
                Kind::Orders => {
                    let e = OrderEvent::decode(payload.as_slice()).with_context(|| {
                        format!("{} offset {offset} is not an order event", p.topic)
                    })?;
                    let held: Option<i64> =
                        sqlx::query_scalar("SELECT revision FROM orders WHERE order_id = ?")
                            .bind(&e.order_id)
                            .fetch_optional(&mut producer)
                            .await
                            .with_context(pfail)?;
                    held.is_some_and(|h| h >= e.revision)
                }
                Kind::Segments => {
                    let e = SegmentTransition::decode(payload.as_slice()).with_context(|| {
                        format!("{} offset {offset} is not a segment transition", p.topic)
                    })?;
                    e.sequence <= last_sequence
                }
            };
            if !known {
                unknown.push(offset);
            }
        }
        for offset in &unknown {
            sqlx::query("DELETE FROM log WHERE topic = ? AND offset = ?")
                .bind(p.topic)
                .bind(offset)
                .execute(&mut log)
                .await
                .with_context(fail)?;
        }
        dropped.insert(p.topic.to_owned(), unknown.len() as i64);
    }
    Ok(dropped)
}
