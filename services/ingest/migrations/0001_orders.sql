-- The latest accepted version of every order, with the revision of its last
-- published event and whether it currently counts.
CREATE TABLE orders (
    order_id TEXT PRIMARY KEY,
    revision BIGINT NOT NULL,
    live BIGINT NOT NULL,
    payload {blob} NOT NULL
);
