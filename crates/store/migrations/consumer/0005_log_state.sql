-- Which publication of the log this consumer follows (`epoch`, moved by
-- `portrait rebuild`) and the condition that stopped it, if any: kept so a
-- restart cannot forget that the log went backwards.
CREATE TABLE log_state (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL,
    note TEXT NOT NULL
);
