use portrait_core::Deltas;
use sqlx::AnyConnection;

use crate::{Arg, Result, Sql};

/// Which day-grain tables a service keeps. Every set includes `stores`, which
/// the city filter needs.
#[derive(Debug, Clone, Copy, Default)]
pub struct TableSet {
    pub customer_days: bool,
    pub hours: bool,
    pub channels: bool,
    pub products: bool,
}

impl TableSet {
    /// Per-customer day rows only: enough for RFM and the customer rules.
    pub const CUSTOMER_DAYS: TableSet = TableSet {
        customer_days: true,
        hours: false,
        channels: false,
        products: false,
    };

    /// DDL for the chosen tables, to append to the service's migrations.
    pub fn migrations(&self) -> Vec<&'static str> {
        let mut m = vec![
            "CREATE TABLE stores (store_id TEXT PRIMARY KEY, name TEXT NOT NULL, city TEXT NOT NULL)",
            "CREATE INDEX stores_city ON stores (city)",
        ];
        if self.customer_days {
            m.push("CREATE TABLE customer_days (customer_id TEXT NOT NULL, store_id TEXT NOT NULL, day BIGINT NOT NULL, orders BIGINT NOT NULL, revenue BIGINT NOT NULL, PRIMARY KEY (customer_id, store_id, day))");
            m.push("CREATE INDEX customer_days_day ON customer_days (day, store_id)");
        }
        if self.hours {
            m.push("CREATE TABLE hours (store_id TEXT NOT NULL, day BIGINT NOT NULL, hour BIGINT NOT NULL, orders BIGINT NOT NULL, revenue BIGINT NOT NULL, PRIMARY KEY (store_id, day, hour))");
        }
        if self.channels {
            m.push("CREATE TABLE channels (store_id TEXT NOT NULL, day BIGINT NOT NULL, channel BIGINT NOT NULL, orders BIGINT NOT NULL, revenue BIGINT NOT NULL, PRIMARY KEY (store_id, day, channel))");
        }
        if self.products {
            m.push("CREATE TABLE product_days (store_id TEXT NOT NULL, day BIGINT NOT NULL, product_id TEXT NOT NULL, quantity BIGINT NOT NULL, revenue BIGINT NOT NULL, PRIMARY KEY (store_id, day, product_id))");
            m.push("CREATE TABLE products (product_id TEXT PRIMARY KEY, name TEXT NOT NULL, category_id TEXT NOT NULL, category_name TEXT NOT NULL)");
        }
        m
    }
}

/// Adds a batch's deltas to the chosen tables (sums) and replaces names.
pub async fn write_deltas(conn: &mut AnyConnection, set: TableSet, d: &Deltas) -> Result<()> {
    let stores = d.stores.iter().map(|(id, s)| {
        row([
            id.as_str().into(),
            s.name.as_str().into(),
            s.city.as_str().into(),
        ])
    });
    upsert(
        conn,
        "stores",
        &["store_id"],
        &["name", "city"],
        false,
        stores,
    )
    .await?;
    if set.customer_days {
        let rows = d.customer_days.iter().map(|((c, s, day), a)| {
            row([
                c.as_str().into(),
                s.as_str().into(),
                i64::from(*day).into(),
                a.orders.into(),
                a.revenue.into(),
            ])
        });
        upsert(
            conn,
            "customer_days",
            &["customer_id", "store_id", "day"],
            &["orders", "revenue"],
            true,
            rows,
        )
        .await?;
    }
    if set.hours {
        let rows = d.hours.iter().map(|((s, day, h), a)| {
            row([
                s.as_str().into(),
                i64::from(*day).into(),
                i64::from(*h).into(),
                a.orders.into(),
                a.revenue.into(),
            ])
        });
        upsert(
            conn,
            "hours",
            &["store_id", "day", "hour"],
            &["orders", "revenue"],
            true,
            rows,
        )
        .await?;
    }
    if set.channels {
        let rows = d.channels.iter().map(|((s, day, c), a)| {
            row([
                s.as_str().into(),
                i64::from(*day).into(),
                i64::from(*c).into(),
                a.orders.into(),
                a.revenue.into(),
            ])
        });
        upsert(
            conn,
            "channels",
            &["store_id", "day", "channel"],
            &["orders", "revenue"],
            true,
            rows,
        )
        .await?;
    }
    if set.products {
        let rows = d.products.iter().map(|((s, day, p), a)| {
            row([
                s.as_str().into(),
                i64::from(*day).into(),
                p.as_str().into(),
                a.quantity.into(),
                a.revenue.into(),
            ])
        });
        upsert(
            conn,
            "product_days",
            &["store_id", "day", "product_id"],
            &["quantity", "revenue"],
            true,
            rows,
        )
        .await?;
        let info = d.product_info.iter().map(|(id, p)| {
            row([
                id.as_str().into(),
                p.name.as_str().into(),
                p.category_id.as_str().into(),
                p.category_name.as_str().into(),
            ])
        });
        upsert(
            conn,
            "products",
            &["product_id"],
            &["name", "category_id", "category_name"],
            false,
            info,
        )
        .await?;
    }
    Ok(())
}

fn row<const N: usize>(values: [Arg; N]) -> Vec<Arg> {
    values.into()
}

/// Multi-row `INSERT … ON CONFLICT DO UPDATE`: values are added to the stored
/// ones when `additive`, else they replace them. Keys must be unique in `rows`.
async fn upsert(
    conn: &mut AnyConnection,
    table: &str,
    keys: &[&str],
    values: &[&str],
    additive: bool,
    rows: impl Iterator<Item = Vec<Arg>>,
) -> Result<()> {
    let rows: Vec<Vec<Arg>> = rows.collect();
    let columns: Vec<&str> = keys.iter().chain(values).copied().collect();
    let update: Vec<String> = values
        .iter()
        .map(|v| {
            if additive {
                format!("{v} = {table}.{v} + excluded.{v}")
            } else {
                format!("{v} = excluded.{v}")
            }
        })
        .collect();
    let tail = format!(
        " ON CONFLICT ({}) DO UPDATE SET {}",
        keys.join(", "),
        update.join(", ")
    );
    for chunk in rows.chunks(200) {
        let mut sql = Sql::new(&format!(
            "INSERT INTO {table} ({}) VALUES ",
            columns.join(", ")
        ));
        for (i, r) in chunk.iter().enumerate() {
            sql.push(if i == 0 { "(" } else { ", (" });
            for (j, v) in r.iter().enumerate() {
                if j > 0 {
                    sql.push(", ");
                }
                sql.bind(v.clone());
            }
            sql.push(")");
        }
        sql.push(&tail);
        sql.query().execute(&mut *conn).await?;
    }
    Ok(())
}
