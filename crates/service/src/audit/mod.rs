//! The audit log every service with a store keeps (docs/architecture.md §11
//! "Audit"): the auth layer hands it the refusals at the service's port and
//! the admin actions it serves. An admin action is written before it runs
//! (not written, not done); refusals go through a queue one task appends to
//! the store in batches, so a flood of them never waits on the database. A
//! burst beyond the queue is counted, logged, and dropped.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use portrait_proto::v1::audit_admin_server::{AuditAdmin, AuditAdminServer};
use portrait_proto::v1::{AuditEvent, ListAuditEventsResponse, ListServiceAuditEventsRequest};
use portrait_store::Store;
use tokio::sync::mpsc;
use tonic::{Request, Response, Status};

use crate::AuditSink;

mod table;

const QUEUE: usize = 10_000;
const BATCH: usize = 500;

/// The most events one `ListServiceAuditEvents` answers: a gateway page
/// (1,000) and one more, to know whether more follow.
pub const MAX_SOURCE_PAGE: i32 = 1001;

pub struct AuditLog {
    /// The service whose port the events reached; every event read names it.
    service: &'static str,
    tx: mpsc::Sender<AuditEvent>,
    dropped: AtomicI64,
    /// Admin actions are written here at once, before they run.
    store: Store,
}

impl AuditLog {
    /// The log of `service` in `store` (which has the `audit_events` table),
    /// and its writer, which ends when every sender is gone.
    pub fn start(service: &'static str, store: Store) -> Arc<Self> {
        let (tx, mut rx) = mpsc::channel::<AuditEvent>(QUEUE);
        let writer = store.clone();
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while rx.recv_many(&mut batch, BATCH).await > 0 {
                if let Err(e) = table::append(&writer, &batch).await {
                    tracing::error!(service, error = %e, events = batch.len(), "failed to append to the audit log");
                }
                batch.clear();
            }
        });
        Arc::new(Self {
            service,
            tx,
            dropped: AtomicI64::new(0),
            store,
        })
    }

    pub fn service(&self) -> &'static str {
        self.service
    }

    /// Events refused a place in the queue since start.
    pub fn dropped(&self) -> i64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Newest first: ids below `before` (0 = from the newest), at most
    /// `limit`, each naming this service.
    pub async fn read(&self, before: i64, limit: i64) -> crate::Result<Vec<AuditEvent>> {
        let mut events = table::list(&self.store, before, limit).await?;
        for e in &mut events {
            e.service = self.service.to_owned();
        }
        Ok(events)
    }

    /// The internal rpc the gateway reads this log through.
    pub fn server(self: &Arc<Self>) -> AuditAdminServer<AuditReader> {
        AuditAdminServer::new(AuditReader::new(self.clone()))
    }
}

impl AuditSink for AuditLog {
    fn record_now(
        &self,
        mut event: AuditEvent,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
        event.service = self.service.to_owned();
        Box::pin(async move {
            table::append(&self.store, &[event])
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn record(&self, event: AuditEvent) {
        if self.tx.try_send(event).is_err() {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped.unsigned_abs().is_power_of_two() {
                tracing::warn!(
                    service = self.service,
                    dropped,
                    "audit log queue full: events dropped"
                );
            }
        }
    }
}

/// `AuditAdmin` on a service's port.
pub struct AuditReader(Arc<AuditLog>);

impl AuditReader {
    pub fn new(log: Arc<AuditLog>) -> Self {
        Self(log)
    }
}

#[tonic::async_trait]
impl AuditAdmin for AuditReader {
    async fn list_service_audit_events(
        &self,
        r: Request<ListServiceAuditEventsRequest>,
    ) -> Result<Response<ListAuditEventsResponse>, Status> {
        let r = r.into_inner();
        if !(1..=MAX_SOURCE_PAGE).contains(&r.page_size) {
            let reason = format!("must be 1-{MAX_SOURCE_PAGE}");
            return Err(crate::http_error::invalid("page_size", &reason));
        }
        if r.before_id < 0 {
            return Err(crate::http_error::invalid("before_id", "must be 0 or more"));
        }
        let events = self
            .0
            .read(r.before_id, i64::from(r.page_size))
            .await
            .map_err(Status::from)?;
        Ok(Response::new(ListAuditEventsResponse {
            events,
            next_page_token: String::new(),
            dropped: self.0.dropped(),
            missing_sources: Vec::new(),
        }))
    }
}
