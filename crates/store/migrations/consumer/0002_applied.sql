-- Revisions applied per order: every revision up to `through`, plus the
-- listed ones above it (comma-separated) that arrived early. Revisions are
-- contiguous per order, so an order almost always needs just `through`.
CREATE TABLE applied (
    order_id TEXT PRIMARY KEY,
    through BIGINT NOT NULL,
    above TEXT NOT NULL
);
