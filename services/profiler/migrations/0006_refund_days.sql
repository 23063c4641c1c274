-- The refund rate's counts per store and local day of placing: paid orders
-- that count, and orders whose latest version is refunded. Day first like
-- every day-grain table.
CREATE TABLE refund_days (
    day BIGINT NOT NULL,
    store_id TEXT NOT NULL,
    paid BIGINT NOT NULL,
    refunded BIGINT NOT NULL,
    PRIMARY KEY (day, store_id)
){clustered};
