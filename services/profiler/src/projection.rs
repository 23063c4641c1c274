//! What the profiler keeps: customer days (distinct customers, lifetime value)
//! and store days (orders by hour and channel, products), in its own tables
//! and, for serving, in memory.

use portrait_core::memory::{
    BasketBook, CHANNEL_SLOTS, CustomerBook, CustomerPairs, CustomerState, HeapSize, StoreBook,
};
use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use portrait_core::{
    Acc, BasketPairs, CustomerDays, CustomerVisits, Day, ProductAcc, ProductInfo, RefundDays,
    StoreDays,
};
use portrait_service::{Live, Projection, Result};
use portrait_store::{
    CUSTOMER_DAYS_MIGRATIONS, Key, Migration, ScanRow, Store, add_rows, migrations, scan, upsert,
    write_customer_days,
};
use sqlx::{AnyConnection, AnyPool};
use tracing::info;

const MIGRATIONS: &[Migration] = migrations!(
    "migrations",
    [
        "0001_store_days",
        "0002_category_days",
        "0003_store_days_by_day",
        "0004_customer_visits",
        "0005_baskets",
        "0006_refund_days"
    ]
);

#[derive(Debug)]
pub(crate) struct State {
    pub(crate) customers: CustomerState,
    pub(crate) days: StoreBook,
    pub(crate) baskets: BasketBook,
    pub(crate) customer_pairs: CustomerPairs,
    pub(crate) refunds: refunds::RefundBook,
}

impl Default for State {
    fn default() -> Self {
        Self {
            customers: CustomerState {
                book: CustomerBook::tagged(),
                ..CustomerState::default()
            },
            days: StoreBook::default(),
            baskets: BasketBook::default(),
            customer_pairs: CustomerPairs::default(),
            refunds: refunds::RefundBook::default(),
        }
    }
}

impl State {
    fn apply(&mut self, (customers, days, visits, baskets, refund_days): &Delta) {
        // The book's rows from the orders, each under its hour and channel:
        // they sum to the customer days' rows.
        let parts =
            (visits.orders.iter()).map(|((day, store, customer, _, hour, channel), acc)| {
                let tag = order_tags::tag(*hour, *channel);
                (customer.as_str(), store.as_str(), *day, tag, *acc)
            });
        self.customers.apply_tagged(customers, parts);
        let stores = &mut self.customers.stores;
        for (id, info) in &days.product_info {
            self.days.describe_product(id, info);
        }
        for ((store, day, hour), acc) in &days.hours {
            self.days.add_hour(stores.id(store), *day, *hour, *acc);
        }
        for ((store, day, channel), acc) in &days.channels {
            self.days
                .add_channel(stores.id(store), *day, *channel, *acc);
        }
        for ((store, day, product), acc) in &days.products {
            self.days.add_product(stores.id(store), *day, product, *acc);
        }
        for (id, name) in &days.category_names {
            self.days.describe_category(id, name);
        }
        for ((store, day, category), acc) in &days.categories {
            self.days
                .add_category(stores.id(store), *day, category, *acc);
        }
        baskets::apply(self, baskets, visits);
        refunds::apply(self, refund_days);
    }
}

/// Customer days, store days, the customer portrait's rows (kept in the
/// tables only: `crate::customer` reads them per customer, but their product
/// rows also feed the associations over customers), the basket counts and
/// the refund counts.
type Delta = (
    CustomerDays,
    StoreDays,
    CustomerVisits,
    BasketPairs,
    RefundDays,
);

#[derive(Debug, Default)]
pub struct ProfilerProjection {
    pub(crate) live: Live<State>,
}

impl Projection for ProfilerProjection {
    type Delta = Delta;

    fn name(&self) -> &'static str {
        "profiler"
    }

    fn migrations(&self) -> Vec<(&'static str, &'static [Migration])> {
        vec![
            ("customer_days", CUSTOMER_DAYS_MIGRATIONS),
            ("profiler", MIGRATIONS),
        ]
    }

    fn prune(delta: &mut Self::Delta) {
        delta.0.prune();
        delta.1.prune();
        delta.2.prune();
        delta.3.prune();
        delta.4.prune();
    }

    async fn write(&self, conn: &mut AnyConnection, delta: &Self::Delta) -> Result<()> {
        let (new, new_days) = {
            let (state, _) = self.live.read();
            (state.customers.new_rows(&delta.0), state.new_days(&delta.1))
        };
        write_customer_days(conn, &delta.0, &new).await?;
        write_store_days(conn, &delta.1, &new_days).await?;
        visits::write_visits(conn, &delta.2, &new).await?;
        baskets::write(conn, &delta.3).await?;
        refunds::write(conn, &delta.4).await
    }

    async fn load(&self, store: &Store) -> Result<()> {
        // Each part's time is logged: where a slow start-up goes.
        let mut since = Instant::now();
        let mut loaded = |part: &str| {
            let elapsed_ms = since.elapsed().as_millis() as u64;
            info!(part, elapsed_ms, "part of the serving state loaded");
            since = Instant::now();
        };
        let mut state = State {
            customers: order_tags::load_customers(store.pool()).await?,
            ..State::default()
        };
        loaded("customer days");
        baskets::load(store.pool(), &mut state).await?;
        loaded("baskets and customer pairs");
        // The store days, which the pairs do not need, load while a core
        // counts the pairs.
        let products = state.days.product_count();
        let counting = pairs_load::count(std::mem::take(&mut state.customer_pairs), products);
        load_store_days(store.pool(), &mut state).await?;
        loaded("store days");
        state.customer_pairs = match counting.await {
            Ok(pairs) => pairs,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => {
                let what = format!("counting the customer pairs: {e}");
                return Err(portrait_store::Error::Stopped(what).into());
            }
        };
        loaded("customer pair counts");
        refunds::load(store.pool(), &mut state).await?;
        loaded("refunds");
        self.live.replace(state);
        Ok(())
    }

    fn apply(&self, delta: &Self::Delta) {
        self.live.update(|s| s.apply(delta));
    }

    fn state_bytes(&self) -> Vec<(&'static str, usize)> {
        let s = self.live.read().0;
        let mut parts = s.customers.heap_parts().to_vec();
        parts.extend([
            ("store_days", s.days.heap_bytes()),
            ("baskets", s.baskets.heap_bytes()),
            ("refunds", s.refunds.heap_bytes()),
        ]);
        parts.extend(s.customer_pairs.heap_parts());
        parts
    }
}

/// A batch's store-day rows the serving state does not hold: written by a
/// plain insert (`portrait_store::add_rows`).
struct NewDays<'a> {
    hours: HashSet<&'a (String, Day, u8)>,
    channels: HashSet<&'a (String, Day, i32)>,
    products: HashSet<&'a (String, Day, String)>,
    categories: HashSet<&'a (String, Day, String)>,
}

impl State {
    fn new_days<'a>(&self, d: &'a StoreDays) -> NewDays<'a> {
        let (id, days) = (|s: &str| self.customers.stores.get(s), &self.days);
        NewDays {
            hours: (d.hours.keys())
                .filter(|(s, day, h)| !id(s).is_some_and(|s| days.has_hour(s, *day, *h)))
                .collect(),
            channels: (d.channels.keys())
                .filter(|(s, day, c)| !id(s).is_some_and(|s| days.has_channel(s, *day, *c)))
                .collect(),
            products: (d.products.keys())
                .filter(|(s, day, p)| !id(s).is_some_and(|s| days.has_product(s, *day, p)))
                .collect(),
            categories: (d.categories.keys())
                .filter(|(s, day, c)| !id(s).is_some_and(|s| days.has_category(s, *day, c)))
                .collect(),
        }
    }
}

async fn write_store_days(
    conn: &mut AnyConnection,
    d: &StoreDays,
    new: &NewDays<'_>,
) -> Result<()> {
    write_slot_days(conn, "hours", "hour", &d.hours, &new.hours).await?;
    write_slot_days(conn, "channels", "channel", &d.channels, &new.channels).await?;
    write_item_days(
        conn,
        "product_days",
        "product_id",
        &d.products,
        &new.products,
    )
    .await?;
    write_item_days(
        conn,
        "category_days",
        "category_id",
        &d.categories,
        &new.categories,
    )
    .await?;
    let names: Vec<_> = d
        .category_names
        .iter()
        .map(|(id, name)| vec![id.as_str().into(), name.as_str().into()])
        .collect();
    upsert(
        conn,
        "categories",
        &["category_id"],
        &["name"],
        false,
        names,
    )
    .await?;
    let info = d
        .product_info
        .iter()
        .map(|(id, p)| {
            vec![
                id.as_str().into(),
                p.name.as_str().into(),
                p.category_id.as_str().into(),
                p.category_name.as_str().into(),
            ]
        })
        .collect::<Vec<_>>();
    let names = ["name", "category_id", "category_name"];
    Ok(upsert(conn, "products", &["product_id"], &names, false, info).await?)
}

async fn load_store_days(pool: &AnyPool, state: &mut State) -> Result<()> {
    let (stores, days) = (&mut state.customers.stores, &mut state.days);
    let columns = ["product_id", "name", "category_id", "category_name"];
    scan(
        pool,
        "products",
        &[Key::Text("product_id")],
        &columns,
        |r| {
            let info = ProductInfo {
                name: r.text("name")?.to_owned(),
                category_id: r.text("category_id")?.to_owned(),
                category_name: r.text("category_name")?.to_owned(),
            };
            days.describe_product(r.text("product_id")?, &info);
            Ok(())
        },
    )
    .await?;
    let acc = |r: &ScanRow<'_>| -> portrait_store::Result<Acc> {
        Ok(Acc {
            orders: r.int("orders")?,
            revenue: r.int("revenue")?,
        })
    };
    let keys = [Key::Int("day"), Key::Text("store_id"), Key::Int("hour")];
    let columns = ["day", "store_id", "hour", "orders", "revenue"];
    scan(pool, "hours", &keys, &columns, |r| {
        let hour = stored_hour(r.int("hour")?)?;
        let day = portrait_store::day(r.int("day")?)?;
        days.add_hour(stores.id(r.text("store_id")?), day, hour, acc(r)?);
        Ok(())
    })
    .await?;
    let keys = [Key::Int("day"), Key::Text("store_id"), Key::Int("channel")];
    let columns = ["day", "store_id", "channel", "orders", "revenue"];
    scan(pool, "channels", &keys, &columns, |r| {
        let channel = r.int("channel")?;
        let channel = i32::try_from(channel)
            .ok()
            .filter(|c| (0..CHANNEL_SLOTS as i32).contains(c))
            .ok_or_else(|| corrupt("channel", channel))?;
        let day = portrait_store::day(r.int("day")?)?;
        days.add_channel(stores.id(r.text("store_id")?), day, channel, acc(r)?);
        Ok(())
    })
    .await?;
    scan_item_days(
        pool,
        "product_days",
        "product_id",
        |store, day, item, acc| {
            days.add_product(stores.id(store), day, item, acc);
        },
    )
    .await?;
    let columns = ["category_id", "name"];
    scan(
        pool,
        "categories",
        &[Key::Text("category_id")],
        &columns,
        |r| {
            days.describe_category(r.text("category_id")?, &r.text("name")?.to_owned());
            Ok(())
        },
    )
    .await?;
    scan_item_days(
        pool,
        "category_days",
        "category_id",
        |store, day, item, acc| {
            days.add_category(stores.id(store), day, item, acc);
        },
    )
    .await?;
    days.compact();
    Ok(())
}

/// Rows keyed by (store, day, slot) with orders and revenue: hours, channels.
async fn write_slot_days<K: Ord + Copy + std::hash::Hash + Into<i64>>(
    conn: &mut AnyConnection,
    table: &str,
    slot: &str,
    rows: &BTreeMap<(String, Day, K), Acc>,
    new: &HashSet<&(String, Day, K)>,
) -> Result<()> {
    let rows = (day_first(rows).into_iter())
        .map(|(key, a)| {
            let row = vec![
                i64::from(key.1).into(),
                key.0.as_str().into(),
                portrait_store::Arg::Int(key.2.into()),
                a.orders.into(),
                a.revenue.into(),
            ];
            (new.contains(key), row)
        })
        .collect();
    let keys = ["day", "store_id", slot];
    Ok(add_rows(conn, table, &keys, &["orders", "revenue"], rows).await?)
}

/// Rows keyed by (store, day, item) with units and revenue: products, categories.
async fn write_item_days(
    conn: &mut AnyConnection,
    table: &str,
    item: &str,
    rows: &BTreeMap<(String, Day, String), ProductAcc>,
    new: &HashSet<&(String, Day, String)>,
) -> Result<()> {
    let rows = (day_first(rows).into_iter())
        .map(|(key, a)| {
            let row = vec![
                i64::from(key.1).into(),
                key.0.as_str().into(),
                key.2.as_str().into(),
                a.quantity.into(),
                a.revenue.into(),
            ];
            (new.contains(key), row)
        })
        .collect();
    let keys = ["day", "store_id", item];
    Ok(add_rows(conn, table, &keys, &["quantity", "revenue"], rows).await?)
}

async fn scan_item_days(
    pool: &AnyPool,
    table: &'static str,
    item: &'static str,
    mut each: impl FnMut(&str, Day, &str, ProductAcc) + Send,
) -> Result<()> {
    let keys = [Key::Int("day"), Key::Text("store_id"), Key::Text(item)];
    let columns = ["day", "store_id", item, "quantity", "revenue"];
    scan(pool, table, &keys, &columns, |r| {
        let sold = ProductAcc {
            quantity: r.int("quantity")?,
            revenue: r.int("revenue")?,
        };
        let day = portrait_store::day(r.int("day")?)?;
        each(r.text("store_id")?, day, r.text(item)?, sold);
        Ok(())
    })
    .await?;
    Ok(())
}

/// A batch's (store, day, key) rows in the tables' key order, day first, so
/// each statement walks the tree forward instead of hopping between stores.
fn day_first<K: Ord, A>(rows: &BTreeMap<(String, Day, K), A>) -> Vec<(&(String, Day, K), &A)> {
    let mut sorted: Vec<_> = rows.iter().collect();
    sorted.sort_unstable_by(|((s1, d1, k1), _), ((s2, d2, k2), _)| (d1, s1, k1).cmp(&(d2, s2, k2)));
    sorted
}

fn corrupt(column: &str, value: i64) -> portrait_store::Error {
    portrait_store::Error::Corrupt(format!("{column} {value} is out of range"))
}

/// A local hour as a table holds it: 0 to 23, else the table is corrupt.
pub(crate) fn stored_hour(hour: i64) -> Result<u8, portrait_store::Error> {
    (u8::try_from(hour).ok())
        .filter(|h| *h < 24)
        .ok_or_else(|| corrupt("hour", hour))
}

/// An order's channel number as a table holds it.
pub(crate) fn stored_channel(channel: i64) -> Result<i32, portrait_store::Error> {
    i32::try_from(channel).map_err(|_| corrupt("channel", channel))
}

mod baskets;
pub(crate) mod order_tags;
mod pairs_load;
mod refunds;
#[cfg(test)]
mod tags_tests;
#[cfg(test)]
mod tests;
pub(crate) mod visits;
