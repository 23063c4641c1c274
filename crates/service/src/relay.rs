//! The loop every outbox relay runs: publish what is waiting, again at once
//! while there is more, otherwise wait for a wake-up or a poll; failures back
//! off up to 10 s. Each relay keeps its own step (what it reads, how it
//! publishes, what it deletes).

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tracing::error;

const FIRST_BACKOFF: Duration = Duration::from_millis(100);

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
