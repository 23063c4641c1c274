-- The publication an event belongs to, fixed when it is queued: `portrait
-- rebuild` starts a new one, and a rebuilt consumer skips older events.
ALTER TABLE outbox ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0;
