use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio_util::sync::CancellationToken;

/// A token cancelled on the first SIGINT/SIGTERM; a second signal exits at once.
///
/// The second signal is handled by a plain signal handler, not by a task: a
/// process whose runtime is stuck (every worker blocked, or the runtime
/// already dropping and waiting for a blocking task) still obeys it.
pub fn shutdown_token() -> CancellationToken {
    let armed = Arc::new(AtomicBool::new(false));
    // Registered before tokio's own handlers: on the second signal it must run first.
    #[cfg(unix)]
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register_conditional_shutdown(sig, 130, armed.clone()) {
            tracing::warn!(signal = sig, error = %e, "a second signal will not force an exit");
        }
    }
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        signal().await;
        armed.store(true, Ordering::SeqCst);
        tracing::info!("shutdown requested, finishing in-flight work; a second signal exits now");
        cancel.cancel();
    });
    token
}

async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
