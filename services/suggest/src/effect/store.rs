//! The effect tables: adoptions and their frozen members, in the suggest
//! service's own store (migration scope `effect`).

use portrait_service::Result;
use portrait_store::{Migration, Sql, Store};
use sqlx::Row;

use super::{Adoption, Expected};

pub(crate) const EFFECT_MIGRATIONS: &[Migration] =
    portrait_store::migrations!("migrations/effect", ["0001_adoptions"]);

/// Tables a rebuild must not empty: a marketer's decisions, not the log's.
pub(crate) const KEPT_TABLES: &[&str] = &["suggestion_adoptions", "suggestion_members"];

/// Rows of three parameters per statement, under the store's limit.
const MEMBERS_PER_STATEMENT: usize = 600;

const COLUMNS: &str = "suggestion_id, kind, title, adopted_at_ms, adopted_day, window_days, \
    control_percent, expected_reached, expected_responders, expected_extra_orders, \
    expected_extra_revenue_fen, expected_response_rate, dismissed_at_ms";

/// Records an adoption (or a dismissal without one) with its members, in one
/// transaction; a second record of the same id fails on the primary key.
pub(crate) async fn insert(store: &Store, a: &Adoption, members: &[(&str, bool)]) -> Result<()> {
    let mut tx = store.begin().await?;
    sqlx::query(&format!(
        "INSERT INTO suggestion_adoptions ({COLUMNS}) VALUES \
         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    ))
    .bind(a.id.as_str())
    .bind(a.kind.as_str())
    .bind(a.title.as_str())
    .bind(a.adopted_at_ms)
    .bind(i64::from(a.adopted_day))
    .bind(i64::from(a.window_days))
    .bind(i64::from(a.control_percent))
    .bind(a.expected.reached)
    .bind(a.expected.responders)
    .bind(a.expected.extra_orders)
    .bind(a.expected.extra_revenue_fen)
    .bind(a.expected.response_rate)
    .bind(a.dismissed_at_ms)
    .execute(&mut *tx)
    .await?;
    for chunk in members.chunks(MEMBERS_PER_STATEMENT) {
        let mut sql = Sql::for_conn(
            &tx,
            "INSERT INTO suggestion_members (suggestion_id, customer_id, control) VALUES ",
        )
        .once(chunk.len() < MEMBERS_PER_STATEMENT);
        for (i, (customer, control)) in chunk.iter().enumerate() {
            sql.push(if i == 0 { "(" } else { ", (" });
            sql.bind(a.id.as_str()).push(", ");
            sql.bind(*customer).push(", ");
            sql.bind(i64::from(*control)).push(")");
        }
        sql.query().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn dismiss(store: &Store, id: &str, at_ms: i64) -> Result<()> {
    sqlx::query("UPDATE suggestion_adoptions SET dismissed_at_ms = $1 WHERE suggestion_id = $2")
        .bind(at_ms)
        .bind(id)
        .execute(store.pool())
        .await?;
    Ok(())
}

/// Every adoption with its group sizes, oldest first.
pub(crate) async fn load(store: &Store) -> Result<Vec<Adoption>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS}, \
         (SELECT COUNT(*) FROM suggestion_members m WHERE m.suggestion_id = a.suggestion_id \
          AND m.control = 0) AS treated, \
         (SELECT COUNT(*) FROM suggestion_members m WHERE m.suggestion_id = a.suggestion_id \
          AND m.control = 1) AS control \
         FROM suggestion_adoptions a ORDER BY adopted_at_ms, suggestion_id"
    ))
    .fetch_all(store.pool())
    .await?;
    let int = |r: &sqlx::any::AnyRow, c: &str| -> Result<i64> { Ok(r.try_get::<i64, _>(c)?) };
    let small = |r: &sqlx::any::AnyRow, c: &str| -> Result<i32> {
        let v = int(r, c)?;
        i32::try_from(v).map_err(|_| {
            portrait_service::Error::Corrupt(format!("suggestion_adoptions.{c} = {v}"))
        })
    };
    rows.iter()
        .map(|r| {
            Ok(Adoption {
                id: r.try_get("suggestion_id")?,
                kind: r.try_get("kind")?,
                title: r.try_get("title")?,
                adopted_at_ms: int(r, "adopted_at_ms")?,
                adopted_day: small(r, "adopted_day")?,
                window_days: small(r, "window_days")?,
                control_percent: small(r, "control_percent")?,
                expected: Expected {
                    reached: int(r, "expected_reached")?,
                    responders: r.try_get("expected_responders")?,
                    extra_orders: r.try_get("expected_extra_orders")?,
                    extra_revenue_fen: int(r, "expected_extra_revenue_fen")?,
                    response_rate: r.try_get("expected_response_rate")?,
                },
                dismissed_at_ms: int(r, "dismissed_at_ms")?,
                treated: int(r, "treated")?,
                control: int(r, "control")?,
                resolved: Default::default(),
            })
        })
        .collect()
}

/// The members of one adoption (`control` = None: both groups), by customer
/// id; `limit` None = all.
pub(crate) async fn members(
    store: &Store,
    id: &str,
    control: Option<bool>,
    offset: usize,
    limit: Option<usize>,
) -> Result<Vec<(String, bool)>> {
    let mut sql =
        Sql::new("SELECT customer_id, control FROM suggestion_members WHERE suggestion_id = ");
    sql.bind(id);
    if let Some(c) = control {
        sql.push(" AND control = ").bind(i64::from(c));
    }
    sql.push(" ORDER BY customer_id");
    if let Some(limit) = limit {
        sql.push(" LIMIT ").bind(limit as i64);
        sql.push(" OFFSET ").bind(offset as i64);
    }
    let rows = sql.query().fetch_all(store.pool()).await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("customer_id")?,
                r.try_get::<i64, _>("control")? != 0,
            ))
        })
        .collect()
}
