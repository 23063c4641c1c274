CREATE INDEX sync_orders_placed ON sync_orders (placed_at_ms)
