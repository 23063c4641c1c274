-- How many events wait in the outbox, kept in the transactions that add and
-- delete them, so the status (asked every second while a gateway waits to be
-- caught up) reads one row instead of counting a backlog that reaches
-- hundreds of thousands of rows while a bulk load outruns the relay.
INSERT INTO counters (name, value) SELECT 'outbox_pending', COUNT(*) FROM outbox;
