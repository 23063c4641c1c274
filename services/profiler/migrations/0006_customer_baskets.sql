-- Associations over customers: per (day, store, customer, product) the orders
-- that contained the product. Day first like every day-grain table, so a
-- batch appends at the right edge; the serving state sums the days into each
-- customer's set of (store, product).
CREATE TABLE customer_baskets (
    day BIGINT NOT NULL,
    store_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    product_id TEXT NOT NULL,
    orders BIGINT NOT NULL,
    PRIMARY KEY (day, store_id, customer_id, product_id)
){clustered};
