-- Where the consumer is in each partition, committed with the batch it ends.
CREATE TABLE positions (
    topic TEXT NOT NULL,
    part BIGINT NOT NULL,
    next_offset BIGINT NOT NULL,
    PRIMARY KEY (topic, part)
);
