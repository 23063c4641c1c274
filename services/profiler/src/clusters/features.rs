//! The clustering features of every customer: orders per channel and hour
//! band from the serving state (the tags of the customer book's rows), line
//! spend per category by a grouped query over `customer_categories` (no
//! serving state holds it). Both go into one book by dense customer id: a
//! million customers' rows held at once, then a map by name, took about a
//! gigabyte at 10M orders, more than the profiler's whole serving state.

use futures::TryStreamExt;
use portrait_core::Day;
use portrait_core::memory::CustomerBook;
use portrait_service::Result;
use portrait_store::{Sql, Store};
use sqlx::Row;

use super::habits::HabitBook;
use portrait_proto::v1::HourBand;

use crate::customer::{BAND_HOURS, hour_band};
use crate::projection::order_tags::hour_channel;

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

/// A count of orders in 32 bits: four billion orders of one customer is past
/// anything a chain sells, so it is refused, not clamped.
fn count(n: i64) -> Result<u32> {
    u32::try_from(n).map_err(|_| {
        portrait_service::Error::Corrupt(format!(
            "a customer's count of orders is {n}, past {}",
            u32::MAX
        ))
    })
}

/// Each customer's orders per channel and hour band up to `as_of`, by dense
/// id, from the hours and channels the customer book's rows are tagged with.
pub(crate) fn order_habits(book: &CustomerBook, as_of: Day) -> Result<HabitBook> {
    let customers = book.customers().len();
    let mut out = HabitBook::with_len(customers);
    // Orders, then per channel 1..=5, then per band of `BAND_HOURS`.
    let mut sums = [0_i64; 10];
    for c in 0..customers as u32 {
        sums.fill(0);
        book.tagged_rows(c, None, |day, _, tag, acc| {
            if acc.orders <= 0 || day > as_of {
                return;
            }
            sums[0] += acc.orders;
            let Some((hour, channel)) = hour_channel(tag) else {
                return;
            };
            if let Ok(ch @ 1..=5) = usize::try_from(channel) {
                sums[ch] += acc.orders;
            }
            // Late night is the rest, below.
            match hour_band(hour) {
                HourBand::LateNight | HourBand::Unspecified => {}
                band => sums[5 + band as usize] += acc.orders,
            }
        });
        if sums[0] == 0 {
            continue;
        }
        let mut h = Habits {
            orders: count(sums[0])?,
            ..Habits::default()
        };
        for i in 0..5 {
            h.channels[i] = count(sums[1 + i])?;
        }
        for i in 0..BAND_HOURS.len() {
            h.bands[i] = count(sums[6 + i])?;
        }
        // The other bands are parts of the orders: late night is the rest.
        h.bands[4] = h.orders.saturating_sub(h.bands[..4].iter().sum::<u32>());
        out.set(c, h);
    }
    Ok(out)
}

/// The chain's top categories by line revenue (ties by id), each customer's
/// line spend in total and in each of them added to `out` by dense id
/// (`id_of` names them; a customer it does not know is left out, as the
/// clustering leaves out customers without orders).
pub(crate) async fn category_habits(
    store: &Store,
    as_of: Day,
    id_of: impl Fn(&str) -> Option<u32>,
    out: &mut HabitBook,
) -> Result<Vec<String>> {
    let mut conn = store.acquire().await?;
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
    Ok(top)
}
