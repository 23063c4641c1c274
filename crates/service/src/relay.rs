//! What every outbox relay runs: the loop (publish what is waiting, again at
//! once while there is more, otherwise wait for a wake-up or a poll; failures
//! back off up to 10 s) and the step (read rows in order, publish them, delete
//! and count them). Each relay says only how a row becomes a record.

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

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
    /// Selects at most `$1` rows in publishing order; column 0 is the row's
    /// position (an id or a sequence number).
    pub select: &'static str,
    /// Deletes every row up to position `$1`.
    pub delete: &'static str,
    /// The counter of records published.
    pub counter: &'static str,
}

/// One relay step: publishes up to `batch` rows of `outbox` to `topic`, then
/// deletes them and counts them in one transaction; returns how many. A crash
/// in between publishes them again, which consumers drop. `hold` waits
/// between publishing and deleting (a test opens that window with it).
pub async fn publish_outbox(
    store: &Store,
    bus: &Bus,
    topic: &str,
    outbox: &Outbox,
    batch: i64,
    hold: Duration,
    message: impl Fn(&AnyRow) -> Result<Message>,
) -> Result<usize> {
    let rows = sqlx::query(outbox.select)
        .bind(batch)
        .fetch_all(store.pool())
        .await?;
    let Some(last) = rows.last() else {
        return Ok(0);
    };
    let last: i64 = last.try_get(0)?;
    let messages = rows.iter().map(message).collect::<Result<Vec<_>>>()?;
    bus.publish(topic, &messages).await?;
    if !hold.is_zero() {
        tokio::time::sleep(hold).await;
    }
    let mut tx = store.begin().await?;
    sqlx::query(outbox.delete)
        .bind(last)
        .execute(&mut *tx)
        .await?;
    portrait_store::add_counters(&mut tx, &[(outbox.counter, messages.len() as i64)]).await?;
    tx.commit().await?;
    tracing::debug!(topic, records = messages.len(), "outbox published");
    Ok(messages.len())
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
