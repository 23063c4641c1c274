//! The customer-day component every consumer service keeps: the `stores` and
//! `customer_days` tables, written per batch and loaded into memory at start.

use portrait_core::memory::{BookLoader, CustomerState, NewRows, Stores, Tag};
use portrait_core::{Acc, CustomerDays, StoreInfo};
use sqlx::{AnyConnection, AnyPool};

use crate::{Key, Migration, Result, ScanRow, add_rows, migrations, scan, scan_apart, upsert};

pub const CUSTOMER_DAYS_MIGRATIONS: &[Migration] = migrations!(
    "migrations/customer_days",
    [
        "0001_stores",
        "0002_customer_days",
        "0003_customer_days_by_day"
    ]
);

/// Adds a batch's rows to `customer_days` and replaces the stores' names;
/// `new` are the rows the serving state does not hold yet (written by a
/// plain insert) and the stores it holds otherwise (the others are left).
pub async fn write_customer_days(
    conn: &mut AnyConnection,
    d: &CustomerDays,
    new: &NewRows<'_>,
) -> Result<()> {
    let stores = (d.stores.iter())
        .filter(|(id, _)| new.has_store(id))
        .map(|(id, s)| {
            vec![
                id.as_str().into(),
                s.name.as_str().into(),
                s.city.as_str().into(),
            ]
        })
        .collect::<Vec<_>>();
    upsert(
        conn,
        "stores",
        &["store_id"],
        &["name", "city"],
        false,
        stores,
    )
    .await?;
    // In the table's key order: the statements then walk the tree forward.
    let mut sorted: Vec<_> = d.rows.iter().collect();
    sorted.sort_unstable_by(|((c1, s1, d1), _), ((c2, s2, d2), _)| (d1, s1, c1).cmp(&(d2, s2, c2)));
    let rows = (sorted.into_iter())
        .map(|((c, s, day), a)| {
            let row = vec![
                i64::from(*day).into(),
                s.as_str().into(),
                c.as_str().into(),
                a.orders.into(),
                a.revenue.into(),
            ];
            (new.contains(&(c.as_str(), s.as_str(), *day)), row)
        })
        .collect();
    let keys = ["day", "store_id", "customer_id"];
    add_rows(conn, "customer_days", &keys, &["orders", "revenue"], rows).await
}

/// Reads both tables into a fresh serving state.
pub async fn load_customer_days(pool: &AnyPool) -> Result<CustomerState> {
    let keys = [
        Key::Int("day"),
        Key::Text("store_id"),
        Key::Text("customer_id"),
    ];
    let columns = ["day", "store_id", "customer_id", "orders", "revenue"];
    load_customer_state(pool, "customer_days", &keys, &columns, None).await
}

/// Reads the tag of a row of customer orders.
pub type TagOf = dyn Fn(&ScanRow<'_>) -> Result<Tag> + Sync;

/// Reads `stores`, then `table`'s (day, store_id, customer_id, orders,
/// revenue) rows into the customer book, paged by `keys` (all among
/// `columns`). With `tag`, the book is tagged: the table may hold several
/// rows of one (customer, store, day), each read with its tag, and the book
/// sums them.
pub async fn load_customer_state(
    pool: &AnyPool,
    table: &str,
    keys: &[Key],
    columns: &[&str],
    tag: Option<&TagOf>,
) -> Result<CustomerState> {
    let mut state = CustomerState::default();
    load_stores(pool, &mut state.stores).await?;
    let stores = &mut state.stores;
    let loader = match tag {
        Some(_) => BookLoader::tagged(),
        None => BookLoader::default(),
    };
    // Interning a million customers is most of this load: it runs on the
    // applier's thread while this task reads the next rows.
    let book = scan_apart(
        pool,
        table,
        keys,
        columns,
        loader,
        |r, batch| {
            let store = stores.id(r.text("store_id")?);
            let acc = Acc {
                orders: r.int("orders")?,
                revenue: r.int("revenue")?,
            };
            let day = crate::day(r.int("day")?)?;
            let tag = tag.map_or(Ok(Tag::UNKNOWN), |tag| tag(r))?;
            batch.push(r.text("customer_id")?, (store, day, acc, tag));
            Ok(())
        },
        |book, batch| {
            for &(at, (store, day, acc, tag)) in batch.rows() {
                book.push_tagged(batch.name_of(at), store, day, acc, tag);
            }
        },
    )
    .await?;
    state.book = book.finish();
    Ok(state)
}

/// Reads the `stores` table: names and cities, each store's dense id.
async fn load_stores(pool: &AnyPool, stores: &mut Stores) -> Result<()> {
    let columns = ["store_id", "name", "city"];
    scan(pool, "stores", &[Key::Text("store_id")], &columns, |r| {
        let info = StoreInfo {
            name: r.text("name")?.to_owned(),
            city: r.text("city")?.to_owned(),
        };
        stores.describe(r.text("store_id")?, &info);
        Ok(())
    })
    .await?;
    Ok(())
}
