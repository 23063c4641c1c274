//! `ListAuditEvents`: the gateway's own audit log (in sync's store, written
//! by the shared `portrait_service::AuditLog`) merged with every other
//! service's, read through their `AuditAdmin` (page.rs has the token).

mod page;

use std::sync::Arc;
use std::time::Duration;

use portrait_proto::v1::audit_admin_client::AuditAdminClient;
use portrait_proto::v1::{
    ListAuditEventsRequest, ListAuditEventsResponse, ListServiceAuditEventsRequest,
};
use portrait_service::{AuditLog, PeerChannel};
use tonic::Status;

use page::{Cursor, Read, SOURCES};

/// How long a page waits for another service's log: a source that is down or
/// stuck is named as missing rather than holding the listing up.
const SOURCE_DEADLINE: Duration = Duration::from_secs(2);

pub(crate) struct AuditSources {
    /// The gateway's own log, which its auth layer and routes write.
    pub(crate) own: Arc<AuditLog>,
    /// ingest, profiler, rfm, suggest: `SOURCES[1..]`.
    remote: [AuditAdminClient<PeerChannel>; 4],
}

impl AuditSources {
    pub(crate) fn new(own: Arc<AuditLog>, remote: [PeerChannel; 4]) -> Self {
        Self {
            own,
            remote: remote.map(AuditAdminClient::new),
        }
    }

    pub(crate) async fn list(
        &self,
        r: ListAuditEventsRequest,
    ) -> Result<ListAuditEventsResponse, Status> {
        let size = match r.page_size {
            0 => 100,
            n @ 1..=1000 => n,
            _ => {
                return Err(portrait_service::http_error::invalid(
                    "page_size",
                    "must be 0-1000",
                ));
            }
        };
        let cursors = page::parse_token(&r.page_token)?;
        let mut tasks = tokio::task::JoinSet::new();
        let mut reads_spawned = [false; 5];
        for (i, client) in self.remote.iter().enumerate() {
            let Cursor::Below(before) = cursors[i + 1] else {
                continue;
            };
            // Until it answers: a task that fails leaves it missing.
            reads_spawned[i + 1] = true;
            let mut client = client.clone();
            tasks.spawn(async move {
                let mut request = tonic::Request::new(ListServiceAuditEventsRequest {
                    before_id: before,
                    page_size: size + 1,
                });
                request.set_timeout(SOURCE_DEADLINE);
                let answer = tokio::time::timeout(
                    SOURCE_DEADLINE,
                    client.list_service_audit_events(request),
                )
                .await;
                (i + 1, answer)
            });
        }
        let mut reads: [Read; 5] = std::array::from_fn(|i| match reads_spawned[i] {
            true => Read::Missing,
            false => Read::Skipped,
        });
        let mut dropped = 0;
        if let Cursor::Below(before) = cursors[0] {
            let own =
                tokio::time::timeout(SOURCE_DEADLINE, self.own.read(before, i64::from(size) + 1))
                    .await;
            reads[0] = match own {
                Ok(Ok(events)) => Read::Events(events),
                Ok(Err(e)) => {
                    tracing::warn!(source = "gateway", error = %e, "failed to read the audit log");
                    Read::Missing
                }
                Err(_) => {
                    tracing::warn!(source = "gateway", "reading the audit log timed out");
                    Read::Missing
                }
            };
            dropped += self.own.dropped();
        }
        while let Some(done) = tasks.join_next().await {
            let Ok((i, answer)) = done else { continue };
            reads[i] = match answer {
                Ok(Ok(a)) => {
                    let mut a = a.into_inner();
                    dropped += a.dropped;
                    // Named by where the gateway asked, whatever the answer says.
                    for e in &mut a.events {
                        SOURCES[i].clone_into(&mut e.service);
                    }
                    Read::Events(a.events)
                }
                Ok(Err(status)) => {
                    tracing::warn!(source = SOURCES[i], code = ?status.code(), message = status.message(), "failed to read the audit log");
                    Read::Missing
                }
                Err(_) => {
                    tracing::warn!(source = SOURCES[i], "reading the audit log timed out");
                    Read::Missing
                }
            };
        }
        let (events, after, more) = page::merge(&cursors, &reads, size as usize);
        let missing_sources = reads
            .iter()
            .zip(SOURCES)
            .filter(|(read, _)| matches!(read, Read::Missing))
            .map(|(_, name)| name.to_owned())
            .collect();
        Ok(ListAuditEventsResponse {
            events,
            next_page_token: if more {
                page::token(&after)
            } else {
                String::new()
            },
            dropped,
            missing_sources,
        })
    }
}

#[cfg(test)]
mod tests;
