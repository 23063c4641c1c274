//! The audit log's table for a service that has none yet (the gateway's
//! comes from sync's own migrations, `0008_audit_events`, in the same shape).
//! Its rows are written and read by `portrait_service::AuditLog`.

use crate::{Migration, migrations};

pub const AUDIT_MIGRATIONS: &[Migration] = migrations!("migrations/audit", ["0001_audit_events"]);
