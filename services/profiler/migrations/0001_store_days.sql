-- Orders and net revenue per store, local day and local hour: every order,
-- anonymous ones included. The overview's orders and revenue sum these.
CREATE TABLE hours (
    store_id TEXT NOT NULL,
    day BIGINT NOT NULL,
    hour BIGINT NOT NULL,
    orders BIGINT NOT NULL,
    revenue BIGINT NOT NULL,
    PRIMARY KEY (store_id, day, hour)
);

-- The same per channel number of portrait.v1.Channel.
CREATE TABLE channels (
    store_id TEXT NOT NULL,
    day BIGINT NOT NULL,
    channel BIGINT NOT NULL,
    orders BIGINT NOT NULL,
    revenue BIGINT NOT NULL,
    PRIMARY KEY (store_id, day, channel)
);

-- Units and net line revenue per store, day and product.
CREATE TABLE product_days (
    store_id TEXT NOT NULL,
    day BIGINT NOT NULL,
    product_id TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    revenue BIGINT NOT NULL,
    PRIMARY KEY (store_id, day, product_id)
);

-- Latest names of every product seen.
CREATE TABLE products (
    product_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    category_id TEXT NOT NULL,
    category_name TEXT NOT NULL
);
