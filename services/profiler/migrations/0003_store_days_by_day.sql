-- The store-day tables keyed day first, like customer_days: a batch's rows
-- then fall on a few pages at the end of each tree. `{clustered}` keeps the
-- rows in the key's tree on SQLite.

CREATE TABLE hours_by_day (
    day BIGINT NOT NULL,
    store_id TEXT NOT NULL,
    hour BIGINT NOT NULL,
    orders BIGINT NOT NULL,
    revenue BIGINT NOT NULL,
    PRIMARY KEY (day, store_id, hour)
){clustered};

INSERT INTO hours_by_day (day, store_id, hour, orders, revenue)
SELECT day, store_id, hour, orders, revenue FROM hours;

DROP TABLE hours;

ALTER TABLE hours_by_day RENAME TO hours;

CREATE TABLE channels_by_day (
    day BIGINT NOT NULL,
    store_id TEXT NOT NULL,
    channel BIGINT NOT NULL,
    orders BIGINT NOT NULL,
    revenue BIGINT NOT NULL,
    PRIMARY KEY (day, store_id, channel)
){clustered};

INSERT INTO channels_by_day (day, store_id, channel, orders, revenue)
SELECT day, store_id, channel, orders, revenue FROM channels;

DROP TABLE channels;

ALTER TABLE channels_by_day RENAME TO channels;

CREATE TABLE product_days_by_day (
    day BIGINT NOT NULL,
    store_id TEXT NOT NULL,
    product_id TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    revenue BIGINT NOT NULL,
    PRIMARY KEY (day, store_id, product_id)
){clustered};

INSERT INTO product_days_by_day (day, store_id, product_id, quantity, revenue)
SELECT day, store_id, product_id, quantity, revenue FROM product_days;

DROP TABLE product_days;

ALTER TABLE product_days_by_day RENAME TO product_days;

CREATE TABLE category_days_by_day (
    day BIGINT NOT NULL,
    store_id TEXT NOT NULL,
    category_id TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    revenue BIGINT NOT NULL,
    PRIMARY KEY (day, store_id, category_id)
){clustered};

INSERT INTO category_days_by_day (day, store_id, category_id, quantity, revenue)
SELECT day, store_id, category_id, quantity, revenue FROM category_days;

DROP TABLE category_days;

ALTER TABLE category_days_by_day RENAME TO category_days;
