-- Product associations over baskets (orders with at least one line), per
-- store over all history: a few hundred rows a store, so not keyed by day
-- (docs/architecture.md §3, "Associations"). A product counts once per
-- basket; a pair is stored once, product_a < product_b in byte order.
-- Counts retracted to zero stay as zero rows and are skipped by the load.

CREATE TABLE baskets (
    store_id TEXT NOT NULL,
    baskets BIGINT NOT NULL,
    PRIMARY KEY (store_id)
){clustered};

CREATE TABLE basket_products (
    store_id TEXT NOT NULL,
    product_id TEXT NOT NULL,
    baskets BIGINT NOT NULL,
    PRIMARY KEY (store_id, product_id)
){clustered};

CREATE TABLE basket_pairs (
    store_id TEXT NOT NULL,
    product_a TEXT NOT NULL,
    product_b TEXT NOT NULL,
    baskets BIGINT NOT NULL,
    PRIMARY KEY (store_id, product_a, product_b)
){clustered};
