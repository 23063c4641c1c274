//! The test oracle: plain SQL over the raw accepted orders, in PostgreSQL,
//! with local days and hours computed by PostgreSQL's own time zone rules.

use portrait_proto::v1::{Order, Segment};
use sqlx::Row;
use sqlx::postgres::PgPool;

/// A filter as the oracle sees it; dates are YYYY-MM-DD, empty = unbounded.
#[derive(Debug, Clone, Default)]
pub(crate) struct Q {
    pub stores: Vec<String>,
    pub cities: Vec<String>,
    pub from: String,
    pub to: String,
    pub as_of: String,
}

impl Q {
    pub(crate) fn filter(&self) -> portrait_proto::v1::Filter {
        portrait_proto::v1::Filter {
            store_ids: self.stores.clone(),
            cities: self.cities.clone(),
            from_date: self.from.clone(),
            to_date: self.to.clone(),
            as_of_date: self.as_of.clone(),
        }
    }
}

/// Rows of `raw` inside the filter ($1 stores, $2 cities, $3 from, $4 to, $5 as_of).
pub(crate) const IN_STORES: &str = "((cardinality($1::text[]) = 0 AND cardinality($2::text[]) = 0) OR store_id = ANY($1) OR city = ANY($2))";
pub(crate) const BEFORE_END: &str =
    "day < LEAST(COALESCE(NULLIF($4, '')::date, $5::date + 1), $5::date + 1)";
pub(crate) const FROM: &str = "(NULLIF($3, '') IS NULL OR day >= NULLIF($3, '')::date)";

/// Every customer's RFM inside the filter and the window ($6 days up to
/// as_of, 0 = all), their scores, thresholds (tr, tf, tm) by the rule $7
/// (`mean`, `median`, `fixed` with $8 days, $9 orders, $10 fen) and whether
/// each value is strictly better than its threshold (rh, fh, mh), as `t`.
fn rfm_rows() -> String {
    format!(
        "WITH c AS (SELECT customer_id, COUNT(*) AS f, SUM(amount)::bigint AS m, MAX(day) AS last \
    FROM raw WHERE customer_id <> '' AND {IN_STORES} AND {FROM} AND {BEFORE_END} \
    AND ($6::int = 0 OR $5::date - day < $6::int) GROUP BY customer_id), \
 r AS (SELECT *, ($5::date - last)::bigint AS rec FROM c), \
 s AS (SELECT *, COUNT(*) OVER () AS n, SUM(rec) OVER () AS sr, SUM(f) OVER () AS sf, SUM(m) OVER () AS sm, \
    RANK() OVER (ORDER BY rec DESC) - 1 AS rw, RANK() OVER (ORDER BY f) - 1 AS fw, RANK() OVER (ORDER BY m) - 1 AS mw FROM r), \
 med AS (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY rec) AS mr, percentile_cont(0.5) WITHIN GROUP (ORDER BY f) AS mf, \
    percentile_cont(0.5) WITHIN GROUP (ORDER BY m) AS mm FROM r), \
 th AS (SELECT s.*, CASE $7::text WHEN 'mean' THEN sr::float8 / n WHEN 'median' THEN mr ELSE $8::bigint END AS tr, \
    CASE $7::text WHEN 'mean' THEN sf::float8 / n WHEN 'median' THEN mf ELSE $9::bigint END AS tf, \
    CASE $7::text WHEN 'mean' THEN sm::float8 / n WHEN 'median' THEN mm ELSE $10::bigint END AS tm FROM s, med), \
 t AS (SELECT *, (1 + 5 * rw / n)::int AS rs, (1 + 5 * fw / n)::int AS fs, (1 + 5 * mw / n)::int AS ms, \
    CASE WHEN $7::text = 'mean' THEN rec * n < sr ELSE rec < tr END AS rh, \
    CASE WHEN $7::text = 'mean' THEN f * n > sf ELSE f > tf END AS fh, \
    CASE WHEN $7::text = 'mean' THEN m * n > sm ELSE m > tm END AS mh FROM th)"
    )
}

/// How RFM is drawn: the window (0 = all history) and the thresholds.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RfmRule {
    pub window_days: i32,
    pub thresholds: RfmRuleKind,
}

#[derive(Debug, Clone, Copy, Default)]
pub(crate) enum RfmRuleKind {
    #[default]
    Mean,
    Median,
    /// Days, orders, fen.
    Fixed(i64, i64, i64),
}

#[derive(Debug, Clone, Copy, Default)]
pub(crate) enum RfmSortKey {
    #[default]
    CustomerId,
    Recency,
    Frequency,
    Monetary,
    Score,
}

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RfmSort {
    pub key: RfmSortKey,
    pub descending: bool,
}

pub(crate) struct Oracle {
    pub(crate) pool: PgPool,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OverviewFigures {
    pub total_customers: i64,
    pub active_customers: i64,
    pub orders: i64,
    pub revenue: i64,
    pub aov: f64,
    pub ltv: f64,
}

/// One customer's BTYD inputs as of a day, in weeks, with their total net spend.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ModelRow {
    pub customer_id: String,
    pub summary: portrait_models::summary::CustomerSummary,
    pub total_fen: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct RfmRow {
    pub customer_id: String,
    pub recency: i64,
    pub frequency: i64,
    pub monetary: i64,
    pub scores: (i32, i32, i32),
    pub segment: i32,
}

/// A served RFM row, as the oracle's rows compare.
impl From<portrait_proto::v1::CustomerRfm> for RfmRow {
    fn from(c: portrait_proto::v1::CustomerRfm) -> Self {
        RfmRow {
            customer_id: c.customer_id,
            recency: c.recency_days,
            frequency: c.frequency,
            monetary: c.monetary_fen,
            scores: (c.r_score, c.f_score, c.m_score),
            segment: c.segment,
        }
    }
}

impl Oracle {
    /// An oracle on a fresh database of its own; `None` (the test is skipped)
    /// without PostgreSQL.
    pub(crate) async fn fresh() -> Option<Self> {
        Some(Self::new(&portrait_testkit::postgres::fresh_database().await?).await)
    }

    pub(crate) async fn new(url: &str) -> Self {
        let pool = PgPool::connect(url).await.expect("oracle database");
        for ddl in [
            "CREATE TABLE raw_orders (order_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, store_id TEXT NOT NULL, city TEXT NOT NULL, channel INT NOT NULL, placed_at_ms BIGINT NOT NULL, amount BIGINT NOT NULL)",
            "CREATE TABLE raw_lines (order_id TEXT NOT NULL, product_id TEXT NOT NULL, category_id TEXT NOT NULL, quantity BIGINT NOT NULL, amount BIGINT NOT NULL)",
            "CREATE VIEW raw AS SELECT *, (to_timestamp(placed_at_ms / 1000.0) AT TIME ZONE 'Asia/Shanghai')::date AS day, \
             EXTRACT(HOUR FROM to_timestamp(placed_at_ms / 1000.0) AT TIME ZONE 'Asia/Shanghai')::int AS hour FROM raw_orders",
        ] {
            sqlx::query(ddl)
                .execute(&pool)
                .await
                .expect("oracle schema");
        }
        Self { pool }
    }

    /// Replaces the raw data with what `submitted` should leave in the stack: the
    /// accepted live version of each order, and the refunds among them.
    pub(crate) async fn load_orders(&self, submitted: &[Order]) {
        self.load(&portrait_synth::accepted(submitted)).await;
        crate::anomaly::load_refunds(self, submitted).await;
    }

    /// Replaces the raw data with `orders`, the accepted live versions.
    pub(crate) async fn load(&self, orders: &[Order]) {
        sqlx::query("TRUNCATE raw_orders, raw_lines")
            .execute(&self.pool)
            .await
            .expect("truncate");
        let mut tx = self.pool.begin().await.expect("tx");
        for o in orders {
            sqlx::query("INSERT INTO raw_orders VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(&o.order_id)
                .bind(&o.customer_id)
                .bind(&o.store_id)
                .bind(&o.city)
                .bind(o.channel)
                .bind(o.placed_at_ms)
                .bind(o.net_amount_fen)
                .execute(&mut *tx)
                .await
                .expect("insert order");
            for l in &o.lines {
                sqlx::query("INSERT INTO raw_lines VALUES ($1, $2, $3, $4, $5)")
                    .bind(&o.order_id)
                    .bind(&l.product_id)
                    .bind(&l.category_id)
                    .bind(l.quantity)
                    .bind(l.net_amount_fen)
                    .execute(&mut *tx)
                    .await
                    .expect("insert line");
            }
        }
        tx.commit().await.expect("commit");
    }

    pub(crate) fn query<'q>(
        sql: &'q str,
        q: &'q Q,
    ) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
        sqlx::query(sql)
            .bind(q.stores.clone())
            .bind(q.cities.clone())
            .bind(q.from.clone())
            .bind(q.to.clone())
            .bind(q.as_of.clone())
    }

    pub(crate) async fn overview(&self, q: &Q) -> OverviewFigures {
        let sql = format!(
            "SELECT \
             (SELECT COUNT(DISTINCT customer_id) FROM raw WHERE customer_id <> '' AND {IN_STORES} AND {BEFORE_END}), \
             (SELECT COUNT(DISTINCT customer_id) FROM raw WHERE customer_id <> '' AND {IN_STORES} AND {FROM} AND {BEFORE_END}), \
             (SELECT COUNT(*) FROM raw WHERE {IN_STORES} AND {FROM} AND {BEFORE_END}), \
             (SELECT COALESCE(SUM(amount), 0)::bigint FROM raw WHERE {IN_STORES} AND {FROM} AND {BEFORE_END}), \
             (SELECT COALESCE(SUM(amount), 0)::bigint FROM raw WHERE {IN_STORES} AND {BEFORE_END} AND customer_id IN \
                (SELECT customer_id FROM raw WHERE customer_id <> '' AND {IN_STORES} AND {FROM} AND {BEFORE_END}))"
        );
        let r = Self::query(&sql, q)
            .fetch_one(&self.pool)
            .await
            .expect("overview");
        let (total, active, orders, revenue, spend): (i64, i64, i64, i64, i64) =
            (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4));
        let ratio = |a: i64, b: i64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        OverviewFigures {
            total_customers: total,
            active_customers: active,
            orders,
            revenue,
            aov: ratio(revenue, orders),
            ltv: ratio(spend, active),
        }
    }

    /// (hour, orders, revenue) for all 24 hours.
    pub(crate) async fn hours(&self, q: &Q) -> Vec<(i32, i64, i64)> {
        let sql = format!(
            "SELECT h, COUNT(raw.order_id), COALESCE(SUM(raw.amount), 0)::bigint FROM generate_series(0, 23) h \
             LEFT JOIN raw ON raw.hour = h AND {IN_STORES} AND {FROM} AND {BEFORE_END} GROUP BY h ORDER BY h"
        );
        Self::query(&sql, q)
            .fetch_all(&self.pool)
            .await
            .expect("hours")
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect()
    }

    /// (channel, orders, revenue) for the five channels of `portrait.v1.Channel`.
    pub(crate) async fn channels(&self, q: &Q) -> Vec<(i32, i64, i64)> {
        let sql = format!(
            "SELECT c, COUNT(raw.order_id), COALESCE(SUM(raw.amount), 0)::bigint FROM generate_series(1, 5) c \
             LEFT JOIN raw ON raw.channel = c AND {IN_STORES} AND {FROM} AND {BEFORE_END} GROUP BY c ORDER BY c"
        );
        Self::query(&sql, q)
            .fetch_all(&self.pool)
            .await
            .expect("channels")
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect()
    }

    /// (product, quantity, revenue), best first.
    pub(crate) async fn products(&self, q: &Q, by_revenue: bool) -> Vec<(String, i64, i64)> {
        let order = if by_revenue {
            "r DESC, q DESC"
        } else {
            "q DESC, r DESC"
        };
        let sql = format!(
            "SELECT l.product_id, SUM(l.quantity)::bigint AS q, SUM(l.amount)::bigint AS r \
             FROM raw_lines l JOIN raw USING (order_id) WHERE {IN_STORES} AND {FROM} AND {BEFORE_END} \
             GROUP BY l.product_id ORDER BY {order}, l.product_id"
        );
        Self::query(&sql, q)
            .fetch_all(&self.pool)
            .await
            .expect("products")
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect()
    }

    /// (category, quantity, revenue), best first, by the category each line named.
    pub(crate) async fn categories(&self, q: &Q, by_revenue: bool) -> Vec<(String, i64, i64)> {
        let order = if by_revenue {
            "r DESC, q DESC"
        } else {
            "q DESC, r DESC"
        };
        let sql = format!(
            "SELECT l.category_id, SUM(l.quantity)::bigint AS q, SUM(l.amount)::bigint AS r \
             FROM raw_lines l JOIN raw USING (order_id) WHERE {IN_STORES} AND {FROM} AND {BEFORE_END} \
             GROUP BY l.category_id ORDER BY {order}, l.category_id COLLATE \"C\""
        );
        Self::query(&sql, q)
            .fetch_all(&self.pool)
            .await
            .expect("categories")
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect()
    }

    pub(crate) async fn rfm(&self, q: &Q) -> Vec<RfmRow> {
        self.rfm_list(q, &RfmRule::default(), RfmSort::default(), [&[], &[], &[]])
            .await
    }

    /// The RFM rows under `rule`, in `sort`, only those whose R, F and M
    /// scores are in `scores` (each empty = any).
    pub(crate) async fn rfm_list(
        &self,
        q: &Q,
        rule: &RfmRule,
        sort: RfmSort,
        scores: [&[i32]; 3],
    ) -> Vec<RfmRow> {
        let key = match sort.key {
            RfmSortKey::CustomerId => "",
            RfmSortKey::Recency => "rec",
            RfmSortKey::Frequency => "f",
            RfmSortKey::Monetary => "m",
            RfmSortKey::Score => "rs + fs + ms",
        };
        let dir = if sort.descending { "DESC" } else { "ASC" };
        let order = if key.is_empty() {
            format!("customer_id COLLATE \"C\" {dir}")
        } else {
            format!("{key} {dir}, customer_id COLLATE \"C\"")
        };
        let sql = format!(
            "{} SELECT customer_id, rec, f, m, rs, fs, ms, rh, fh, mh FROM t \
             WHERE (cardinality($11::int[]) = 0 OR rs = ANY($11)) \
             AND (cardinality($12::int[]) = 0 OR fs = ANY($12)) \
             AND (cardinality($13::int[]) = 0 OR ms = ANY($13)) ORDER BY {order}",
            rfm_rows()
        );
        Self::ruled(&sql, q, rule)
            .bind(scores[0].to_vec())
            .bind(scores[1].to_vec())
            .bind(scores[2].to_vec())
            .fetch_all(&self.pool)
            .await
            .expect("rfm")
            .iter()
            .map(|r| RfmRow {
                customer_id: r.get(0),
                recency: r.get(1),
                frequency: r.get(2),
                monetary: r.get(3),
                scores: (r.get(4), r.get(5), r.get(6)),
                segment: segment(r.get(7), r.get(8), r.get(9)) as i32,
            })
            .collect()
    }

    /// The (recency, frequency, monetary) thresholds `rule` draws segments
    /// with: PostgreSQL's mean or `percentile_cont(0.5)`, or the fixed values;
    /// for nobody, the fixed values or 0.
    pub(crate) async fn rfm_thresholds(&self, q: &Q, rule: &RfmRule) -> (f64, f64, f64) {
        let sql = format!(
            "{} SELECT COALESCE(MAX(tr), $8), COALESCE(MAX(tf), $9), COALESCE(MAX(tm), $10) FROM t",
            rfm_rows()
        );
        let r = Self::ruled(&sql, q, rule)
            .bind(Vec::<i32>::new())
            .bind(Vec::<i32>::new())
            .bind(Vec::<i32>::new())
            .fetch_one(&self.pool)
            .await
            .expect("rfm thresholds");
        (r.get(0), r.get(1), r.get(2))
    }

    fn ruled<'q>(
        sql: &'q str,
        q: &'q Q,
        rule: &RfmRule,
    ) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
        let (kind, fixed) = match rule.thresholds {
            RfmRuleKind::Mean => ("mean", (0, 0, 0)),
            RfmRuleKind::Median => ("median", (0, 0, 0)),
            RfmRuleKind::Fixed(r, f, m) => ("fixed", (r, f, m)),
        };
        Self::query(sql, q)
            .bind(rule.window_days)
            .bind(kind)
            .bind(fixed.0)
            .bind(fixed.1)
            .bind(fixed.2)
    }

    /// (customer, days since last order, priority) of the churn rule.
    pub(crate) async fn churn(&self, q: &Q) -> Vec<(String, i64, i32)> {
        let sql = format!(
            "WITH c AS (SELECT customer_id, COUNT(*)::bigint AS f, MIN(day) AS first, MAX(day) AS last \
                FROM raw WHERE customer_id <> '' AND {IN_STORES} AND {FROM} AND {BEFORE_END} GROUP BY customer_id), \
             d AS (SELECT customer_id, f, ($5::date - last)::bigint AS since, (last - first)::bigint AS span FROM c) \
             SELECT customer_id, since, CASE WHEN since * (f - 1) >= 4 * span THEN 3 WHEN since * (f - 1) >= 3 * span THEN 2 ELSE 1 END \
             FROM d WHERE f >= 3 AND since * (f - 1) > 2 * span ORDER BY customer_id"
        );
        Self::query(&sql, q)
            .fetch_all(&self.pool)
            .await
            .expect("churn")
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect()
    }
}

/// DESIGN.md §3's table, written out independently of the code under test.
fn segment(r_high: bool, f_high: bool, m_high: bool) -> Segment {
    match (r_high, f_high, m_high) {
        (true, true, true) => Segment::ImportantValue,
        (true, false, true) => Segment::ImportantDevelop,
        (false, true, true) => Segment::ImportantKeep,
        (false, false, true) => Segment::ImportantWinBack,
        (true, true, false) => Segment::GeneralValue,
        (true, false, false) => Segment::GeneralDevelop,
        (false, true, false) => Segment::GeneralKeep,
        (false, false, false) => Segment::GeneralWinBack,
    }
}

impl Oracle {
    /// Weekly (Monday) purchase periods per customer up to `as_of`: x = periods − 1, t_x and T
    /// in weeks from the first period's Monday to the last's and to `as_of`'s, m = the mean
    /// spend of the periods after the first.
    pub(crate) async fn weekly_summaries(&self, as_of: &str) -> Vec<ModelRow> {
        let sql = "WITH p AS (SELECT customer_id, date_trunc('week', day)::date AS week, SUM(amount)::bigint AS fen \
                     FROM raw WHERE customer_id <> '' AND day <= $1::date GROUP BY 1, 2), \
                   f AS (SELECT customer_id, MIN(week) AS first, MAX(week) AS last, COUNT(*) - 1 AS x, \
                     SUM(fen)::bigint AS total FROM p GROUP BY 1) \
                   SELECT f.customer_id, f.x, f.last - f.first, date_trunc('week', $1::date)::date - f.first, \
                     f.total - p.fen, f.total \
                   FROM f JOIN p ON p.customer_id = f.customer_id AND p.week = f.first ORDER BY 1";
        let rows = sqlx::query(sql)
            .bind(as_of)
            .fetch_all(&self.pool)
            .await
            .expect("weekly summaries");
        rows.iter()
            .map(|r| {
                let (x, recency, age, repeat): (i64, i32, i32, i64) =
                    (r.get(1), r.get(2), r.get(3), r.get(4));
                let frequency = u32::try_from(x).expect("x fits");
                ModelRow {
                    customer_id: r.get(0),
                    summary: portrait_models::summary::CustomerSummary {
                        frequency,
                        recency: f64::from(recency) / 7.0,
                        age: f64::from(age) / 7.0,
                        monetary: if frequency > 0 {
                            repeat as f64 / f64::from(frequency)
                        } else {
                            0.0
                        },
                    },
                    total_fen: r.get(5),
                }
            })
            .collect()
    }
}

/// One association rule as the oracle computes it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RuleRow {
    pub antecedent: String,
    pub consequent: String,
    /// Baskets with both, with the antecedent, with the consequent.
    pub counts: (i64, i64, i64),
    /// Support, confidence, lift.
    pub figures: (f64, f64, f64),
}

impl Oracle {
    /// Baskets (orders with a line) at the filter's stores, all history; or,
    /// with `customers`, the customers with such a basket.
    pub(crate) async fn baskets(&self, q: &Q, customers: bool) -> i64 {
        let (unit, known) = basis(customers, q);
        let sql = format!(
            "SELECT COUNT(DISTINCT {unit})::bigint FROM raw_lines l JOIN raw USING (order_id) WHERE {known} AND {IN_STORES}"
        );
        sqlx::query(&sql)
            .bind(q.stores.clone())
            .bind(q.cities.clone())
            .fetch_one(&self.pool)
            .await
            .expect("baskets")
            .get(0)
    }

    /// Rules a → b over all history at the filter's stores, both directions,
    /// over baskets (or, with `customers`, over customers: a customer's
    /// "basket" is everything they bought there), ranked by `order` (1 lift,
    /// 2 confidence, 3 support) then the other measures, then the ids; the
    /// measures compared exactly.
    pub(crate) async fn associations(
        &self,
        q: &Q,
        customers: bool,
        order: i32,
        min_count: i64,
        min_support: f64,
    ) -> Vec<RuleRow> {
        let lift = "(p.n::numeric * t.n) / (ia.n * ib.n) DESC";
        let confidence = "p.n::numeric / ia.n DESC";
        let count = "p.n DESC";
        let ranking = match order {
            2 => [confidence, lift, count],
            3 => [count, lift, confidence],
            _ => [lift, confidence, count],
        }
        .join(", ");
        let (unit, known) = basis(customers, q);
        let sql = format!(
            "WITH b AS (SELECT DISTINCT {unit} AS unit, l.product_id FROM raw_lines l JOIN raw USING (order_id) WHERE {known} AND {IN_STORES}), \
             t AS (SELECT COUNT(DISTINCT unit)::bigint AS n FROM b), \
             i AS (SELECT product_id, COUNT(*)::bigint AS n FROM b GROUP BY product_id), \
             p AS (SELECT x.product_id AS a, y.product_id AS c, COUNT(*)::bigint AS n FROM b x \
                JOIN b y ON x.unit = y.unit AND x.product_id <> y.product_id GROUP BY 1, 2) \
             SELECT p.a, p.c, p.n, ia.n, ib.n, p.n::float8 / t.n, p.n::float8 / ia.n, (p.n * t.n)::float8 / (ia.n * ib.n) \
             FROM p JOIN i ia ON ia.product_id = p.a JOIN i ib ON ib.product_id = p.c CROSS JOIN t \
             WHERE p.n >= GREATEST($3, 1) AND p.n::float8 / t.n >= $4 \
             ORDER BY {ranking}, p.a COLLATE \"C\", p.c COLLATE \"C\""
        );
        sqlx::query(&sql)
            .bind(q.stores.clone())
            .bind(q.cities.clone())
            .bind(min_count)
            .bind(min_support)
            .fetch_all(&self.pool)
            .await
            .expect("associations")
            .iter()
            .map(|r| RuleRow {
                antecedent: r.get(0),
                consequent: r.get(1),
                counts: (r.get(2), r.get(3), r.get(4)),
                figures: (r.get(5), r.get(6), r.get(7)),
            })
            .collect()
    }
}

/// What an association counts in: orders, or known customers.
/// The unit and the orders counted; a window (`q.from`, `q.to`: the test's
/// own dates) only over customers.
fn basis(customers: bool, q: &Q) -> (&'static str, String) {
    if customers {
        let mut known = "raw.customer_id <> ''".to_owned();
        if !q.from.is_empty() {
            known.push_str(&format!(" AND day >= '{}'::date", q.from));
        }
        if !q.to.is_empty() {
            known.push_str(&format!(" AND day < '{}'::date", q.to));
        }
        ("raw.customer_id", known)
    } else {
        ("order_id", "TRUE".to_owned())
    }
}
