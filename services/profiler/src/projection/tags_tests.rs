//! The customer book's hour and channel tags follow orders whose versions
//! move them (another hour, another channel, taken back), batch by batch;
//! the state loaded from the tables afterwards holds the same; and the book's
//! rows stay the `customer_days` table's.

use std::collections::BTreeMap;

use portrait_core::{Calendar, Fold};
use portrait_proto::v1::{Order, OrderLine};
use portrait_service::Projection;

use super::order_tags::hour_channel;
use super::*;

const HOUR_MS: i64 = 3_600_000;
/// 2025-03-01 00:00 in Shanghai.
const START_MS: i64 = 1_740_758_400_000;

/// (customer, store, day, hour, channel) → sums.
type Parts = BTreeMap<(String, String, Day, u8, i32), Acc>;

/// An order version drawn from `n`: three customers, two stores, two days,
/// a few hours and channels, so that one (customer, store, day) often holds
/// orders of different hours and channels.
fn version(id: u64, n: u64) -> Order {
    let customer = format!("c{}", id % 3);
    let store = format!("s{}", (id / 3) % 2);
    let day = ((id + n) % 2) as i64;
    let hour = [8, 12, 19][(n % 3) as usize];
    Order {
        order_id: format!("o{id}"),
        customer_id: customer,
        store_id: store,
        channel: 1 + ((n / 3) % 3) as i32,
        placed_at_ms: START_MS + day * 24 * HOUR_MS + hour * HOUR_MS,
        net_amount_fen: 100 + (n % 7) as i64 * 10,
        lines: vec![OrderLine {
            product_id: "p1".into(),
            category_id: "k1".into(),
            quantity: 1,
            net_amount_fen: 100 + (n % 7) as i64 * 10,
            ..OrderLine::default()
        }],
        ..Order::default()
    }
}

fn parts_of(state: &State) -> Parts {
    let book = &state.customers.book;
    let mut got = Parts::new();
    for c in 0..book.customers().len() as u32 {
        book.tagged_rows(c, None, |day, store, tag, acc| {
            let (hour, channel) = hour_channel(tag).unwrap_or((u8::MAX, -1));
            let store = state.customers.stores.name(store).to_owned();
            let key = (
                book.customers().name(c).to_owned(),
                store,
                day,
                hour,
                channel,
            );
            got.entry(key).or_default().add(acc);
        });
    }
    got.retain(|_, a| !a.is_zero());
    got
}

async fn tags_follow_changed_orders(store: Store) {
    let p = ProfilerProjection::default();
    for (scope, migrations) in p.migrations() {
        store.migrate(scope, migrations).await.expect("migrated");
    }
    let cal = Calendar::new("Asia/Shanghai").expect("calendar");
    let mut latest: BTreeMap<u64, Order> = BTreeMap::new();
    // A cheap deterministic walk: which order, and what its next version is.
    let mut x = 7_u64;
    for _batch in 0..40 {
        let mut delta = Delta::default();
        for _ in 0..5 {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let (id, n) = ((x >> 33) % 12, (x >> 17) % 1_000);
            if let Some(old) = latest.get(&id) {
                delta.add(&cal, old, -1);
            }
            // One change in eight takes the order back.
            if n % 8 == 0 {
                latest.remove(&id);
            } else {
                let new = version(id, n);
                delta.add(&cal, &new, 1);
                latest.insert(id, new);
            }
        }
        ProfilerProjection::prune(&mut delta);
        let mut tx = store.begin().await.expect("tx");
        p.write(&mut tx, &delta).await.expect("written");
        tx.commit().await.expect("committed");
        p.apply(&delta);
    }
    let mut want = Parts::new();
    for o in latest.values() {
        let (day, hour) = cal.day_hour(o.placed_at_ms);
        let key = (
            o.customer_id.clone(),
            o.store_id.clone(),
            day,
            hour,
            o.channel,
        );
        want.entry(key).or_default().add(Acc {
            orders: 1,
            revenue: o.net_amount_fen,
        });
    }
    let mixed = {
        let (state, _) = p.live.read();
        assert_eq!(parts_of(&state), want, "live");
        state.customers.book.mixed_rows()
    };
    assert!(mixed > 0, "no row held orders of two hours or channels");
    let loaded = ProfilerProjection::default();
    loaded.load(&store).await.expect("loaded");
    // Each book row is its `customer_days` row, retracted rows included.
    let table: Vec<(String, String, i64, i64, i64)> =
        sqlx::query_as("SELECT customer_id, store_id, day, orders, revenue FROM customer_days")
            .fetch_all(store.pool())
            .await
            .expect("rows");
    let (state, _) = loaded.live.read();
    assert_eq!(parts_of(&state), want, "loaded");
    let mut rows: Vec<(String, String, i64, i64, i64)> = Vec::new();
    let book = &state.customers.book;
    for c in 0..book.customers().len() as u32 {
        book.rows(c, |day, s, a| {
            let (name, store) = (book.customers().name(c), state.customers.stores.name(s));
            rows.push((name.into(), store.into(), day.into(), a.orders, a.revenue));
        });
    }
    rows.sort();
    let mut table = table;
    table.sort();
    assert_eq!(rows, table);
}

#[tokio::test]
async fn tags_follow_changed_orders_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/profiler.db", dir.path().display());
    tags_follow_changed_orders(Store::connect(&url).await.expect("store")).await;
}

#[tokio::test]
async fn tags_follow_changed_orders_on_postgres() {
    let Some(url) = portrait_testkit::postgres::fresh_database().await else {
        return;
    };
    tags_follow_changed_orders(Store::connect(&url).await.expect("store")).await;
}
