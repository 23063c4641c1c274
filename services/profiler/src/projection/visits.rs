//! The customer portrait's tables: written with each batch, read per customer
//! by the portrait queries (`crate::customer`), never loaded into memory.

use std::collections::BTreeMap;

use portrait_core::memory::NewRows;
use portrait_core::{CustomerVisits, Day, ItemAcc, ItemKey};
use portrait_service::Result;
use portrait_store::{Sql, Store, add_rows};
use sqlx::{AnyConnection, Row};

use super::{stored_channel, stored_hour};

/// `new` are the batch's (customer, store, day)s without a `customer_days`
/// row before it: no row of these tables has their prefix either (a row here
/// is only ever written with a counting order at its prefix, which leaves a
/// `customer_days` row), so theirs are written by a plain insert.
pub(crate) async fn write_visits(
    conn: &mut AnyConnection,
    v: &CustomerVisits,
    new: &NewRows<'_>,
) -> Result<()> {
    let orders = (v.orders.iter())
        .map(|((day, store, customer, order, hour, channel), a)| {
            let row = vec![
                i64::from(*day).into(),
                store.as_str().into(),
                customer.as_str().into(),
                order.as_str().into(),
                i64::from(*hour).into(),
                i64::from(*channel).into(),
                a.orders.into(),
                a.revenue.into(),
            ];
            (
                new.contains(&(customer.as_str(), store.as_str(), *day)),
                row,
            )
        })
        .collect();
    add_rows(
        conn,
        "customer_orders",
        &ORDER_KEYS,
        &["orders", "revenue"],
        orders,
    )
    .await?;
    write_items(conn, "customer_products", "product_id", &v.products, new).await?;
    write_items(
        conn,
        "customer_categories",
        "category_id",
        &v.categories,
        new,
    )
    .await
}

/// `customer_orders`' key, in order.
pub(crate) const ORDER_KEYS: [&str; 6] = [
    "day",
    "store_id",
    "customer_id",
    "order_id",
    "hour",
    "channel",
];

async fn write_items(
    conn: &mut AnyConnection,
    table: &str,
    item: &str,
    rows: &BTreeMap<ItemKey, ItemAcc>,
    new: &NewRows<'_>,
) -> Result<()> {
    let rows = (rows.iter())
        .map(|((day, store, customer, id), a)| {
            let row = vec![
                i64::from(*day).into(),
                store.as_str().into(),
                customer.as_str().into(),
                id.as_str().into(),
                a.orders.into(),
                a.quantity.into(),
                a.revenue.into(),
            ];
            (
                new.contains(&(customer.as_str(), store.as_str(), *day)),
                row,
            )
        })
        .collect();
    let keys = ["day", "store_id", "customer_id", item];
    let values = ["orders", "quantity", "revenue"];
    Ok(add_rows(conn, table, &keys, &values, rows).await?)
}

/// One counted order of a customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OrderRow {
    pub(crate) order_id: String,
    pub(crate) day: Day,
    pub(crate) store: String,
    pub(crate) hour: u8,
    pub(crate) channel: i32,
    pub(crate) orders: i64,
    pub(crate) revenue: i64,
}

/// A customer's product or category on one day at one store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ItemRow {
    pub(crate) id: String,
    pub(crate) acc: ItemAcc,
}

#[derive(Debug, Default)]
pub(crate) struct CustomerRows {
    pub(crate) orders: Vec<OrderRow>,
    pub(crate) products: Vec<ItemRow>,
    pub(crate) categories: Vec<ItemRow>,
}

/// Pairs of (day, store) per statement: two parameters each, plus the customer.
const KEYS_PER_STATEMENT: usize = portrait_store::PARAMS_PER_STATEMENT / 2 - 1;

/// A customer's rows on the given (day, store)s, each found by its key prefix
/// (the tables are keyed day first, so a lookup by customer alone would scan).
pub(crate) async fn read_customer(
    store: &Store,
    customer: &str,
    keys: &[(Day, &str)],
) -> Result<CustomerRows> {
    let mut conn = store.acquire().await?;
    let mut rows = CustomerRows::default();
    for chunk in keys.chunks(KEYS_PER_STATEMENT) {
        let columns = "order_id, day, store_id, hour, channel, orders, revenue";
        let sql = lookup(&conn, columns, "customer_orders", customer, chunk);
        for r in sql.query().fetch_all(&mut *conn).await? {
            let (hour, channel): (i64, i64) = (r.try_get("hour")?, r.try_get("channel")?);
            rows.orders.push(OrderRow {
                order_id: r.try_get("order_id")?,
                day: portrait_store::day(r.try_get("day")?)?,
                store: r.try_get("store_id")?,
                hour: stored_hour(hour)?,
                channel: stored_channel(channel)?,
                orders: r.try_get("orders")?,
                revenue: r.try_get("revenue")?,
            });
        }
        for (table, item, into) in [
            ("customer_products", "product_id", &mut rows.products),
            ("customer_categories", "category_id", &mut rows.categories),
        ] {
            let columns = format!("{item} AS item, orders, quantity, revenue");
            let sql = lookup(&conn, &columns, table, customer, chunk);
            for r in sql.query().fetch_all(&mut *conn).await? {
                into.push(ItemRow {
                    id: r.try_get("item")?,
                    acc: ItemAcc {
                        orders: r.try_get("orders")?,
                        quantity: r.try_get("quantity")?,
                        revenue: r.try_get("revenue")?,
                    },
                });
            }
        }
    }
    Ok(rows)
}

/// `SELECT columns FROM table` for one customer on some (day, store)s. The
/// OR of key prefixes is what both SQLite and PostgreSQL answer with one index
/// search per prefix; a row-value `IN` makes SQLite scan the table.
fn lookup(
    conn: &AnyConnection,
    columns: &str,
    table: &str,
    customer: &str,
    keys: &[(Day, &str)],
) -> Sql {
    let head = format!("SELECT {columns} FROM {table} WHERE orders > 0 AND customer_id = ");
    let mut sql = Sql::for_conn(conn, &head).once(keys.len() < KEYS_PER_STATEMENT);
    sql.bind(customer).push(" AND (");
    for (i, (day, store)) in keys.iter().enumerate() {
        sql.push(if i == 0 { "(day = " } else { " OR (day = " });
        sql.bind(i64::from(*day))
            .push(" AND store_id = ")
            .bind(*store)
            .push(")");
    }
    sql.push(")");
    sql
}
