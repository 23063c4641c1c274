CREATE TABLE sync_orders (order_id BIGINT PRIMARY KEY, placed_at_ms BIGINT NOT NULL, live BIGINT NOT NULL, pending BIGINT NOT NULL, payload {blob} NOT NULL)
