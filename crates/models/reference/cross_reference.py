#!/usr/bin/env python3
"""Cross-purchase figures by plain SQL (SQLite from Python's standard library).

    cross_reference.py --lines FILE.csv
        FILE.csv has a header and columns basket_id, product, category (one row per order
        line; an item may repeat within a basket). Prints JSON {"product": [...],
        "category": [...]} with, for each unordered pair a < b seen together, the counts and
        support, confidence both ways and lift, computed in SQL.
"""
import argparse
import csv
import json
import sqlite3
import sys

PAIRS = """
WITH b AS (SELECT DISTINCT basket_id, {col} AS item FROM lines),
     n AS (SELECT COUNT(DISTINCT basket_id) AS n FROM lines),
     ic AS (SELECT item, COUNT(*) AS c FROM b GROUP BY item)
SELECT x.item, y.item, COUNT(*) AS n_ab, ia.c, ib.c, n.n,
       CAST(COUNT(*) AS REAL) / n.n,
       CAST(COUNT(*) AS REAL) / ia.c,
       CAST(COUNT(*) AS REAL) / ib.c,
       CAST(COUNT(*) * n.n AS REAL) / (ia.c * ib.c)
FROM b x JOIN b y ON x.basket_id = y.basket_id AND x.item < y.item
     JOIN ic ia ON ia.item = x.item
     JOIN ic ib ON ib.item = y.item
     CROSS JOIN n
GROUP BY x.item, y.item
ORDER BY x.item, y.item
"""

KEYS = ["a", "b", "count", "count_a", "count_b", "baskets", "support",
        "confidence_ab", "confidence_ba", "lift"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", required=True)
    args = ap.parse_args()
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE lines (basket_id TEXT, product TEXT, category TEXT)")
    with open(args.lines, newline="") as f:
        rows = [(r["basket_id"], r["product"], r["category"]) for r in csv.DictReader(f)]
    db.executemany("INSERT INTO lines VALUES (?, ?, ?)", rows)
    out = {}
    for level in ["product", "category"]:
        out[level] = [dict(zip(KEYS, row)) for row in db.execute(PAIRS.format(col=level))]
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
