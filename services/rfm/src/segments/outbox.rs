//! The publisher's tables: the assignment last published, the outbox of
//! transitions and the sequence counter, changed together in one transaction.

use portrait_proto::v1::SegmentTransition;
use portrait_store::{Arg, Key, Migration, Store, migrations, scan, upsert};
use sqlx::Row;

use super::assign::Place;
use portrait_service::{Error, Result};

pub(crate) const MIGRATIONS: &[Migration] =
    migrations!("migrations/segments", ["0001_published_segments"]);

const SEQUENCE: &str = "last_sequence";
/// The publication of the orders (`portrait rebuild`'s epoch) the assignment
/// was last computed from.
const EPOCH: &str = "epoch";

/// What the store says was published: every customer's place by id, the
/// last sequence number and the orders' epoch.
pub(crate) struct Published {
    pub(crate) places: Vec<(String, Place)>,
    pub(crate) last_sequence: i64,
    pub(crate) epoch: i64,
}

pub(crate) async fn load(store: &Store) -> Result<Published> {
    let mut places = Vec::new();
    let columns = [
        "customer_id",
        "segment",
        "recency_days",
        "frequency",
        "monetary_fen",
        "scores",
    ];
    scan(
        store.pool(),
        "published_segments",
        &[Key::Text("customer_id")],
        &columns,
        |r| {
            let segment = r.int("segment")?;
            if segment == 0 {
                return Ok(());
            }
            let small = |v: i64| u32::try_from(v.max(0)).unwrap_or(u32::MAX);
            places.push((
                r.text("customer_id")?.to_owned(),
                Place {
                    monetary: r.int("monetary_fen")?,
                    frequency: small(r.int("frequency")?),
                    recency: small(r.int("recency_days")?),
                    segment: u8::try_from(segment).unwrap_or(0),
                    scores: Place::unpack_scores(r.int("scores")?),
                },
            ));
            Ok(())
        },
    )
    .await?;
    let (mut last_sequence, mut epoch) = (0, 0);
    for r in sqlx::query("SELECT name, value FROM published_segment_state")
        .fetch_all(store.pool())
        .await?
    {
        let (name, value): (String, i64) = (r.try_get(0)?, r.try_get(1)?);
        match name.as_str() {
            SEQUENCE => last_sequence = value,
            EPOCH => epoch = value,
            _ => {}
        }
    }
    Ok(Published {
        places,
        last_sequence,
        epoch,
    })
}

/// One transaction: each customer's new place, their event in the outbox,
/// the last sequence number and the epoch. Either all of it lands or none.
pub(crate) async fn commit(
    store: &Store,
    events: &[(SegmentTransition, Place)],
    last_sequence: i64,
    epoch: i64,
) -> Result<()> {
    let mut places = Vec::with_capacity(events.len());
    let mut outbox = Vec::with_capacity(events.len());
    for (e, after) in events {
        places.push(vec![
            Arg::from(e.customer_id.clone()),
            Arg::from(i64::from(after.segment)),
            Arg::from(i64::from(after.recency)),
            Arg::from(i64::from(after.frequency)),
            Arg::from(after.monetary),
            Arg::from(after.packed_scores()),
        ]);
        let payload = serde_json::to_string(e)
            .map_err(|e| Error::Corrupt(format!("a segment event as json: {e}")))?;
        outbox.push(vec![
            Arg::from(e.sequence),
            Arg::from(e.customer_id.clone()),
            Arg::from(payload),
        ]);
    }
    let mut tx = store.begin().await?;
    upsert(
        &mut tx,
        "published_segments",
        &["customer_id"],
        &[
            "segment",
            "recency_days",
            "frequency",
            "monetary_fen",
            "scores",
        ],
        false,
        places,
    )
    .await?;
    upsert(
        &mut tx,
        "published_segment_outbox",
        &["seq"],
        &["customer_id", "payload"],
        false,
        outbox,
    )
    .await?;
    upsert(
        &mut tx,
        "published_segment_state",
        &["name"],
        &["value"],
        false,
        vec![
            vec![Arg::from(SEQUENCE), Arg::from(last_sequence)],
            vec![Arg::from(EPOCH), Arg::from(epoch)],
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
