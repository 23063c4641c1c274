//! The loop every outbox relay runs: publish what is waiting, again at once
//! while there is more, otherwise wait for a wake-up or a poll; failures back
//! off up to 10 s. Each relay keeps its own step (what it reads, how it
//! publishes, what it deletes).

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::error;

const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// Runs `step` (which returns how many records it published) until
/// `shutdown`. `idle` is the poll when nothing waits: a wake-up sent while a
/// step runs is not lost for longer than that.
pub async fn relay_loop<F, Fut, E>(
    what: &'static str,
    idle: Duration,
    wake: Arc<Notify>,
    shutdown: &CancellationToken,
    mut step: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<usize, E>>,
    E: Display,
{
    let mut backoff = FIRST_BACKOFF;
    loop {
        let wait = match step().await {
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
