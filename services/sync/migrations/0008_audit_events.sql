-- The gateway's audit log (docs/architecture.md §11): refused requests and admin actions.
CREATE TABLE audit_events (id {serial}, at_ms BIGINT NOT NULL, subject TEXT NOT NULL, role TEXT NOT NULL, rpc TEXT NOT NULL, outcome TEXT NOT NULL, reason TEXT NOT NULL, peer TEXT NOT NULL)
