-- Segment transitions consumed from segments.v1 (followed_* tables follow
-- another log than orders.v1, so `portrait rebuild` keeps them), counted per day (the
-- events' as_of_date) and (from, to) segment, 0 = none.
CREATE TABLE followed_segment_flows (
    day BIGINT NOT NULL,
    from_segment BIGINT NOT NULL,
    to_segment BIGINT NOT NULL,
    customers BIGINT NOT NULL,
    PRIMARY KEY (day, from_segment, to_segment)
);
-- The highest sequence number applied per partition of segments.v1: a
-- re-sent record carries its old number and is dropped.
CREATE TABLE followed_segment_sequences (
    part BIGINT PRIMARY KEY,
    last_sequence BIGINT NOT NULL
);
