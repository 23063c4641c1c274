-- Latest name and city of every store seen; the city filter reads it.
CREATE TABLE stores (
    store_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    city TEXT NOT NULL
);
