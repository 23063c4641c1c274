-- Segment transitions consumed from segments.v1, counted per day (the
-- events' as_of_date) and (from, to) segment, 0 = none. followed_* tables
-- follow another log than orders.v1, so `portrait rebuild` keeps them.
CREATE TABLE followed_segment_flows (
    day BIGINT NOT NULL,
    from_segment BIGINT NOT NULL,
    to_segment BIGINT NOT NULL,
    customers BIGINT NOT NULL,
    PRIMARY KEY (day, from_segment, to_segment)
);
-- Per partition of segments.v1: the next offset to read and the highest
-- sequence number applied (a re-sent record carries its old number and is
-- dropped).
CREATE TABLE followed_segment_sequences (
    part BIGINT PRIMARY KEY,
    next_offset BIGINT NOT NULL,
    last_sequence BIGINT NOT NULL
);
-- Transitions applied and re-sends dropped since the start.
CREATE TABLE followed_segment_counters (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
