//! The customer pairs' load from `customer_products`, the largest table the
//! profiler loads (19.4M rows at 10M orders), read apart from its applying
//! (`scan_apart`): this task turns store and product names into ids, and the
//! applier's thread, which owns the pairs and the customer book meanwhile,
//! looks each customer up among a million names and adds the row.

use portrait_core::memory::{CustomerBook, CustomerPairs};
use portrait_service::Result;
use portrait_store::{Key, Named, scan_apart};
use sqlx::AnyPool;

use super::State;
use super::baskets::no_customer_days;

/// A row: (store, product, orders), named by its customer.
type Row = (u32, u32, i64);

pub(super) async fn load(pool: &AnyPool, state: &mut State) -> Result<()> {
    let keys = [
        Key::Int("day"),
        Key::Text("store_id"),
        Key::Text("customer_id"),
        Key::Text("product_id"),
    ];
    let columns = ["day", "store_id", "customer_id", "product_id", "orders"];
    let owned = (
        std::mem::take(&mut state.customer_pairs),
        std::mem::take(&mut state.customers.book),
        Vec::new(),
    );
    let (stores, days) = (&mut state.customers.stores, &mut state.days);
    let (pairs, book, _) = scan_apart(
        pool,
        "customer_products",
        &keys,
        &columns,
        owned,
        |r, batch| {
            let n = r.int("orders")?;
            if n != 0 {
                let s = stores.id(r.text("store_id")?);
                let p = days.intern_product(r.text("product_id")?);
                // A customer's products on a day come together (the key
                // order): one name, and one lookup, per run.
                batch.push(r.text("customer_id")?, (s, p, n));
            }
            Ok(())
        },
        apply,
    )
    .await?;
    (state.customer_pairs, state.customers.book) = (pairs, book);
    Ok(())
}

/// The pairs' counts from the loaded sets, on a blocking thread: a core's
/// work for seconds at 10M orders, which the caller overlaps with a load of
/// its own.
pub(super) fn count(
    mut pairs: CustomerPairs,
    products: usize,
) -> tokio::task::JoinHandle<CustomerPairs> {
    tokio::task::spawn_blocking(move || {
        pairs.recount(products);
        pairs.compact();
        pairs
    })
}

fn apply(
    (pairs, book, ids): &mut (CustomerPairs, CustomerBook, Vec<Option<u32>>),
    batch: &Named<Row>,
) {
    // The lookups first, in a loop of their own: each is a few cache misses,
    // and independent ones overlap.
    ids.clear();
    ids.extend(batch.names().map(|name| book.customers().get(name)));
    for &(at, (s, p, n)) in batch.rows() {
        match ids.get(at as usize).copied().flatten() {
            Some(c) => pairs.add_loaded(c, s, p, n),
            None => no_customer_days(batch.name_of(at)),
        }
    }
}
