//! The basket and customer-basket tables load back into the counts the
//! committed batches were applied to, on SQLite and PostgreSQL.

use std::collections::BTreeMap;

use portrait_core::memory::{BasketCounts, Selection};
use portrait_core::{Calendar, Fold, ResolvedFilter};
use portrait_proto::v1::{Order, OrderEvent, OrderLine};
use portrait_service::Projection;
use portrait_store::Store;

use crate::ProfilerProjection;
use crate::projection::State;

fn order(id: &str, customer: &str, store: &str, products: &[&str]) -> Order {
    Order {
        order_id: id.into(),
        customer_id: customer.into(),
        store_id: store.into(),
        city: format!("city of {store}"),
        placed_at_ms: 1_740_758_400_000,
        net_amount_fen: 100,
        lines: (products.iter())
            .map(|p| OrderLine {
                product_id: (*p).into(),
                product_name: format!("name of {p}"),
                quantity: 1,
                net_amount_fen: 100,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// Counts with names instead of dense ids, which depend on arrival order.
type Named = (i64, BTreeMap<String, i64>, BTreeMap<(String, String), i64>);

fn named(s: &State, c: &BasketCounts) -> Named {
    let name = |p: u32| s.days.product(p).0.to_owned();
    let products = (0..c.products.len() as u32)
        .filter(|p| c.product(*p) != 0)
        .map(|p| (name(p), c.product(p)))
        .collect();
    let pairs = (c.pairs.iter())
        .map(|(a, b, n)| {
            let (a, b) = (name(*a), name(*b));
            (if a < b { (a, b) } else { (b, a) }, *n)
        })
        .collect();
    (c.baskets, products, pairs)
}

/// Both bases for no filter, one store and two stores.
fn answers(p: &ProfilerProjection) -> Vec<(Named, Named)> {
    let (s, _) = p.live.read();
    let n = s.days.product_count();
    let filters: [&[&str]; 3] = [&[], &["s1"], &["s1", "s2"]];
    filters
        .iter()
        .map(|stores| {
            let f = ResolvedFilter {
                store_ids: stores.iter().map(|s| (*s).to_owned()).collect(),
                cities: vec![],
                from: None,
                to: 0,
                as_of: 0,
            };
            let sel: Selection = s.customers.stores.select(&f);
            (
                named(&s, &s.baskets.counts(&sel, n)),
                named(&s, &s.customer_pairs.counts(&sel, n)),
            )
        })
        .collect()
}

async fn commit(store: &Store, p: &ProfilerProjection, events: &[OrderEvent]) {
    let mut delta = <ProfilerProjection as Projection>::Delta::default();
    for e in events {
        delta.apply(&Calendar::default(), e);
    }
    ProfilerProjection::prune(&mut delta);
    let mut tx = store.begin().await.expect("tx");
    p.write(&mut tx, &delta).await.expect("write");
    tx.commit().await.expect("commit");
    p.apply(&delta);
}

async fn load_equals_applied(store: Store) {
    let p = ProfilerProjection::default();
    for (scope, list) in p.migrations() {
        store.migrate(scope, list).await.expect("migrate");
    }
    let first = order("1", "c1", "s1", &["tea", "bun", "tea"]);
    let changed = order("1", "c1", "s1", &["tea", "rice"]);
    let event = |order: &Order, previous: Option<&Order>| OrderEvent {
        order: Some(order.clone()),
        previous: previous.cloned(),
        ..Default::default()
    };
    commit(
        &store,
        &p,
        &[
            event(&first, None),
            event(&order("2", "c1", "s2", &["bun"]), None),
            event(&order("3", "", "s2", &["tea", "bun"]), None),
            event(&order("4", "c2", "s1", &["bun", "rice"]), None),
        ],
    )
    .await;
    // A change that leaves zero rows behind (c1's bun at s1, the pair tea-bun).
    commit(&store, &p, &[event(&changed, Some(&first))]).await;
    let applied = answers(&p);
    // What the second batch left, by hand: baskets 4 (1 changed, 2, 3, 4).
    let (baskets, customers) = &applied[0];
    assert_eq!(baskets.0, 4);
    assert_eq!(baskets.2.get(&("bun".into(), "tea".into())), Some(&1));
    // Customers: c1 (tea, rice at s1; bun at s2), c2 (bun, rice at s1).
    assert_eq!(customers.0, 2);
    assert_eq!(customers.2.get(&("bun".into(), "rice".into())), Some(&2));
    assert_eq!(applied[1].1.2.get(&("bun".into(), "rice".into())), Some(&1));

    let fresh = ProfilerProjection::default();
    fresh.load(&store).await.expect("load");
    assert_eq!(answers(&fresh), applied);
}

#[tokio::test]
async fn load_equals_applied_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/profiler.db", dir.path().display());
    load_equals_applied(Store::connect(&url).await.expect("store")).await;
}

#[tokio::test]
async fn load_equals_applied_on_postgres() {
    let Some(url) = portrait_testkit::postgres::fresh_database().await else {
        return;
    };
    load_equals_applied(Store::connect(&url).await.expect("store")).await;
}
