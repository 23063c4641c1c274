//! The profiler's tables keep every row through the migration that keys them
//! day first, and take new rows after it, on SQLite and PostgreSQL.

use super::*;

const TABLES: [(&str, &str, &str); 4] = [
    ("hours", "hour", "orders"),
    ("channels", "channel", "orders"),
    ("product_days", "product_id", "quantity"),
    ("category_days", "category_id", "quantity"),
];

async fn rekeying_keeps_every_row(store: Store) {
    store
        .migrate("profiler", &MIGRATIONS[..2])
        .await
        .expect("old");
    for (table, key, amount) in TABLES {
        for (store_id, day, item, n, revenue) in [("s2", 9, 3, 1, 50), ("s1", 10, 4, 2, 300)] {
            // Items are text ids; hours and channels are numbers.
            let item = if key.ends_with("_id") {
                format!("'p{item}'")
            } else {
                item.to_string()
            };
            let sql = format!(
                "INSERT INTO {table} (store_id, day, {key}, {amount}, revenue) VALUES ($1, $2, {item}, $3, $4)"
            );
            sqlx::query(&sql)
                .bind(store_id)
                .bind(i64::from(day))
                .bind(i64::from(n))
                .bind(i64::from(revenue))
                .execute(store.pool())
                .await
                .expect("old row");
        }
    }
    store
        .migrate("profiler", MIGRATIONS)
        .await
        .expect("migrate");
    let mut d = StoreDays::default();
    d.hours.insert(
        ("s1".into(), 10, 4),
        Acc {
            orders: 1,
            revenue: 5,
        },
    );
    d.channels.insert(
        ("s1".into(), 10, 4),
        Acc {
            orders: 1,
            revenue: 5,
        },
    );
    let sold = ProductAcc {
        quantity: 1,
        revenue: 5,
    };
    d.products.insert(("s1".into(), 10, "p4".into()), sold);
    d.categories.insert(("s1".into(), 10, "p4".into()), sold);
    let mut tx = store.begin().await.expect("tx");
    // An empty state takes every row for new, though each is stored: the
    // write must still add to them.
    let new = State::default().new_days(&d);
    write_store_days(&mut tx, &d, &new).await.expect("write");
    tx.commit().await.expect("commit");
    for (table, key, amount) in TABLES {
        let sql = format!(
            "SELECT store_id, day, CAST({key} AS TEXT), {amount}, revenue FROM {table} ORDER BY store_id"
        );
        let got: Vec<(String, i64, String, i64, i64)> = sqlx::query_as(&sql)
            .fetch_all(store.pool())
            .await
            .expect("rows");
        let p = if key.ends_with("_id") { "p" } else { "" };
        let want = vec![
            ("s1".to_owned(), 10, format!("{p}4"), 3, 305),
            ("s2".to_owned(), 9, format!("{p}3"), 1, 50),
        ];
        assert_eq!(got, want, "{table}");
    }
}

#[tokio::test]
async fn rekeying_keeps_every_row_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/profiler.db", dir.path().display());
    rekeying_keeps_every_row(Store::connect(&url).await.expect("store")).await;
}

#[tokio::test]
async fn rekeying_keeps_every_row_on_postgres() {
    let Some(url) = portrait_testkit::postgres::fresh_database().await else {
        return;
    };
    rekeying_keeps_every_row(Store::connect(&url).await.expect("store")).await;
}
