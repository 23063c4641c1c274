-- The same rows keyed day first. Orders arrive in time order, so a batch's
-- new rows land together at the end of the tree instead of on a page per
-- customer: that random placement bounded the consumers' write rate at scale.
-- `{clustered}` makes SQLite keep the rows in the key's tree itself.
CREATE TABLE customer_days_by_day (
    day BIGINT NOT NULL,
    store_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    orders BIGINT NOT NULL,
    revenue BIGINT NOT NULL,
    PRIMARY KEY (day, store_id, customer_id)
){clustered};

INSERT INTO customer_days_by_day (day, store_id, customer_id, orders, revenue)
SELECT day, store_id, customer_id, orders, revenue FROM customer_days;

DROP TABLE customer_days;

ALTER TABLE customer_days_by_day RENAME TO customer_days;
