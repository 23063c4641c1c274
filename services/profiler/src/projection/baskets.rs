//! The counts behind product associations: basket counts written per batch;
//! customer pairs fed by the customer portrait's product rows
//! (`customer_products`); both loaded at start and added to the serving
//! state after each commit.

use portrait_core::{BasketPairs, CustomerVisits};
use portrait_service::Result;
use portrait_store::{Key, scan, upsert};
use sqlx::{AnyConnection, AnyPool};

use super::State;

pub(super) fn apply(state: &mut State, d: &BasketPairs, visits: &CustomerVisits) {
    apply_customers(state, visits);
    let stores = &mut state.customers.stores;
    for (store, n) in &d.baskets {
        state.baskets.add_baskets(stores.id(store), *n);
    }
    for ((store, product), n) in &d.products {
        let p = state.days.intern_product(product);
        state.baskets.add_product(stores.id(store), p, *n);
    }
    for ((store, a, b), n) in &d.pairs {
        let (a, b) = (state.days.intern_product(a), state.days.intern_product(b));
        state.baskets.add_pair(stores.id(store), a, b, *n);
    }
}

/// A customer row into the customer pairs, by the customer book's id (`id`,
/// looked up by the caller): every customer with a product row has a
/// customer-day row (an order that held the product), applied and loaded
/// before these.
fn add_customer(state: &mut State, row: (&str, &str, &str), id: Option<u32>, n: i64) {
    let (store, customer, product) = row;
    let Some(c) = id else {
        no_customer_days(customer);
        return;
    };
    let (s, p) = (
        state.customers.stores.id(store),
        state.days.intern_product(product),
    );
    state.customer_pairs.add(c, s, p, n);
}

pub(super) fn no_customer_days(customer: &str) {
    tracing::error!(
        customer,
        "customer products of a customer without customer days"
    );
}

/// The customer portrait's product rows (orders that held the product, per
/// day, store and customer) are what the customer pairs count.
fn apply_customers(state: &mut State, visits: &CustomerVisits) {
    for ((_, store, customer, product), acc) in &visits.products {
        if acc.orders != 0 {
            let id = state.customers.book.customers().get(customer);
            add_customer(state, (store, customer, product), id, acc.orders);
        }
    }
}

/// The batch's changes, each table's rows in key order (the maps' order).
pub(super) async fn write(conn: &mut AnyConnection, d: &BasketPairs) -> Result<()> {
    let rows = (d.baskets.iter())
        .map(|(s, n)| vec![s.as_str().into(), (*n).into()])
        .collect();
    upsert(conn, "baskets", &["store_id"], &["baskets"], true, rows).await?;
    let rows = (d.products.iter())
        .map(|((s, p), n)| vec![s.as_str().into(), p.as_str().into(), (*n).into()])
        .collect();
    let keys = ["store_id", "product_id"];
    upsert(conn, "basket_products", &keys, &["baskets"], true, rows).await?;
    let rows = (d.pairs.iter())
        .map(|((s, a, b), n)| {
            vec![
                s.as_str().into(),
                a.as_str().into(),
                b.as_str().into(),
                (*n).into(),
            ]
        })
        .collect();
    let keys = ["store_id", "product_a", "product_b"];
    upsert(conn, "basket_pairs", &keys, &["baskets"], true, rows).await?;
    Ok(())
}

pub(super) async fn load(pool: &AnyPool, state: &mut State) -> Result<()> {
    let (stores, days, book) = (
        &mut state.customers.stores,
        &mut state.days,
        &mut state.baskets,
    );
    let columns = ["store_id", "baskets"];
    scan(pool, "baskets", &[Key::Text("store_id")], &columns, |r| {
        book.add_baskets(stores.id(r.text("store_id")?), r.int("baskets")?);
        Ok(())
    })
    .await?;
    let keys = [Key::Text("store_id"), Key::Text("product_id")];
    let columns = ["store_id", "product_id", "baskets"];
    scan(pool, "basket_products", &keys, &columns, |r| {
        let n = r.int("baskets")?;
        if n != 0 {
            let p = days.intern_product(r.text("product_id")?);
            book.add_product(stores.id(r.text("store_id")?), p, n);
        }
        Ok(())
    })
    .await?;
    let keys = [
        Key::Text("store_id"),
        Key::Text("product_a"),
        Key::Text("product_b"),
    ];
    let columns = ["store_id", "product_a", "product_b", "baskets"];
    scan(pool, "basket_pairs", &keys, &columns, |r| {
        let n = r.int("baskets")?;
        if n != 0 {
            let a = days.intern_product(r.text("product_a")?);
            let b = days.intern_product(r.text("product_b")?);
            book.add_pair(stores.id(r.text("store_id")?), a, b, n);
        }
        Ok(())
    })
    .await?;
    super::pairs_load::load(pool, state).await
}

#[cfg(test)]
mod tests;
