//! The summary's groups of orders rather than of stores or customers: by
//! channel and by hour band, one grouped statement over `customer_orders`.

use portrait_core::Day;
use portrait_core::memory::GroupFigures;
use portrait_proto::v1::{Channel, HourBand, SummaryDimension};
use portrait_service::Result;
use portrait_store::{Sql, Store};
use sqlx::Row;

use super::sql::{Scope, stream};
use crate::customer::BAND_HOURS;

/// Chinese names of the channels, in enum order from 1.
pub(crate) const CHANNEL_LABELS: [&str; 5] = ["微信小程序", "门店收银", "美团", "饿了么", "抖音"];
/// Chinese names of the hour bands, in enum order from 1.
pub(crate) const BAND_LABELS: [&str; 5] = ["早餐", "午餐", "下午茶", "晚餐", "夜宵"];

/// (key, label) of group `g` (1-based enum value) of a dimension.
pub(crate) fn key_of(dimension: SummaryDimension, g: i32) -> Option<(String, String)> {
    let label = |labels: &[&str; 5]| {
        usize::try_from(g - 1)
            .ok()
            .and_then(|i| labels.get(i))
            .map(|l| (*l).to_owned())
    };
    match dimension {
        SummaryDimension::Channel => {
            let c = Channel::try_from(g)
                .ok()
                .filter(|c| *c != Channel::Unspecified)?;
            Some((c.as_str_name().to_owned(), label(&CHANNEL_LABELS)?))
        }
        SummaryDimension::HourBand => {
            let b = HourBand::try_from(g)
                .ok()
                .filter(|b| *b != HourBand::Unspecified)?;
            Some((b.as_str_name().to_owned(), label(&BAND_LABELS)?))
        }
        _ => None,
    }
}

/// The SQL expression of a row's group: its channel, or its hour band (the
/// bounds of `BAND_HOURS`; every other hour is late night).
fn group_expr(dimension: SummaryDimension) -> String {
    if dimension == SummaryDimension::Channel {
        return "channel".into();
    }
    let mut e = String::from("CASE");
    for (band, from, to) in BAND_HOURS {
        e.push_str(&format!(
            " WHEN hour >= {from} AND hour < {to} THEN {}",
            band as i32
        ));
    }
    e.push_str(&format!(" ELSE {} END", HourBand::LateNight as i32));
    e
}

/// Per group (by enum value, 1..=5): the customers with a counting order in
/// the group inside the scope, their orders, spend, recency sum as of
/// `as_of`, spend in the group before the scope's end, and predicted CLV
/// (`clv` gives a chunk's customers' by id, `None` = not scored).
pub(crate) async fn order_groups(
    store: &Store,
    scope: &Scope,
    dimension: SummaryDimension,
    as_of: Day,
    clv: impl Fn(&mut dyn Iterator<Item = &str>) -> Vec<Option<f64>>,
) -> Result<[GroupFigures; 6]> {
    let mut out = [GroupFigures::default(); 6];
    if scope.is_empty() {
        return Ok(out);
    }
    let g = group_expr(dimension);
    // Without a `from`, every day before the end is inside.
    let inside = scope
        .from
        .map_or_else(|| "1 = 1".to_owned(), |f| format!("day >= {f}"));
    let build = |conn: &sqlx::AnyConnection| {
        let mut sql = Sql::for_conn(
            conn,
            &format!(
                "SELECT customer_id, {g} AS g, \
                 CAST(SUM(CASE WHEN {inside} THEN orders ELSE 0 END) AS BIGINT), \
                 CAST(SUM(CASE WHEN {inside} THEN revenue ELSE 0 END) AS BIGINT), \
                 CAST(MAX(CASE WHEN {inside} THEN day ELSE NULL END) AS BIGINT), \
                 CAST(SUM(revenue) AS BIGINT) FROM customer_orders"
            ),
        );
        scope.push_where(&mut sql, false);
        sql.push(&format!(" GROUP BY customer_id, {g}"));
        sql
    };
    // Only rows with an order inside count: the others are not kept.
    let parse = |r: &sqlx::any::AnyRow| {
        let n = |i: usize| r.try_get::<i64, _>(i);
        let last = r.try_get::<Option<i64>, _>(4)?;
        let row = (r.try_get::<String, _>(0)?, [n(1)?, n(2)?, n(3)?, n(5)?]);
        Ok(last.map(|last| (row.0, [row.1[0], row.1[1], row.1[2], last, row.1[3]])))
    };
    let mut conn = store.acquire().await?;
    stream(&mut conn, build, parse, |rows| {
        let rows: Vec<_> = rows.drain(..).flatten().collect();
        let scores = clv(&mut rows.iter().map(|(c, _)| c.as_str()));
        for ((_, [g, orders, revenue, last, before]), score) in rows.iter().zip(scores) {
            let Some(slot) = usize::try_from(*g).ok().filter(|g| (1..6).contains(g)) else {
                continue;
            };
            if *orders <= 0 {
                continue;
            }
            let f = &mut out[slot];
            f.customers += 1;
            f.orders += orders;
            f.revenue += revenue;
            f.recency_days += i64::from(as_of) - last;
            f.spend_before_end += before;
            if let Some(v) = score {
                f.scored += 1;
                f.predicted_clv += v;
            }
        }
    })
    .await?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_named_by_their_enum() {
        let k = |d, g| key_of(d, g).map(|(k, l)| format!("{k} {l}"));
        assert_eq!(
            k(SummaryDimension::Channel, 2).as_deref(),
            Some("CHANNEL_POS 门店收银")
        );
        assert_eq!(
            k(SummaryDimension::HourBand, 5).as_deref(),
            Some("HOUR_BAND_LATE_NIGHT 夜宵")
        );
        assert_eq!(k(SummaryDimension::Channel, 0), None);
        assert_eq!(k(SummaryDimension::HourBand, 6), None);
    }

    #[test]
    fn hour_bands_in_sql_match_the_bounds() {
        let e = group_expr(SummaryDimension::HourBand);
        assert_eq!(
            e,
            "CASE WHEN hour >= 6 AND hour < 10 THEN 1 WHEN hour >= 10 AND hour < 14 THEN 2 \
             WHEN hour >= 14 AND hour < 17 THEN 3 WHEN hour >= 17 AND hour < 21 THEN 4 ELSE 5 END"
        );
    }
}
