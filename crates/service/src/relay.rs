//! What every outbox relay runs: the loop (publish what is waiting, again at
//! once while there is more, otherwise wait for a wake-up or a poll; failures
//! back off up to 10 s) and the step (read rows in order from where the last
//! read stopped, publish them, delete and count them). Each relay says only
//! how a row becomes a record.

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use portrait_bus::{Bus, Message};
use portrait_store::Store;
use sqlx::Row;
use sqlx::any::AnyRow;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tracing::error;

use crate::Result;

const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// One outbox table as its relay reads it.
pub struct Outbox {
    /// Selects at most `$2` rows after position `$1`, in publishing order;
    /// column 0 is the row's position (an id or a sequence number).
    pub select: &'static str,
    /// Deletes the rows after position `$1` up to `$2`.
    pub delete: &'static str,
    /// The counter of records published.
    pub counter: &'static str,
    /// The counter of rows waiting, if the outbox keeps one: whoever adds
    /// rows adds to it in the same transaction, and the relay subtracts what
    /// it deletes in its own.
    pub pending: Option<&'static str>,
}

/// Reads one outbox in order, remembering where it stopped, so the next read
/// seeks past the rows it deleted instead of walking their index entries
/// until vacuum removes them: read from the start each time, the ingest
/// outbox's select and delete took 31 of PostgreSQL's 177 seconds at a
/// million orders. Positions grow in commit order (one writer per outbox),
/// but a table emptied and refilled from a lower position must not be
/// skipped, so after a read that finds nothing the next one may start over:
/// when the outbox's count of waiting rows says some wait, or, without one,
/// at most every `START_OVER_EVERY`. A relay that keeps catching up with
/// ingest finds nothing many times a second, and each start from the
/// beginning walks every deleted row again (3 ms a read at a million orders).
pub struct OutboxReader {
    outbox: &'static Outbox,
    batch: i64,
    hold: Duration,
    after: AtomicI64,
    started_over: Mutex<Option<Instant>>,
}

const START_OVER_EVERY: Duration = Duration::from_secs(1);

impl OutboxReader {
    /// Reads up to `batch` rows at a time; `hold` waits between publishing
    /// and deleting (a test opens that window with it).
    pub fn new(outbox: &'static Outbox, batch: i64, hold: Duration) -> Self {
        Self {
            outbox,
            batch,
            hold,
            after: AtomicI64::new(i64::MIN),
            started_over: Mutex::new(None),
        }
    }

    /// One relay step: publishes the next rows to `topic`, then deletes them
    /// and counts them in one transaction; returns how many. A crash in
    /// between publishes them again, which consumers drop.
    pub async fn publish(
        &self,
        store: &Store,
        bus: &Bus,
        topic: &str,
        message: impl Fn(&AnyRow) -> Result<Message>,
    ) -> Result<usize> {
        let outbox = self.outbox;
        let after = self.after.load(Ordering::Relaxed);
        let rows = sqlx::query(outbox.select)
            .bind(after)
            .bind(self.batch)
            .fetch_all(store.pool())
            .await?;
        let Some(last) = rows.last() else {
            if after != i64::MIN && self.rows_below(store).await? {
                self.after.store(i64::MIN, Ordering::Relaxed);
            }
            return Ok(0);
        };
        let last: i64 = last.try_get(0)?;
        let messages = rows.iter().map(message).collect::<Result<Vec<_>>>()?;
        if let Err(e) = bus.publish(topic, &messages).await {
            // Refused for its topic (UnknownTopicOrPartition): a broker back
            // with an empty log, or a deleted topic, has none. Made again
            // before the next try, so the relay does not wait for a consumer
            // to create it.
            if let portrait_bus::Error::Topic { .. } = e {
                let _ = bus.ensure_topic(topic).await;
            }
            return Err(e.into());
        }
        if !self.hold.is_zero() {
            tokio::time::sleep(self.hold).await;
        }
        let mut tx = store.begin().await?;
        let deleted = sqlx::query(outbox.delete)
            .bind(after)
            .bind(last)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let deleted = i64::try_from(deleted).unwrap_or(i64::MAX);
        let mut counts = vec![(outbox.counter, messages.len() as i64)];
        counts.extend(outbox.pending.map(|p| (p, -deleted)));
        portrait_store::add_counters(&mut tx, &counts).await?;
        tx.commit().await?;
        self.after.store(last, Ordering::Relaxed);
        tracing::debug!(topic, records = messages.len(), "outbox published");
        Ok(messages.len())
    }

    /// Whether rows may wait below the position, after a read past it found
    /// none.
    async fn rows_below(&self, store: &Store) -> Result<bool> {
        if let Some(name) = self.outbox.pending {
            let mut conn = store.acquire().await?;
            return Ok(portrait_store::load_counter(&mut conn, name).await? > 0);
        }
        let mut at = (self.started_over)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let due = at.is_none_or(|t| t.elapsed() >= START_OVER_EVERY);
        if due {
            *at = Some(Instant::now());
        }
        Ok(due)
    }
}

/// Runs `step` (which returns how many records it published) until
/// `shutdown`. `idle` is the poll when nothing waits: a wake-up sent while a
/// step runs is not lost for longer than that. `progressing` is false from a
/// failed step to the next good one (health: NOT_SERVING meanwhile).
pub async fn relay_loop<F, Fut, E>(
    what: &'static str,
    idle: Duration,
    wake: Arc<Notify>,
    progressing: &watch::Sender<bool>,
    shutdown: &CancellationToken,
    mut step: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<usize, E>>,
    E: Display,
{
    let mut backoff = FIRST_BACKOFF;
    loop {
        let stepped = step().await;
        progressing.send_if_modified(|p| std::mem::replace(p, stepped.is_ok()) != stepped.is_ok());
        let wait = match stepped {
            Ok(n) if n > 0 => {
                backoff = FIRST_BACKOFF;
                continue;
            }
            Ok(_) => {
                backoff = FIRST_BACKOFF;
                idle
            }
            Err(e) => {
                error!(relay = what, error = %e, retry_in_ms = backoff.as_millis() as u64, "relay failed");
                let wait = backoff;
                backoff = (backoff * 2).min(Duration::from_secs(10));
                wait
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn progress_is_false_from_a_failure_to_the_next_good_step() {
        let (progressing, seen) = watch::channel(true);
        let shutdown = CancellationToken::new();
        let steps = std::sync::Mutex::new(vec![Ok(0), Ok(3), Err("down"), Err("down"), Ok(1)]);
        let (tx, mut states) = tokio::sync::mpsc::unbounded_channel();
        let stop = shutdown.clone();
        relay_loop(
            "test",
            Duration::from_millis(10),
            Arc::default(),
            &progressing,
            &shutdown,
            || {
                let next = steps.lock().map(|mut s| s.pop()).ok().flatten();
                let _ = tx.send(*seen.borrow());
                if next.is_none() {
                    stop.cancel();
                }
                std::future::ready(next.unwrap_or(Ok(0)))
            },
        )
        .await;
        let mut before_each = Vec::new();
        while let Ok(s) = states.try_recv() {
            before_each.push(s);
        }
        // Steps run last-to-first: Ok(1), two failures, Ok(3), Ok(0), then none left.
        assert_eq!(before_each, [true, true, false, false, true, true]);
        assert!(*progressing.borrow());
    }
}

#[cfg(test)]
mod reader_tests {
    use std::time::Duration;

    use portrait_bus::{Bus, BusConfig, Message};
    use portrait_store::Store;
    use sqlx::Row;

    use super::{Outbox, OutboxReader};

    const BOX: Outbox = Outbox {
        select: "SELECT id, k FROM box WHERE id > $1 ORDER BY id LIMIT $2",
        delete: "DELETE FROM box WHERE id > $1 AND id <= $2",
        counter: "box_published",
        pending: None,
    };

    /// The same table with a count of its waiting rows.
    const COUNTED: Outbox = Outbox {
        pending: Some("box_waiting"),
        ..BOX
    };

    struct Setup {
        _dir: tempfile::TempDir,
        store: Store,
        bus: Bus,
    }

    async fn setup() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("s.db").display());
        let store = Store::connect(&url).await.unwrap();
        store
            .migrate("consumer", portrait_store::CONSUMER_MIGRATIONS)
            .await
            .unwrap();
        sqlx::query("CREATE TABLE box (id INTEGER PRIMARY KEY, k TEXT NOT NULL)")
            .execute(store.pool())
            .await
            .unwrap();
        let path = dir.path().join("log");
        let bus = Bus::connect(&BusConfig::Embedded { path }).await.unwrap();
        bus.ensure_topic("t").await.unwrap();
        Setup {
            _dir: dir,
            store,
            bus,
        }
    }

    impl Setup {
        /// Adds a row (and counts it as waiting, as ingest does).
        async fn put(&self, id: i64) {
            sqlx::query("INSERT INTO box (id, k) VALUES ($1, $2)")
                .bind(id)
                .bind(format!("k{id}"))
                .execute(self.store.pool())
                .await
                .unwrap();
            let mut conn = self.store.acquire().await.unwrap();
            portrait_store::add_counters(&mut conn, &[("box_waiting", 1)])
                .await
                .unwrap();
        }

        async fn publish(&self, reader: &OutboxReader) -> usize {
            let message = |r: &sqlx::any::AnyRow| {
                Ok(Message {
                    key: r.try_get(1)?,
                    payload: Vec::new(),
                    headers: Vec::new(),
                })
            };
            (reader.publish(&self.store, &self.bus, "t", message).await).unwrap()
        }

        /// Every key published, in order.
        async fn published(&self, n: usize) -> Vec<String> {
            let mut consumer = self.bus.consumer("t", &[]).await.unwrap();
            let mut keys = Vec::new();
            while keys.len() < n {
                let batch = (consumer.next_batch(10, Duration::from_millis(200)).await).unwrap();
                assert!(!batch.is_empty(), "published so far: {keys:?}");
                keys.extend(batch.into_iter().map(|r| r.key));
            }
            keys
        }

        async fn rows(&self) -> i64 {
            (sqlx::query("SELECT COUNT(*) FROM box")
                .fetch_one(self.store.pool())
                .await)
                .unwrap()
                .get(0)
        }
    }

    /// Seeks past what it published, and starts over after an empty read (at
    /// most once a second), so a table refilled below the last position is
    /// still published.
    #[tokio::test]
    async fn the_reader_publishes_every_row_once_and_finds_rows_below_its_position() {
        let box_ = setup().await;
        let reader = OutboxReader::new(&BOX, 2, Duration::ZERO);
        for id in 1..=3 {
            box_.put(id).await;
        }
        assert_eq!(box_.publish(&reader).await, 2);
        assert_eq!(box_.publish(&reader).await, 1);
        box_.put(4).await;
        assert_eq!(box_.publish(&reader).await, 1);
        // Below the position: the seek misses it once, then the reader starts over.
        box_.put(2).await;
        assert_eq!(box_.publish(&reader).await, 0);
        assert_eq!(box_.publish(&reader).await, 1);
        // Found nothing again: it starts over only once a second has passed.
        box_.put(1).await;
        assert_eq!(box_.publish(&reader).await, 0);
        assert_eq!(box_.publish(&reader).await, 0);
        tokio::time::sleep(super::START_OVER_EVERY).await;
        assert_eq!(box_.publish(&reader).await, 0);
        assert_eq!(box_.publish(&reader).await, 1);
        assert_eq!(box_.rows().await, 0);
        let keys = box_.published(6).await;
        assert_eq!(keys, ["k1", "k2", "k3", "k4", "k2", "k1"]);
    }

    /// With a count of waiting rows, the reader starts over as soon as the
    /// count says rows wait below its position, and keeps the count.
    #[tokio::test]
    async fn a_counted_outbox_starts_over_when_its_count_says_rows_wait() {
        let box_ = setup().await;
        let reader = OutboxReader::new(&COUNTED, 10, Duration::ZERO);
        box_.put(5).await;
        assert_eq!(box_.publish(&reader).await, 1);
        box_.put(3).await;
        assert_eq!(box_.publish(&reader).await, 0);
        assert_eq!(box_.publish(&reader).await, 1);
        box_.put(1).await;
        assert_eq!(box_.publish(&reader).await, 0);
        assert_eq!(box_.publish(&reader).await, 1);
        // Nothing waits: no start over, however often it finds nothing.
        assert_eq!(box_.publish(&reader).await, 0);
        let mut conn = box_.store.acquire().await.unwrap();
        let counters = portrait_store::load_counters(&mut conn).await.unwrap();
        assert_eq!(counters.get("box_waiting"), Some(&0));
        assert_eq!(counters.get("box_published"), Some(&3));
        assert_eq!(box_.published(3).await, ["k5", "k3", "k1"]);
    }
}
