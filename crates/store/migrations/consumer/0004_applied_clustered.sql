-- One tree instead of two on SQLite (a rowid table plus the key's index):
-- every batch reads and writes a row per order here.
CREATE TABLE applied_clustered (
    order_id TEXT PRIMARY KEY,
    through BIGINT NOT NULL,
    above TEXT NOT NULL
){clustered};

INSERT INTO applied_clustered (order_id, through, above)
SELECT order_id, through, above FROM applied;

DROP TABLE applied;

ALTER TABLE applied_clustered RENAME TO applied;
