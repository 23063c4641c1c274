-- The customer portrait's rows. Every table is keyed day first like the other
-- day-grain tables, so a batch appends at the right edge of each tree; a
-- customer's rows are found through the (day, store) rows the serving state
-- holds for them, one key prefix each, never by scanning.

-- One row per order version of a known customer: 1 while it counts, 0 once
-- retracted or changed (its hour or channel moved it to another row).
CREATE TABLE customer_orders (
    day BIGINT NOT NULL,
    store_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    order_id TEXT NOT NULL,
    hour BIGINT NOT NULL,
    channel BIGINT NOT NULL,
    orders BIGINT NOT NULL,
    revenue BIGINT NOT NULL,
    PRIMARY KEY (day, store_id, customer_id, order_id, hour, channel)
){clustered};

-- Per customer, day, store and product: the orders that contained it, units
-- and net line revenue.
CREATE TABLE customer_products (
    day BIGINT NOT NULL,
    store_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    product_id TEXT NOT NULL,
    orders BIGINT NOT NULL,
    quantity BIGINT NOT NULL,
    revenue BIGINT NOT NULL,
    PRIMARY KEY (day, store_id, customer_id, product_id)
){clustered};

-- The same per category, as each line named it when the order was placed.
CREATE TABLE customer_categories (
    day BIGINT NOT NULL,
    store_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    category_id TEXT NOT NULL,
    orders BIGINT NOT NULL,
    quantity BIGINT NOT NULL,
    revenue BIGINT NOT NULL,
    PRIMARY KEY (day, store_id, customer_id, category_id)
){clustered};
