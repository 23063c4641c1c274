//! docs/sync.md's mapping written once more, as plain SQL over the SOURCE
//! tables in PostgreSQL, independently of the Rust mapping. It fills the
//! figure oracle's raw_orders / raw_lines with what should count.

use sqlx::Executor;
use sqlx::postgres::PgPool;

/// Local wall-clock text in any of the three layouts → timestamp; NULL otherwise.
const PARSE_TIME: &str = r#"
CREATE OR REPLACE FUNCTION oracle_local_time(t text) RETURNS timestamp AS $$
BEGIN
  IF t IS NULL OR NOT (btrim(t) ~ '^\d{4}-\d{1,2}-\d{1,2} \d{1,2}:\d{2}:\d{2}$'
      OR btrim(t) ~ '^\d{4}/\d{1,2}/\d{1,2} \d{1,2}:\d{2}:\d{2}$'
      OR btrim(t) ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$') THEN
    RETURN NULL;
  END IF;
  RETURN replace(btrim(t), '/', '-')::timestamp;
EXCEPTION WHEN others THEN
  RETURN NULL;
END $$ LANGUAGE plpgsql IMMUTABLE"#;

/// Integer fen throughout: PostgreSQL sums BIGINT into NUMERIC, so every
/// sum is cast back before it divides. $1 = now (epoch ms). Max line amount 10000.00 yuan,
/// max future one day, paid = payState 2, full refunds retract.
const MAP: &str = r#"
INSERT INTO raw_lines (order_id, product_id, category_id, quantity, amount)
WITH o AS (
  SELECT o.*, floor(EXTRACT(EPOCH FROM (oracle_local_time(o."recordTime") AT TIME ZONE 'Asia/Shanghai')) * 1000)::bigint AS placed
  FROM "Orders" o
  WHERE COALESCE(o.delflag, 0) = 0 AND o."payState" = 2 AND o."shopId" > 0
    AND COALESCE(o.cash, o.total, 0) >= 0 AND COALESCE(o."refundMoney", 0) >= 0
),
o_ok AS (
  SELECT * FROM o WHERE placed IS NOT NULL AND placed >= 946684800000 AND placed <= $1::bigint + 86400000
),
g AS (
  SELECT g.*, ROW_NUMBER() OVER (
      PARTITION BY g."orderId", g."goodsId", g."goodsNumber", g."goodsPrice", g."goodsTotal", g."realIncomeAmount",
                   COALESCE(g."isRefund", 0), COALESCE(g."refundMoney", 0)
      ORDER BY g.id) AS copy
  FROM "OrderGoods" g WHERE COALESCE(g.delflag, 0) = 0
),
l AS (
  SELECT g.*, (COALESCE(g."realIncomeAmount", g."goodsTotal") * 100)::bigint AS gross,
    (CASE WHEN g."isRefund" = 1 THEN COALESCE(g."realIncomeAmount", g."goodsTotal") ELSE COALESCE(g."refundMoney", 0) END * 100)::bigint AS refund
  FROM g WHERE copy = 1
),
bad AS (
  SELECT DISTINCT "orderId" FROM l
  WHERE COALESCE("goodsId", 0) <= 0 OR COALESCE("goodsNumber", 0) <= 0 OR gross IS NULL OR gross < 0
     OR refund < 0 OR gross > 1000000 OR refund > 1000000 OR refund > gross
),
ok_lines AS (
  SELECT l.*, gross - refund AS net0 FROM l JOIN o_ok ON o_ok.id = l."orderId"
  WHERE l."orderId" NOT IN (SELECT "orderId" FROM bad)
),
tot AS (
  SELECT o_ok.id, SUM(net0)::bigint AS s,
    GREATEST((COALESCE(o_ok."refundMoney", 0) * 100)::bigint - SUM(refund)::bigint, 0)::bigint AS u
  FROM o_ok JOIN ok_lines ON ok_lines."orderId" = o_ok.id GROUP BY o_ok.id, o_ok."refundMoney"
),
shares AS (
  SELECT ok_lines.*, tot.u, tot.s,
    CASE WHEN tot.u = 0 THEN 0 WHEN tot.u >= tot.s THEN net0 ELSE (tot.u * net0) / tot.s END AS share,
    CASE WHEN tot.u > 0 AND tot.u < tot.s THEN (tot.u * net0) % tot.s ELSE 0 END AS rem
  FROM ok_lines JOIN tot ON tot.id = ok_lines."orderId"
),
ranked AS (
  SELECT shares.*, ROW_NUMBER() OVER (PARTITION BY "orderId" ORDER BY rem DESC, id) AS rk,
    u - SUM(share) OVER (PARTITION BY "orderId")::bigint AS spare
  FROM shares
)
SELECT "orderId"::text, "goodsId"::text, COALESCE("categoryId"::text, ''), "goodsNumber"::bigint,
  net0 - share - CASE WHEN u > 0 AND u < s AND rk <= spare THEN 1 ELSE 0 END
FROM ranked ORDER BY "orderId", id
"#;

/// Orders from their lines: a fully refunded order (0 left after refunds) does not count.
const ORDERS: &str = r#"
INSERT INTO raw_orders (order_id, customer_id, store_id, city, channel, placed_at_ms, amount)
WITH net AS (SELECT order_id, SUM(amount)::bigint AS amount FROM raw_lines GROUP BY order_id),
o AS (
  SELECT o.*, regexp_replace(COALESCE(o."vipTel", ''), '\D', '', 'g') AS digits,
    floor(EXTRACT(EPOCH FROM (oracle_local_time(o."recordTime") AT TIME ZONE 'Asia/Shanghai')) * 1000)::bigint AS placed
  FROM "Orders" o
),
p AS (
  SELECT o.*, CASE
      WHEN length(digits) = 15 AND digits LIKE '0086%' THEN substr(digits, 5)
      WHEN length(digits) = 13 AND digits LIKE '86%' THEN substr(digits, 3)
      ELSE digits END AS phone
  FROM o
),
refunded AS (
  SELECT DISTINCT "orderId"::text AS order_id FROM "OrderGoods"
  WHERE COALESCE(delflag, 0) = 0 AND ("isRefund" = 1 OR COALESCE("refundMoney", 0) > 0)
)
SELECT p.id::text,
  CASE
    WHEN btrim(COALESCE(p."openId", '')) <> '' THEN 'wx:' || left(encode(hmac(btrim(p."openId"), $1, 'sha256'), 'hex'), 32)
    WHEN p."vipId" > 0 THEN 'vip:' || left(encode(hmac(p."vipId"::text, $1, 'sha256'), 'hex'), 32)
    WHEN p.phone ~ '^1[0-9]{10}$' THEN 'tel:' || left(encode(hmac(p.phone, $1, 'sha256'), 'hex'), 32)
    ELSE '' END,
  p."shopId"::text,
  CASE WHEN s."Id" IS NULL THEN ''
       WHEN btrim(COALESCE(s.city, '')) LIKE '%市' AND length(btrim(s.city)) > 1 THEN left(btrim(s.city), -1)
       ELSE btrim(COALESCE(s.city, '')) END,
  CASE
    WHEN btrim(COALESCE(p."takeoutName", '')) LIKE '%美团%' THEN 3
    WHEN btrim(COALESCE(p."takeoutName", '')) LIKE '%饿了么%' THEN 4
    WHEN btrim(COALESCE(p."takeoutName", '')) LIKE '%抖音%' THEN 5
    WHEN btrim(COALESCE(p."openId", '')) <> '' THEN 1
    ELSE 2 END,
  p.placed, net.amount
FROM p JOIN net ON net.order_id = p.id::text
LEFT JOIN "Shop" s ON s."Id" = p."shopId"
WHERE NOT (net.amount = 0 AND (COALESCE(p."refundMoney", 0) > 0 OR p.id::text IN (SELECT order_id FROM refunded)))
"#;

/// Recomputes the accepted orders from the source tables (in the same database).
pub(crate) async fn recompute(pool: &PgPool, now_ms: i64, phone_key: &str) {
    pool.execute("CREATE EXTENSION IF NOT EXISTS pgcrypto")
        .await
        .expect("pgcrypto");
    pool.execute(PARSE_TIME)
        .await
        .expect("oracle time function");
    pool.execute("TRUNCATE raw_orders, raw_lines")
        .await
        .expect("truncate");
    sqlx::query(MAP)
        .bind(now_ms)
        .execute(pool)
        .await
        .expect("oracle lines");
    sqlx::query(ORDERS)
        .bind(phone_key)
        .execute(pool)
        .await
        .expect("oracle orders");
    // Lines of orders that do not count (fully refunded) go too.
    pool.execute("DELETE FROM raw_lines WHERE order_id NOT IN (SELECT order_id FROM raw_orders)")
        .await
        .expect("oracle line cleanup");
}
