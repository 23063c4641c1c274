//! One contract suite for the store helpers, run against SQLite and against a
//! real PostgreSQL (started by `tests/run`).

use std::collections::BTreeMap;

use portrait_core::{Acc, Calendar, CustomerAgg, Deltas, ProductAcc, ResolvedFilter, StoreInfo};
use portrait_store::{BASE_MIGRATIONS, Sql, Store, TableSet};
use sqlx::Row;

const ALL: TableSet = TableSet {
    customer_days: true,
    hours: true,
    channels: true,
    products: true,
};

async fn sqlite() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/nested/store.db", dir.path().display());
    (Store::connect(&url).await.expect("sqlite store"), dir)
}

async fn postgres() -> Store {
    Store::connect(&portrait_testkit::postgres::fresh_database().await)
        .await
        .expect("postgres store")
}

async fn migrated(store: &Store) {
    let mut m = BASE_MIGRATIONS.to_vec();
    m.extend(ALL.migrations());
    store.migrate("test", &m).await.expect("migrate");
    // Idempotent: a restart migrates again.
    store.migrate("test", &m).await.expect("migrate again");
}

fn filter(stores: &[&str], cities: &[&str], from: Option<i32>, to: i32) -> ResolvedFilter {
    ResolvedFilter {
        store_ids: stores.iter().map(|s| s.to_string()).collect(),
        cities: cities.iter().map(|s| s.to_string()).collect(),
        from,
        to,
        as_of: to - 1,
    }
}

fn deltas(rows: &[(&str, &str, i32, i64, i64)]) -> Deltas {
    let mut d = Deltas::default();
    for &(c, s, day, orders, revenue) in rows {
        d.customer_days
            .insert((c.into(), s.into(), day), Acc { orders, revenue });
        d.hours.insert((s.into(), day, 12), Acc { orders, revenue });
        d.products.insert(
            (s.into(), day, "p1".into()),
            ProductAcc {
                quantity: orders,
                revenue,
            },
        );
        d.stores.insert(
            s.into(),
            StoreInfo {
                name: format!("{s} name"),
                city: if s == "s1" {
                    "上海".into()
                } else {
                    "杭州".into()
                },
            },
        );
    }
    d
}

async fn deltas_add_up_and_filters_select(store: Store) {
    migrated(&store).await;
    let mut tx = store.begin().await.expect("tx");
    portrait_store::write_deltas(
        &mut tx,
        ALL,
        &deltas(&[("a", "s1", 10, 2, 300), ("b", "s2", 11, 1, 50)]),
    )
    .await
    .expect("write");
    tx.commit().await.expect("commit");
    let mut tx = store.begin().await.expect("tx");
    // A retraction and a new day for "a"; "b" is fully retracted.
    portrait_store::write_deltas(
        &mut tx,
        ALL,
        &deltas(&[
            ("a", "s1", 10, -1, -100),
            ("a", "s1", 12, 1, 70),
            ("b", "s2", 11, -1, -50),
        ]),
    )
    .await
    .expect("write");
    tx.commit().await.expect("commit");

    let aggs = portrait_store::customer_aggs(store.pool(), &filter(&[], &[], None, 20))
        .await
        .expect("aggs");
    assert_eq!(
        aggs,
        vec![CustomerAgg {
            customer_id: "a".into(),
            orders: 2,
            revenue: 270,
            first_day: 10,
            last_day: 12
        }]
    );
    // Day range [11, 20) keeps only day 12.
    let aggs = portrait_store::customer_aggs(store.pool(), &filter(&[], &[], Some(11), 20))
        .await
        .expect("aggs");
    assert_eq!(aggs[0].orders, 1);
    // By city and by store id.
    assert_eq!(
        portrait_store::customer_aggs(store.pool(), &filter(&[], &["上海"], None, 20))
            .await
            .expect("aggs")
            .len(),
        1
    );
    assert_eq!(
        portrait_store::customer_aggs(store.pool(), &filter(&["s2"], &[], None, 20))
            .await
            .expect("aggs")
            .len(),
        0
    );
    assert_eq!(
        portrait_store::customer_aggs(store.pool(), &filter(&["s2"], &["上海"], None, 20))
            .await
            .expect("aggs")
            .len(),
        1
    );

    let mut sum = Sql::new(
        "SELECT CAST(COALESCE(SUM(orders), 0) AS BIGINT), CAST(COALESCE(SUM(revenue), 0) AS BIGINT) FROM hours WHERE ",
    );
    sum.stores(&filter(&["s1"], &[], None, 20))
        .push(" AND ")
        .days(None, 20);
    let row = sum.query().fetch_one(store.pool()).await.expect("sum");
    assert_eq!((row.get::<i64, _>(0), row.get::<i64, _>(1)), (2, 270));
    let name: String = sqlx::query("SELECT name FROM stores WHERE store_id = $1")
        .bind("s2")
        .fetch_one(store.pool())
        .await
        .expect("store")
        .get(0);
    assert_eq!(name, "s2 name");
}

async fn positions_and_dedup_commit_together(store: Store) {
    migrated(&store).await;
    let keys = vec![
        ("o1".to_string(), 1),
        ("o1".to_string(), 2),
        ("o1".to_string(), 1),
    ];
    let mut tx = store.begin().await.expect("tx");
    assert_eq!(
        portrait_store::new_events(&mut tx, &keys)
            .await
            .expect("new"),
        [true, true, false]
    );
    portrait_store::record_applied(&mut tx, &keys[..2])
        .await
        .expect("record");
    portrait_store::save_positions(&mut tx, "t", &[(0, 5), (2, 9)])
        .await
        .expect("positions");
    portrait_store::add_counters(&mut tx, &[("events_applied", 2)])
        .await
        .expect("counters");
    tx.commit().await.expect("commit");

    // A batch that fails before commit leaves nothing behind.
    let mut tx = store.begin().await.expect("tx");
    portrait_store::save_positions(&mut tx, "t", &[(0, 99)])
        .await
        .expect("positions");
    portrait_store::record_applied(&mut tx, &[("o2".to_string(), 1)])
        .await
        .expect("record");
    tx.rollback().await.expect("rollback");

    let mut conn = store.pool().acquire().await.expect("conn");
    assert_eq!(
        portrait_store::load_positions(&mut conn, "t")
            .await
            .expect("load"),
        [(0, 5), (2, 9)]
    );
    assert_eq!(
        portrait_store::load_positions(&mut conn, "other")
            .await
            .expect("load"),
        []
    );
    let fresh = portrait_store::new_events(&mut conn, &[("o1".into(), 2), ("o2".into(), 1)])
        .await
        .expect("new");
    assert_eq!(fresh, [false, true]);
    let counters = portrait_store::load_counters(&mut conn)
        .await
        .expect("counters");
    assert_eq!(
        counters,
        BTreeMap::from([("events_applied".to_string(), 2)])
    );
}

async fn many_rows_in_one_batch(store: Store) {
    migrated(&store).await;
    let calendar = Calendar::new("Asia/Shanghai").expect("tz");
    let mut d = Deltas::default();
    for i in 0..1_500 {
        d.customer_days.insert(
            (
                format!("c{i:05}"),
                "s1".into(),
                calendar.day(1_700_000_000_000) + i % 7,
            ),
            Acc {
                orders: 1,
                revenue: i64::from(i),
            },
        );
    }
    let mut tx = store.begin().await.expect("tx");
    portrait_store::write_deltas(&mut tx, ALL, &d)
        .await
        .expect("write");
    tx.commit().await.expect("commit");
    let aggs = portrait_store::customer_aggs(store.pool(), &filter(&[], &[], None, i32::MAX))
        .await
        .expect("aggs");
    assert_eq!(aggs.len(), 1_500);
    assert_eq!(
        aggs.iter().map(|a| a.revenue).sum::<i64>(),
        (0..1_500).sum::<i64>()
    );
}

macro_rules! both {
    ($($name:ident),*) => {
        mod on_sqlite {
            $(#[tokio::test]
            async fn $name() {
                let (store, _dir) = super::sqlite().await;
                super::$name(store).await;
            })*
        }
        mod on_postgres {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::postgres().await).await;
            })*
        }
    };
}

both!(
    deltas_add_up_and_filters_select,
    positions_and_dedup_commit_together,
    many_rows_in_one_batch
);

#[tokio::test]
async fn bad_urls_are_explained() {
    let err = Store::connect("mysql://x")
        .await
        .expect_err("refused")
        .to_string();
    assert!(err.contains("sqlite://"), "{err}");
    assert_eq!(
        portrait_store::redact("postgres://u:secret@h/db"),
        "postgres://u:***@h/db"
    );
}
