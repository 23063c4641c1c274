-- Suggestions a marketer adopted or dismissed. Not a projection of the log:
-- a rebuild keeps these tables (Projection::kept_tables).
CREATE TABLE suggestion_adoptions (
    suggestion_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    -- 0 = dismissed without adoption.
    adopted_at_ms BIGINT NOT NULL,
    adopted_day BIGINT NOT NULL,
    window_days BIGINT NOT NULL,
    control_percent BIGINT NOT NULL,
    expected_reached BIGINT NOT NULL,
    expected_responders DOUBLE PRECISION NOT NULL,
    expected_extra_orders DOUBLE PRECISION NOT NULL,
    expected_extra_revenue_fen BIGINT NOT NULL,
    expected_response_rate DOUBLE PRECISION NOT NULL,
    -- 0 = not dismissed.
    dismissed_at_ms BIGINT NOT NULL
);
-- The audience frozen at adoption, each member in the control group (1) or
-- the treated group (0).
CREATE TABLE suggestion_members (
    suggestion_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    control BIGINT NOT NULL,
    PRIMARY KEY (suggestion_id, customer_id)
);
