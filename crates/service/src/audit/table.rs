//! The audit log's table, kept by every service with a store: each store is
//! one service's, so the table does not name the service; its reader does.

use portrait_proto::v1::AuditEvent;
use portrait_store::Store;
use sqlx::Row;

use crate::Result;

/// Appends `events` in one transaction.
pub(super) async fn append(store: &Store, events: &[AuditEvent]) -> Result<()> {
    let mut tx = store.begin().await?;
    for e in events {
        sqlx::query(
            "INSERT INTO audit_events (at_ms, subject, role, rpc, outcome, reason, peer) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(e.at_ms)
        .bind(&e.subject)
        .bind(&e.role)
        .bind(&e.rpc)
        .bind(&e.outcome)
        .bind(&e.reason)
        .bind(&e.peer)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Newest first, ids below `before` (0 = from the newest), at most `limit`.
pub(super) async fn list(store: &Store, before: i64, limit: i64) -> Result<Vec<AuditEvent>> {
    let before = if before <= 0 { i64::MAX } else { before };
    let rows = sqlx::query(
        "SELECT id, at_ms, subject, role, rpc, outcome, reason, peer FROM audit_events \
         WHERE id < $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(before)
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(AuditEvent {
                id: r.try_get("id")?,
                at_ms: r.try_get("at_ms")?,
                subject: r.try_get("subject")?,
                role: r.try_get("role")?,
                rpc: r.try_get("rpc")?,
                outcome: r.try_get("outcome")?,
                reason: r.try_get("reason")?,
                peer: r.try_get("peer")?,
                ..AuditEvent::default()
            })
        })
        .collect()
}
