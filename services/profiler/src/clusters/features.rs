//! The clustering features of every customer, read from the customer
//! portrait's tables by two grouped queries (no serving state holds them).
//! Their rows are streamed into one book by dense customer id: a million
//! customers' rows held at once, then a map by name, took about a gigabyte
//! at 10M orders, more than the profiler's whole serving state.

use futures::TryStreamExt;
use portrait_core::Day;
use portrait_proto::v1::HourBand;
use portrait_service::Result;
use portrait_store::{Sql, Store};
use sqlx::Row;

use super::habits::HabitBook;
use crate::customer::BAND_HOURS;

/// Categories whose shares of a customer's line spend are features.
pub(crate) const TOP_CATEGORIES: usize = 6;

/// Orders per channel (1..=5) and per hour band (HourBand order), all history.
/// Counts of orders in 32 bits (104 bytes a customer instead of 144: a
/// clustering holds one per customer); spend in 64.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Habits {
    pub(crate) orders: u32,
    pub(crate) channels: [u32; 5],
    pub(crate) bands: [u32; 5],
    /// Line spend: in total, and in each top category.
    pub(crate) line_spend: i64,
    pub(crate) categories: [i64; TOP_CATEGORIES],
}

/// Column `i`, a count of orders, in 32 bits: four billion orders of one
/// customer is past anything a chain sells, so it is refused, not clamped.
fn count(r: &sqlx::any::AnyRow, i: usize) -> Result<u32> {
    let n: i64 = r.try_get(i)?;
    u32::try_from(n).map_err(|_| {
        portrait_service::Error::Corrupt(format!(
            "a customer's count of orders is {n}, past {}",
            u32::MAX
        ))
    })
}

/// The chain's top categories by line revenue (ties by id), and each
/// customer's habits by dense id (`id_of` names them; a customer it does not
/// know is left out, as the clustering leaves out customers without orders).
pub(crate) async fn habits(
    store: &Store,
    as_of: Day,
    customers: usize,
    id_of: impl Fn(&str) -> Option<u32>,
) -> Result<(Vec<String>, HabitBook)> {
    let mut conn = store.acquire().await?;
    let band = |&(_, from, to): &(HourBand, u8, u8)| {
        format!(
            "CAST(SUM(CASE WHEN hour >= {from} AND hour < {to} THEN orders ELSE 0 END) AS BIGINT)"
        )
    };
    let channel =
        |c: i64| format!("CAST(SUM(CASE WHEN channel = {c} THEN orders ELSE 0 END) AS BIGINT)");
    let sql = format!(
        "SELECT customer_id, CAST(SUM(orders) AS BIGINT) AS n, {}, {} \
         FROM customer_orders WHERE orders > 0 AND day <= {as_of} GROUP BY customer_id",
        (1..=5).map(channel).collect::<Vec<_>>().join(", "),
        BAND_HOURS.iter().map(band).collect::<Vec<_>>().join(", "),
        as_of = i64::from(as_of),
    );
    let mut out = HabitBook::with_len(customers);
    let mut rows = sqlx::query(&sql).fetch(&mut *conn);
    while let Some(r) = rows.try_next().await? {
        let Some(c) = id_of(r.try_get(0)?) else {
            continue;
        };
        let mut h = Habits {
            orders: count(&r, 1)?,
            ..Habits::default()
        };
        for i in 0..5 {
            h.channels[i] = count(&r, 2 + i)?;
        }
        for i in 0..BAND_HOURS.len() {
            h.bands[i] = count(&r, 7 + i)?;
        }
        // The other bands are parts of the orders: late night is the rest.
        h.bands[4] = h.orders.saturating_sub(h.bands[..4].iter().sum::<u32>());
        out.set(c, h);
    }
    drop(rows);
    let top: Vec<String> = sqlx::query(&format!(
        "SELECT category_id, CAST(SUM(revenue) AS BIGINT) AS r FROM customer_categories \
         WHERE orders > 0 AND day <= {} GROUP BY category_id ORDER BY r DESC, category_id",
        i64::from(as_of)
    ))
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .take(TOP_CATEGORIES)
    .map(|r| r.try_get(0))
    .collect::<Result<_, sqlx::Error>>()?;
    let mut sql = Sql::for_conn(
        &conn,
        "SELECT customer_id, CAST(SUM(revenue) AS BIGINT) AS total",
    );
    for (i, c) in top.iter().enumerate() {
        sql.push(", CAST(SUM(CASE WHEN category_id = ")
            .bind(c.as_str())
            .push(&format!(" THEN revenue ELSE 0 END) AS BIGINT) AS c{i}"));
    }
    sql.push(" FROM customer_categories WHERE orders > 0 AND day <= ")
        .bind(i64::from(as_of))
        .push(" GROUP BY customer_id");
    let mut rows = sql.query().fetch(&mut *conn);
    while let Some(r) = rows.try_next().await? {
        let Some(c) = id_of(r.try_get(0)?) else {
            continue;
        };
        let mut h = out.get(c);
        h.line_spend = r.try_get(1)?;
        for i in 0..top.len() {
            h.categories[i] = r.try_get(2 + i)?;
        }
        out.set(c, h);
    }
    drop(rows);
    Ok((top, out))
}
