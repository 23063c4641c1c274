-- Orders and net spend per customer, store and local day: the base of every
-- distinct-customer figure and of RFM. Rows are sums, so retraction subtracts.
CREATE TABLE customer_days (
    customer_id TEXT NOT NULL,
    store_id TEXT NOT NULL,
    day BIGINT NOT NULL,
    orders BIGINT NOT NULL,
    revenue BIGINT NOT NULL,
    PRIMARY KEY (customer_id, store_id, day)
);
