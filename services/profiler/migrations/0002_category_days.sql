-- Units and net line revenue per store, day and category, as each line named
-- its category when the order was placed.
CREATE TABLE category_days (
    store_id TEXT NOT NULL,
    day BIGINT NOT NULL,
    category_id TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    revenue BIGINT NOT NULL,
    PRIMARY KEY (store_id, day, category_id)
);

-- Latest name of every category seen.
CREATE TABLE categories (
    category_id TEXT PRIMARY KEY,
    name TEXT NOT NULL
);
