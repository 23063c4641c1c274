//! The gateway's audit log: the auth layer and the JSON routes hand it
//! refused requests and admin actions. An admin action is written before it
//! runs (not written, not done); refusals go through a queue one task appends
//! to sync's store in batches, so a flood of them never waits on the database.
//! A burst beyond the queue is counted, logged, and dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use portrait_proto::v1::{AuditEvent, ListAuditEventsRequest, ListAuditEventsResponse};
use portrait_service::AuditSink;
use portrait_store::Store;
use tokio::sync::mpsc;
use tonic::Status;

const QUEUE: usize = 10_000;
const BATCH: usize = 500;

pub(crate) struct AuditLog {
    tx: mpsc::Sender<AuditEvent>,
    dropped: AtomicI64,
    /// Admin actions are written here at once, before they run.
    store: Store,
}

impl AuditLog {
    /// The log and its writer, which ends when every sender is gone.
    pub(crate) fn start(store: Store) -> Arc<Self> {
        let (tx, mut rx) = mpsc::channel::<AuditEvent>(QUEUE);
        let writer = store.clone();
        tokio::spawn(async move {
            let store = writer;
            let mut batch = Vec::with_capacity(BATCH);
            while rx.recv_many(&mut batch, BATCH).await > 0 {
                if let Err(e) = portrait_sync::audit::append(&store, &batch).await {
                    tracing::error!(error = %e, events = batch.len(), "failed to append to the audit log");
                }
                batch.clear();
            }
        });
        Arc::new(Self {
            tx,
            dropped: AtomicI64::new(0),
            store,
        })
    }

    pub(crate) async fn list(
        &self,
        store: &Store,
        r: ListAuditEventsRequest,
    ) -> Result<ListAuditEventsResponse, Status> {
        let size = match r.page_size {
            0 => 100,
            n @ 1..=1000 => i64::from(n),
            _ => {
                return Err(portrait_service::http_error::invalid(
                    "page_size",
                    "must be 0-1000",
                ));
            }
        };
        let before = if r.page_token.is_empty() {
            0
        } else {
            r.page_token
                .parse::<i64>()
                .ok()
                .filter(|id| *id > 0)
                .ok_or_else(|| {
                    portrait_service::http_error::invalid("page_token", "not a token we gave")
                })?
        };
        let events = portrait_sync::audit::list(store, before, size + 1)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "failed to read the audit log");
                Status::unavailable("the audit log is unreadable")
            })?;
        let more = events.len() as i64 > size;
        let events: Vec<AuditEvent> = events.into_iter().take(size as usize).collect();
        let next_page_token = match (more, events.last()) {
            (true, Some(last)) => last.id.to_string(),
            _ => String::new(),
        };
        Ok(ListAuditEventsResponse {
            events,
            next_page_token,
            dropped: self.dropped.load(Ordering::Relaxed),
        })
    }
}

impl AuditSink for AuditLog {
    fn record_now(
        &self,
        event: AuditEvent,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + '_>> {
        Box::pin(async move {
            portrait_sync::audit::append(&self.store, &[event])
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn record(&self, event: AuditEvent) {
        if self.tx.try_send(event).is_err() {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped.unsigned_abs().is_power_of_two() {
                tracing::warn!(dropped, "audit log queue full: events dropped");
            }
        }
    }
}
