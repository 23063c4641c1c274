-- Events committed with the change they publish; the relay sends them in id
-- order and deletes what the log acknowledged.
CREATE TABLE outbox (
    id {serial},
    msg_key TEXT NOT NULL,
    payload {blob} NOT NULL,
    traceparent TEXT NOT NULL
);
