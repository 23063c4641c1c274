-- What segments.v1 last said about each customer (segment 0 = none): the
-- next recompute is compared with it. Tables named published_* record what
-- was published, not the orders, so `portrait rebuild` keeps them.
CREATE TABLE published_segments (
    customer_id TEXT PRIMARY KEY,
    segment BIGINT NOT NULL,
    recency_days BIGINT NOT NULL,
    frequency BIGINT NOT NULL,
    monetary_fen BIGINT NOT NULL,
    scores BIGINT NOT NULL
);
-- Transitions committed with the assignment they lead to; the relay sends
-- them in sequence order and deletes what the log acknowledged. The payload
-- is the event's canonical JSON.
CREATE TABLE published_segment_outbox (
    seq BIGINT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    payload TEXT NOT NULL
);
-- The last sequence number handed out.
CREATE TABLE published_segment_state (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
