"""Times the dashboard panels in DuckDB over the orders `portrait bench` exported.

Usage: duckdb_panels.py DIR CALLS. DIR holds orders.csv (every submission with
its sending sequence), lines.csv and filters.json. Keeps the latest version of
each order and the live ones (as ingest does), loads them into in-memory
tables (not timed), then runs each panel query CALLS times per filter and
prints JSON: p50/p99 per panel and filter, and the overview's orders and
revenue per filter for the cross-check.
"""

import json
import math
import sys
import time
from pathlib import Path

import duckdb


def quote(s):
    return "'" + s.replace("'", "''") + "'"


def where(f, ranged=True):
    """The filter rule: stores ∪ cities (both empty = all), [from, to), up to as_of."""
    parts = []
    stores = []
    if f["store_ids"]:
        stores.append("store_id IN (" + ",".join(map(quote, f["store_ids"])) + ")")
    if f["cities"]:
        stores.append("city IN (" + ",".join(map(quote, f["cities"])) + ")")
    if stores:
        parts.append("(" + " OR ".join(stores) + ")")
    parts.append(f"day <= DATE {quote(f['as_of_date'])}")
    if f["to_date"]:
        parts.append(f"day < DATE {quote(f['to_date'])}")
    if ranged and f["from_date"]:
        parts.append(f"day >= DATE {quote(f['from_date'])}")
    return " AND ".join(parts)


def panels(f):
    inside = f"(SELECT * FROM orders WHERE {where(f)})"
    scope = f"(SELECT * FROM orders WHERE {where(f, ranged=False)})"
    as_of = f"DATE {quote(f['as_of_date'])}"
    customer = quote(f.get("customer_id") or "")
    per_customer = f"""(SELECT customer_id, date_diff('day', max(day), {as_of}) AS r,
        count(*) AS f, sum(net_amount_fen) AS m
        FROM {inside} WHERE customer_id IS NOT NULL GROUP BY customer_id)"""
    return {
        "overview": f"""
            WITH scope AS {scope}, inside AS {inside},
            act AS (SELECT DISTINCT customer_id FROM inside WHERE customer_id IS NOT NULL)
            SELECT (SELECT count(DISTINCT customer_id) FROM scope),
                   (SELECT count(*) FROM act),
                   (SELECT count(*) FROM inside),
                   (SELECT coalesce(sum(net_amount_fen), 0) FROM inside),
                   (SELECT avg(s) FROM (SELECT sum(net_amount_fen) AS s FROM scope
                        WHERE customer_id IN (SELECT customer_id FROM act) GROUP BY customer_id))""",
        "segments": f"""
            WITH c AS {per_customer}, mean AS (SELECT avg(r) AS ar, avg(f) AS af, avg(m) AS am FROM c)
            SELECT r <= ar AS hi_r, f >= af AS hi_f, m >= am AS hi_m, count(*), sum(m)
            FROM c, mean GROUP BY ALL""",
        "hours": f"SELECT hour, count(*), sum(net_amount_fen) FROM {inside} GROUP BY hour",
        "channels": f"SELECT channel, count(*), sum(net_amount_fen) FROM {inside} GROUP BY channel",
        "top-10 products": f"""
            SELECT l.product_id, any_value(l.product_name), sum(l.quantity) AS q, sum(l.net_amount_fen)
            FROM lines l JOIN {inside} o USING (seq)
            GROUP BY l.product_id ORDER BY q DESC, l.product_id LIMIT 10""",
        "first RFM page": f"""
            SELECT customer_id, r, f, m,
                   ntile(5) OVER (ORDER BY r DESC), ntile(5) OVER (ORDER BY f), ntile(5) OVER (ORDER BY m)
            FROM {per_customer} ORDER BY customer_id LIMIT 100""",
        # Every suggestion's audience and figures but the model's parts (P(alive),
        # CLV) and the profiler's (habits, cross-sell): per customer R, F, M
        # and the mean thresholds, then per segment and type counts and spend,
        # and the median first-to-second order gap.
        "first suggestions page": f"""
            WITH inside AS {inside},
            c AS (SELECT customer_id, count(*) AS f, sum(net_amount_fen) AS m,
                         min(day) AS first, max(day) AS last,
                         date_diff('day', max(day), {as_of}) AS r
                  FROM inside WHERE customer_id IS NOT NULL GROUP BY customer_id),
            s AS (SELECT c.*, r < ar AS hr, f > af AS hf, m > am AS hm
                  FROM c, (SELECT avg(r) AS ar, avg(f) AS af, avg(m) AS am FROM c)),
            d AS (SELECT customer_id, day, row_number() OVER (PARTITION BY customer_id ORDER BY day) AS k
                  FROM (SELECT DISTINCT customer_id, day FROM inside WHERE customer_id IS NOT NULL)),
            gap AS (SELECT median(date_diff('day', a.day, b.day)) AS g
                    FROM d a JOIN d b USING (customer_id) WHERE a.k = 1 AND b.k = 2)
            SELECT hr, hf, hm, count(*), sum(m),
                   count(*) FILTER (WHERE hm AND NOT hr AND r >= 60) AS win_back,
                   count(*) FILTER (WHERE f = 1 AND r <= 30) AS nurture,
                   count(*) FILTER (WHERE f >= 3 AND r * (f - 1) > 2 * date_diff('day', first, last)) AS overdue,
                   any_value((SELECT g FROM gap))
            FROM s GROUP BY ALL""",
        # One customer's portrait, as GetCustomer computes it: sums, gaps,
        # favourites, hours, weekday x hour and channels.
        "customer profile": f"""
            WITH m AS (SELECT * FROM {inside} WHERE customer_id = {customer}),
            fav_store AS (SELECT store_id FROM m GROUP BY store_id
                          ORDER BY count(*) DESC, sum(net_amount_fen) DESC, store_id LIMIT 1),
            fav_channel AS (SELECT channel FROM m GROUP BY channel
                            ORDER BY count(*) DESC, sum(net_amount_fen) DESC, channel LIMIT 1),
            fav_band AS (SELECT CASE WHEN hour BETWEEN 6 AND 9 THEN 1 WHEN hour BETWEEN 10 AND 13 THEN 2
                                     WHEN hour BETWEEN 14 AND 16 THEN 3 WHEN hour BETWEEN 17 AND 20 THEN 4
                                     ELSE 5 END AS band
                         FROM m GROUP BY band ORDER BY count(*) DESC, sum(net_amount_fen) DESC, band LIMIT 1),
            fav_category AS (SELECT l.category_id FROM lines l JOIN m USING (seq) GROUP BY l.category_id
                             ORDER BY count(DISTINCT seq) DESC, sum(l.net_amount_fen) DESC, l.category_id LIMIT 1),
            last_two AS (SELECT day FROM m ORDER BY day DESC LIMIT 2),
            week AS (SELECT list((isodow(day), hour, n, s)) AS cells FROM
                     (SELECT day, hour, count(*) AS n, sum(net_amount_fen) AS s FROM m GROUP BY day, hour)),
            channels AS (SELECT list((channel, n, s)) AS mix FROM
                         (SELECT channel, count(*) AS n, sum(net_amount_fen) AS s FROM m GROUP BY channel))
            SELECT min(day), max(day), count(*), sum(net_amount_fen),
                   (SELECT max(day) - min(day) FROM last_two),
                   (SELECT * FROM fav_store), (SELECT * FROM fav_channel), (SELECT * FROM fav_band),
                   (SELECT * FROM fav_category), (SELECT cells FROM week), (SELECT mix FROM channels)
            FROM m""",
        "customer days": f"""
            WITH m AS (SELECT * FROM {inside} WHERE customer_id = {customer}),
            top AS (SELECT day, arg_max(channel, n * 1e15 + s) AS channel FROM
                    (SELECT day, channel, count(*) AS n, sum(net_amount_fen) AS s FROM m GROUP BY day, channel)
                    GROUP BY day)
            SELECT m.day, count(*), sum(net_amount_fen), list(DISTINCT store_id ORDER BY store_id), any_value(top.channel)
            FROM m JOIN top USING (day) GROUP BY m.day ORDER BY m.day DESC LIMIT 100""",
        # The first page of the customer list by spend: every customer's
        # figures, RFM scores and churn rule over the filter, sorted.
        "customer list page": f"""
            WITH c AS (SELECT customer_id, count(*) AS f, sum(net_amount_fen) AS m,
                              min(day) AS first, max(day) AS last,
                              date_diff('day', max(day), {as_of}) AS r
                       FROM {inside} WHERE customer_id IS NOT NULL GROUP BY customer_id)
            SELECT customer_id, first, last, r, f, m,
                   ntile(5) OVER (ORDER BY r DESC), ntile(5) OVER (ORDER BY f), ntile(5) OVER (ORDER BY m),
                   f >= 3 AND r * (f - 1) > 2 * date_diff('day', first, last) AS at_risk
            FROM c ORDER BY m DESC, customer_id LIMIT 100""",
        # The customer's products against the chain's shares in the filter.
        "customer preferences": f"""
            WITH m AS (SELECT l.product_id, count(DISTINCT seq) AS o, sum(l.quantity) AS q,
                              sum(l.net_amount_fen) AS s
                       FROM lines l JOIN {inside} o USING (seq) WHERE o.customer_id = {customer}
                       GROUP BY l.product_id),
            ch AS (SELECT l.product_id, sum(l.net_amount_fen) AS s FROM lines l JOIN {inside} o USING (seq)
                   GROUP BY l.product_id),
            n AS (SELECT count(*) AS n FROM {inside} WHERE customer_id = {customer})
            SELECT m.product_id, m.o, m.q, m.s,
                   (n.n * (m.s / (SELECT sum(s) FROM m)) / (ch.s / (SELECT sum(s) FROM ch)) + 3) / (n.n + 3) AS score
            FROM m JOIN ch USING (product_id), n ORDER BY score DESC, m.s DESC, m.product_id LIMIT 20""",
        # Per RFM segment (mean thresholds): the weekday x hour x channel
        # shape of its orders, and its top 10 products and categories by spend
        # with their lift over all customers.
        "group patterns by segment": f"""
            WITH c AS {per_customer}, mean AS (SELECT avg(r) AS ar, avg(f) AS af, avg(m) AS am FROM c),
            seg AS (SELECT customer_id, (r < ar)::int * 4 + (f > af)::int * 2 + (m > am)::int AS g FROM c, mean),
            o AS (SELECT i.*, seg.g FROM {inside} i JOIN seg USING (customer_id)),
            shape AS (SELECT g, isodow(day) AS wd, hour, channel, count(*) AS n, sum(net_amount_fen) AS s
                      FROM o GROUP BY ALL),
            items AS (SELECT o.g, 'p' || l.product_id AS id, count(DISTINCT seq) AS n, sum(l.quantity) AS q,
                             sum(l.net_amount_fen) AS s FROM lines l JOIN o USING (seq) GROUP BY ALL
                      UNION ALL
                      SELECT o.g, 'c' || l.category_id, count(DISTINCT seq), sum(l.quantity), sum(l.net_amount_fen)
                      FROM lines l JOIN o USING (seq) GROUP BY ALL),
            everyone AS (SELECT id, sum(s) AS s FROM items GROUP BY id),
            ranked AS (SELECT i.g, i.id, i.n, i.q, i.s,
                              (i.s / sum(i.s) OVER (PARTITION BY i.g, left(i.id, 1)))
                              / (e.s / sum(e.s) OVER (PARTITION BY left(e.id, 1))) AS lift,
                              row_number() OVER (PARTITION BY i.g, left(i.id, 1) ORDER BY i.s DESC, i.id) AS k
                       FROM items i JOIN everyone e USING (id))
            SELECT (SELECT list((g, wd, hour, channel, n, s)) FROM shape),
                   list((g, id, n, q, s, lift)) FROM ranked WHERE k <= 10""",
        # Per channel: its customers, orders, spend, mean recency and their
        # spend through it before the end.
        "summary by channel": f"""
            WITH per AS (SELECT channel, customer_id, count(*) AS o, sum(net_amount_fen) AS r, max(day) AS last
                         FROM {inside} WHERE customer_id IS NOT NULL GROUP BY ALL),
            before AS (SELECT channel, customer_id, sum(net_amount_fen) AS s
                       FROM {scope} WHERE customer_id IS NOT NULL GROUP BY ALL)
            SELECT channel, count(*), sum(o), sum(r), avg(date_diff('day', last, {as_of})), avg(before.s)
            FROM per JOIN before USING (channel, customer_id) GROUP BY channel""",
    }


def percentile(sorted_ms, q):
    rank = min(max(math.ceil(q * len(sorted_ms)), 1), len(sorted_ms))
    return sorted_ms[rank - 1]


def main():
    folder = Path(sys.argv[1])
    calls = int(sys.argv[2])
    filters = json.loads((folder / "filters.json").read_text())
    con = duckdb.connect()
    started = time.perf_counter()
    orders_csv = quote(str(folder / "orders.csv"))
    lines_csv = quote(str(folder / "lines.csv"))
    con.execute(f"""
        CREATE TABLE orders AS
        SELECT seq, order_id, NULLIF(customer_id, '') AS customer_id, store_id, city, channel,
               local_day AS day, local_hour AS hour, net_amount_fen
        FROM (SELECT * FROM read_csv({orders_csv}, header = true, all_varchar = false,
                  types = {{'customer_id': 'VARCHAR', 'local_day': 'DATE', 'net_amount_fen': 'BIGINT'}})
              QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY seq DESC) = 1)
        WHERE live = 1""")
    con.execute(f"""
        CREATE TABLE lines AS
        SELECT * FROM read_csv({lines_csv}, header = true, types = {{'net_amount_fen': 'BIGINT'}})
        WHERE seq IN (SELECT seq FROM orders)""")
    load_seconds = time.perf_counter() - started
    out = {
        "version": duckdb.__version__,
        "load_seconds": load_seconds,
        "live_orders": con.execute("SELECT count(*) FROM orders").fetchone()[0],
        "panels": {},
        "overview": {},
    }
    for f in filters:
        queries = panels(f)
        row = con.execute(queries["overview"]).fetchone()
        out["overview"][f["name"]] = {"orders": int(row[2]), "revenue_fen": int(row[3])}
        for panel, sql in queries.items():
            samples = []
            for _ in range(calls):
                t = time.perf_counter()
                con.execute(sql).fetchall()
                samples.append((time.perf_counter() - t) * 1000.0)
            samples.sort()
            out["panels"].setdefault(panel, {})[f["name"]] = {
                "p50_ms": percentile(samples, 0.5),
                "p99_ms": percentile(samples, 0.99),
            }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
