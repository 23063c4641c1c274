-- A service's own audit log (docs/architecture.md §11 "Audit"): the refusals at its port and
-- the admin actions it serves itself. The same shape as the gateway's (sync's 0008).
CREATE TABLE audit_events (id {serial}, at_ms BIGINT NOT NULL, subject TEXT NOT NULL, role TEXT NOT NULL, rpc TEXT NOT NULL, outcome TEXT NOT NULL, reason TEXT NOT NULL, peer TEXT NOT NULL);
