//! Customers' unusual orders across the chain: every known customer's orders
//! inside the filter, each judged against the customer's other orders there
//! by the customer portrait's rule (`crate::customer::unusual_orders`). The
//! rows come from `customer_orders` one local day at a time, the stores in
//! the WHERE, and the answer is cached per (filter, least |score|, version).

use std::collections::BTreeMap;

use portrait_core::memory::Selection;
use portrait_core::{Calendar, Day, ResolvedFilter, mask_customer_id};
use portrait_proto::v1::{Anomaly, AnomalyKind};
use portrait_service::Result;
use portrait_store::Sql;
use sqlx::Row;

use super::direction;
use crate::customer::unusual_orders;
use crate::projection::State;
use crate::projection::visits::OrderRow;
use crate::queries::Profiler;

/// The filter (its dates resolved as judged) and the least |score|, as bits.
pub(crate) type OrdersKey = (ResolvedFilter, u64);

/// More stores than this are filtered after reading, not in the WHERE.
const MAX_STORES_IN_WHERE: usize = 1000;

/// What the SQL needs from the serving state, taken under its lock.
pub(super) struct Selected {
    key: OrdersKey,
    version: u64,
    from: Day,
    to: Day,
    /// Store id → name of the selected stores; all stores when `all`.
    names: BTreeMap<String, String>,
    all: bool,
    min_score: f64,
}

impl Selected {
    pub(super) fn new(
        s: &State,
        f: &ResolvedFilter,
        sel: &Selection,
        from: Day,
        min_score: f64,
        version: u64,
    ) -> Self {
        let stores = &s.customers.stores;
        let names = (0..stores.len() as u32)
            .filter(|st| sel.contains(*st))
            .map(|st| {
                let name = stores.info(st).map_or_else(String::new, |i| i.name.clone());
                (stores.name(st).to_owned(), name)
            })
            .collect();
        let judged = ResolvedFilter {
            from: Some(from),
            ..f.clone()
        };
        Self {
            key: (judged, min_score.to_bits()),
            version,
            from,
            to: f.to,
            names,
            all: matches!(sel, Selection::All),
            min_score,
        }
    }
}

impl Profiler {
    pub(super) async fn unusual_orders(
        &self,
        sel: Selected,
    ) -> Result<std::sync::Arc<Vec<Anomaly>>> {
        if let Some(answer) = self.unusual_orders.get(&sel.key, sel.version) {
            return Ok(answer);
        }
        let rows = read_orders(self, &sel).await?;
        let list = judge(rows, &sel);
        Ok(self.unusual_orders.put(&sel.key, sel.version, list))
    }
}

/// (customer, order row) of every counted order inside the selection.
async fn read_orders(p: &Profiler, sel: &Selected) -> Result<Vec<(String, OrderRow)>> {
    let in_where = !sel.all && sel.names.len() <= MAX_STORES_IN_WHERE;
    if !sel.all && sel.names.is_empty() {
        return Ok(Vec::new());
    }
    // One scan of the portrait tables at a time (Profiler::scans).
    let _scan = p.scans.lock().await;
    let mut conn = p.ctx.store().acquire().await?;
    let mut out = Vec::new();
    for day in sel.from..sel.to {
        let head = "SELECT customer_id, order_id, store_id, hour, channel, orders, revenue \
                    FROM customer_orders WHERE day = ";
        let mut sql = Sql::for_conn(&conn, head);
        sql.bind(i64::from(day))
            .push(" AND orders > 0 AND customer_id <> ''");
        if in_where {
            sql.push(" AND store_id IN (");
            for (i, store) in sel.names.keys().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.bind(store.as_str());
            }
            sql.push(")");
        }
        for r in sql.query().fetch_all(&mut *conn).await? {
            let store: String = r.try_get("store_id")?;
            if !sel.all && !sel.names.contains_key(&store) {
                continue;
            }
            let (hour, channel): (i64, i64) = (r.try_get("hour")?, r.try_get("channel")?);
            out.push((
                r.try_get("customer_id")?,
                OrderRow {
                    order_id: r.try_get("order_id")?,
                    day,
                    store,
                    hour: u8::try_from(hour).unwrap_or_default(),
                    channel: i32::try_from(channel).unwrap_or_default(),
                    orders: r.try_get("orders")?,
                    revenue: r.try_get("revenue")?,
                },
            ));
        }
    }
    Ok(out)
}

/// Each customer's orders judged by the portrait's rule.
fn judge(mut rows: Vec<(String, OrderRow)>, sel: &Selected) -> Vec<Anomaly> {
    rows.sort_unstable_by(|(a, x), (b, y)| (a, x.day, &x.order_id).cmp(&(b, y.day, &y.order_id)));
    let mut out = Vec::new();
    for group in rows.chunk_by(|(a, _), (b, _)| a == b) {
        let customer = &group[0].0;
        let orders: Vec<OrderRow> = group.iter().map(|(_, o)| o.clone()).collect();
        for u in unusual_orders(&orders, sel.min_score) {
            // The baseline's first day: the customer's first other order.
            let first = (orders.iter())
                .filter(|o| o.order_id != u.order_id)
                .map(|o| o.day)
                .min()
                .unwrap_or_default();
            let store_name = sel.names.get(&u.store_id).cloned().unwrap_or_default();
            let masked = mask_customer_id(customer);
            out.push(Anomaly {
                kind: AnomalyKind::CustomerOrder as i32,
                direction: direction(u.score) as i32,
                reason: format!(
                    "顾客 {masked} 于 {} 在 {store_name} 的订单 {} 金额 {} 分，其另外 {} 单中位数 {} 分，{}（稳健 Z 值 {:.1}）",
                    u.date,
                    u.order_id,
                    u.amount_fen,
                    u.baseline_orders,
                    u.baseline_median_fen,
                    if u.score > 0.0 { "远高于平常" } else { "远低于平常" },
                    u.score
                ),
                date: u.date,
                store_id: u.store_id,
                store_name,
                value: u.amount_fen,
                baseline_median: u.baseline_median_fen,
                baseline_mad: u.baseline_mad_fen,
                baseline_days: u.baseline_orders,
                baseline_from_date: Calendar::format_day(first),
                score: u.score,
                customer_id: customer.clone(),
                masked_customer_id: masked,
                order_id: u.order_id,
                ..Default::default()
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(order: &str, day: Day, revenue: i64) -> OrderRow {
        OrderRow {
            order_id: order.into(),
            day,
            store: "s".into(),
            hour: 12,
            channel: 1,
            orders: 1,
            revenue,
        }
    }

    fn selected(min_score: f64) -> Selected {
        Selected {
            key: (
                ResolvedFilter::resolve(None, 30).unwrap(),
                min_score.to_bits(),
            ),
            version: 0,
            from: 0,
            to: 30,
            names: BTreeMap::from([("s".to_owned(), "S".to_owned())]),
            all: true,
            min_score,
        }
    }

    #[test]
    fn each_customer_is_judged_against_their_own_other_orders_only() {
        // a: 6 orders around 1,000 fen and one of 9,000; b: the same amounts
        // spread over only 5 orders (4 others: too few to judge).
        let mut rows: Vec<(String, OrderRow)> = [1_000, 1_010, 990, 1_020, 980, 1_000, 9_000]
            .iter()
            .enumerate()
            .map(|(i, fen)| {
                (
                    "vip:alice01".to_owned(),
                    row(&format!("a{i}"), 3 + i as Day, *fen),
                )
            })
            .collect();
        rows.extend((0..5).map(|i| ("b".to_owned(), row(&format!("b{i}"), 1, 100 + 9_000 * i))));
        rows.reverse();
        let found = judge(rows, &selected(3.5));
        assert_eq!(found.len(), 1, "{found:?}");
        let a = &found[0];
        assert_eq!(
            (a.order_id.as_str(), a.value, a.date.as_str()),
            ("a6", 9_000, "1970-01-10")
        );
        assert_eq!(
            (a.customer_id.as_str(), a.masked_customer_id.as_str()),
            ("vip:alice01", "vip:al****01")
        );
        // Others: 980, 990, 1000, 1000, 1010, 1020: median 1,000, MAD 10.
        assert_eq!(
            (a.baseline_median, a.baseline_mad, a.baseline_days),
            (1_000.0, 10.0, 6)
        );
        assert_eq!(a.baseline_from_date, "1970-01-04");
        assert!((a.score - 0.6745 * 8_000.0 / 10.0).abs() < 1e-9);
        assert_eq!(a.store_name, "S");
    }
}
