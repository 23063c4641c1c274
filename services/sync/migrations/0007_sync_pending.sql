-- Pending marks move to a table of ids: marking and clearing them no longer rewrites the orders' payloads.
CREATE TABLE sync_pending (order_id BIGINT PRIMARY KEY);
INSERT INTO sync_pending (order_id) SELECT order_id FROM sync_orders WHERE pending = 1;
UPDATE sync_orders SET pending = 0 WHERE pending = 1;
