//! One contract suite for the store helpers, run against SQLite and against a
//! real PostgreSQL (started by `tests/run`; skipped with a message without it).

use std::collections::BTreeMap;

use portrait_core::memory::{CustomerState, Selection};
use portrait_core::{Acc, CustomerAgg, CustomerDays, ResolvedFilter, StoreInfo};
use portrait_store::{Applied, CONSUMER_MIGRATIONS, CUSTOMER_DAYS_MIGRATIONS, Migration, Store};

async fn sqlite() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/nested/store.db", dir.path().display());
    (Store::connect(&url).await.expect("sqlite store"), dir)
}

async fn postgres() -> Option<Store> {
    let url = portrait_testkit::postgres::fresh_database().await?;
    Some(Store::connect(&url).await.expect("postgres store"))
}

async fn migrated(store: &Store) {
    for _ in 0..2 {
        // Idempotent: a restart migrates again.
        store
            .migrate("consumer", CONSUMER_MIGRATIONS)
            .await
            .expect("migrate");
        store
            .migrate("customer_days", CUSTOMER_DAYS_MIGRATIONS)
            .await
            .expect("migrate");
        store
            .migrate("audit", portrait_store::AUDIT_MIGRATIONS)
            .await
            .expect("migrate");
    }
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

fn rows(rows: &[(&str, &str, i32, i64, i64)]) -> CustomerDays {
    let mut d = CustomerDays::default();
    for &(c, s, day, orders, revenue) in rows {
        d.rows
            .insert((c.into(), s.into(), day), Acc { orders, revenue });
        let city = if s == "s1" { "上海" } else { "杭州" };
        let info = StoreInfo {
            name: format!("{s} name"),
            city: city.into(),
        };
        d.stores.insert(s.into(), info);
    }
    d
}

/// Every row is claimed new: a stored one must still be added to, not
/// duplicated or refused (the plain insert is undone and upserted).
async fn write(store: &Store, d: &CustomerDays) {
    let mut tx = store.begin().await.expect("tx");
    let new = portrait_core::memory::NewRows::all(d);
    portrait_store::write_customer_days(&mut tx, d, &new)
        .await
        .expect("write");
    tx.commit().await.expect("commit");
}

async fn customer_days_add_up_and_load_back(store: Store) {
    migrated(&store).await;
    write(
        &store,
        &rows(&[("a", "s1", 10, 2, 300), ("b", "s2", 11, 1, 50)]),
    )
    .await;
    // A retraction and a new day for "a"; "b" is fully retracted.
    let later = [
        ("a", "s1", 10, -1, -100),
        ("a", "s1", 12, 1, 70),
        ("b", "s2", 11, -1, -50),
    ];
    write(&store, &rows(&later)).await;

    let state = portrait_store::load_customer_days(store.pool())
        .await
        .expect("load");
    let aggs = |f: ResolvedFilter| {
        let sel = state.stores.select(&f);
        state.book.aggs(&sel, f.from, f.to)
    };
    let a = state.book.customers().get("a").expect("a is known");
    assert_eq!(
        aggs(filter(&[], &[], None, 20)),
        vec![CustomerAgg {
            customer: a,
            orders: 2,
            revenue: 270,
            first_day: 10,
            last_day: 12
        }]
    );
    // Day range [11, 20) keeps only day 12.
    assert_eq!(aggs(filter(&[], &[], Some(11), 20))[0].orders, 1);
    // By city and by store id.
    assert_eq!(aggs(filter(&[], &["上海"], None, 20)).len(), 1);
    assert_eq!(aggs(filter(&["s2"], &[], None, 20)).len(), 0);
    assert_eq!(aggs(filter(&["s2"], &["上海"], None, 20)).len(), 1);
    assert_eq!(state.stores.select(&filter(&["s2"], &[], None, 20)), {
        let mut mask = vec![false; state.stores.len()];
        mask[1] = true;
        Selection::Only(mask)
    });
}

/// A store is written when the serving state lacks it or holds another name
/// or city, and only then; what loads back is the state's stores.
async fn stores_are_written_when_new_to_the_state(store: Store) {
    migrated(&store).await;
    let mut state = CustomerState::default();
    let mut step = async |d: CustomerDays, want_written: &[&str]| {
        let new = state.new_rows(&d);
        let written: Vec<&str> = (d.stores.keys())
            .map(String::as_str)
            .filter(|s| new.has_store(s))
            .collect();
        assert_eq!(written, want_written);
        let mut tx = store.begin().await.expect("tx");
        portrait_store::write_customer_days(&mut tx, &d, &new)
            .await
            .expect("write");
        tx.commit().await.expect("commit");
        state.apply(&d);
    };
    step(
        rows(&[("a", "s1", 10, 1, 5), ("b", "s2", 10, 1, 5)]),
        &["s1", "s2"],
    )
    .await;
    // Behind the state's back: a store the state holds as named is not
    // written again, so the table keeps this.
    sqlx::query("UPDATE stores SET name = 'tampered' WHERE store_id = 's1'")
        .execute(store.pool())
        .await
        .expect("update");
    let name = async || -> String {
        sqlx::query_scalar("SELECT name FROM stores WHERE store_id = 's1'")
            .fetch_one(store.pool())
            .await
            .expect("s1")
    };
    step(
        rows(&[("a", "s1", 11, 1, 5), ("c", "s3", 11, 1, 5)]),
        &["s3"],
    )
    .await;
    assert_eq!(name().await, "tampered");
    let mut renamed = rows(&[("a", "s1", 12, 1, 5), ("b", "s2", 12, 1, 5)]);
    if let Some(s1) = renamed.stores.get_mut("s1") {
        s1.name = "s1 renamed".into();
    }
    step(renamed, &["s1"]).await;
    assert_eq!(name().await, "s1 renamed");
    let loaded = portrait_store::load_customer_days(store.pool())
        .await
        .expect("load");
    for id in ["s1", "s2", "s3"] {
        let info = |s: &CustomerState| s.stores.get(id).and_then(|i| s.stores.info(i)).cloned();
        assert_eq!(info(&loaded), info(&state), "{id}");
        assert!(info(&loaded).is_some_and(|i| !i.name.is_empty()), "{id}");
    }
}

async fn positions_and_applied_commit_together(store: Store) {
    migrated(&store).await;
    let mut tx = store.begin().await.expect("tx");
    let mut applied = Applied::load(&mut tx, &["o1"]).await.expect("applied");
    assert!(applied.insert("o1", 1));
    assert!(applied.insert("o1", 3));
    assert!(!applied.insert("o1", 1));
    applied.save(&mut tx).await.expect("save");
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
    let mut applied = Applied::load(&mut tx, &["o2"]).await.expect("applied");
    assert!(applied.insert("o2", 1));
    applied.save(&mut tx).await.expect("save");
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
    let mut applied = Applied::load(&mut conn, &["o1", "o2"])
        .await
        .expect("applied");
    assert!(!applied.insert("o1", 3), "stored above the watermark");
    assert!(applied.insert("o1", 2), "the gap is still open");
    assert!(applied.insert("o2", 1), "rolled back");
    let counters = portrait_store::load_counters(&mut conn)
        .await
        .expect("counters");
    assert_eq!(
        counters,
        BTreeMap::from([("events_applied".to_string(), 2)])
    );
}

/// More rows than one statement binds and one load page reads.
async fn many_rows_in_one_batch(store: Store) {
    migrated(&store).await;
    // Three pages of a load (20,000 rows each), and ids that JSON or a
    // PostgreSQL array literal must escape.
    const N: i32 = 45_000;
    let odd = [
        "quote\"d",
        "back\\slash",
        "上海客人",
        "tab\tand😀",
        "{brace},comma",
        "NULL",
        " spaced ",
    ];
    let mut d = CustomerDays::default();
    for i in 0..N {
        let name = match odd.get(i as usize) {
            Some(o) => (*o).to_owned(),
            None => format!("c{i:05}"),
        };
        d.rows.insert(
            (name, "s1".into(), 20_000 + i % 7),
            Acc {
                orders: 1,
                revenue: i64::from(i),
            },
        );
    }
    write(&store, &d).await;
    let state = portrait_store::load_customer_days(store.pool())
        .await
        .expect("load");
    let aggs = state.book.aggs(&Selection::All, None, i32::MAX);
    assert_eq!(aggs.len(), N as usize);
    assert_eq!(
        aggs.iter().map(|a| a.revenue).sum::<i64>(),
        (0..i64::from(N)).sum::<i64>()
    );
    for (i, name) in odd.iter().enumerate() {
        let id = state
            .book
            .customers()
            .get(name)
            .expect("an odd id loads back");
        let agg = state.book.agg(id, &Selection::All, None, i32::MAX);
        assert_eq!(agg.map(|a| a.revenue), Some(i as i64), "{name}");
    }
}

async fn migrations_are_append_only_and_checked(store: Store) {
    const ONE: &[Migration] = &[Migration {
        name: "0001_a",
        sql: "CREATE TABLE a (x BIGINT);\nCREATE INDEX a_x ON a (x);\n",
    }];
    const TWO: &[Migration] = &[
        ONE[0],
        Migration {
            name: "0002_b",
            sql: "-- a comment\nCREATE TABLE b (y TEXT);\n",
        },
    ];
    store.migrate("test", ONE).await.expect("first");
    store.migrate("test", TWO).await.expect("appended");
    let store = &store;
    let err = |m| async move {
        store
            .migrate("test", m)
            .await
            .expect_err("refused")
            .to_string()
    };
    let changed = [
        Migration {
            name: "0001_a",
            sql: "CREATE TABLE a (x TEXT);\n",
        },
        TWO[1],
    ];
    assert!(err(&changed).await.contains("changed after it was applied"));
    let renamed = [
        Migration {
            name: "0001_z",
            ..ONE[0]
        },
        TWO[1],
    ];
    assert!(err(&renamed).await.contains("append-only"));
    assert!(err(ONE).await.contains("does not know"));
    // Another scope is independent.
    store
        .migrate("other", ONE[..0].as_ref())
        .await
        .expect("empty scope");
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
                let Some(store) = super::postgres().await else { return };
                super::$name(store).await;
            })*
        }
    };
}

/// A database made before the tables were keyed day first keeps every row
/// through the migrations that re-key them, and takes new rows after.
async fn rekeying_keeps_every_row(store: Store) {
    let old_consumer = &CONSUMER_MIGRATIONS[..3];
    let old_days = &CUSTOMER_DAYS_MIGRATIONS[..2];
    assert_eq!(old_days.last().map(|m| m.name), Some("0002_customer_days"));
    store.migrate("consumer", old_consumer).await.expect("old");
    store.migrate("customer_days", old_days).await.expect("old");
    for (c, s, day, orders, revenue) in [("a", "s1", 10, 2, 300), ("b", "s2", 9, 1, 50)] {
        sqlx::query(
            "INSERT INTO customer_days (customer_id, store_id, day, orders, revenue) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(c)
        .bind(s)
        .bind(i64::from(day))
        .bind(orders)
        .bind(revenue)
        .execute(store.pool())
        .await
        .expect("old row");
    }
    sqlx::query("INSERT INTO applied (order_id, through, above) VALUES ('o1', 2, '4')")
        .execute(store.pool())
        .await
        .expect("old mark");
    migrated(&store).await;
    write(
        &store,
        &rows(&[("a", "s1", 10, 1, 5), ("c", "s1", 11, 1, 7)]),
    )
    .await;
    let got: Vec<(String, String, i64, i64, i64)> = sqlx::query_as(
        "SELECT customer_id, store_id, day, orders, revenue FROM customer_days \
         ORDER BY customer_id",
    )
    .fetch_all(store.pool())
    .await
    .expect("rows");
    let want = [
        ("a", "s1", 10, 3, 305),
        ("b", "s2", 9, 1, 50),
        ("c", "s1", 11, 1, 7),
    ]
    .map(|(c, s, d, o, r)| (c.to_owned(), s.to_owned(), d, o, r));
    assert_eq!(got, want);
    let mut tx = store.begin().await.expect("tx");
    let mut applied = Applied::load(&mut tx, &["o1"]).await.expect("applied");
    assert!(!applied.insert("o1", 2) && !applied.insert("o1", 4));
    assert!(applied.insert("o1", 3));
}

/// The log state survives a reconnect; a reset empties every table but the
/// migrations' record, which stays so the service starts without migrating.
async fn log_state_and_reset(store: Store) {
    migrated(&store).await;
    let mut conn = store.pool().acquire().await.expect("conn");
    let none = portrait_store::load_log_state(&mut conn)
        .await
        .expect("load");
    assert_eq!(none, portrait_store::LogState::default());
    let stopped = portrait_store::LogState {
        epoch: 2,
        condition: Some("t partition 1: stored position 9 is beyond the log's end 3".into()),
    };
    portrait_store::save_log_state(&mut conn, &stopped)
        .await
        .expect("save");
    portrait_store::save_positions(&mut conn, "t", &[(1, 9)])
        .await
        .expect("positions");
    portrait_store::add_counters(&mut conn, &[("events_applied", 4)])
        .await
        .expect("counters");
    // A table a service keeps through a rebuild (a marketer's decisions).
    sqlx::query("CREATE TABLE decisions (id TEXT PRIMARY KEY)")
        .execute(&mut *conn)
        .await
        .expect("create");
    sqlx::query("INSERT INTO decisions (id) VALUES ('kept')")
        .execute(&mut *conn)
        .await
        .expect("insert");
    assert_eq!(
        portrait_store::load_log_state(&mut conn)
            .await
            .expect("load"),
        stopped
    );
    // What a service published to or followed from another log than the
    // orders' is not replayed by a fresh publication: kept.
    for table in ["published_x", "followed_x"] {
        sqlx::query(&format!("CREATE TABLE {table} (v BIGINT NOT NULL)"))
            .execute(&mut *conn)
            .await
            .expect("create");
        sqlx::query(&format!("INSERT INTO {table} (v) VALUES (7)"))
            .execute(&mut *conn)
            .await
            .expect("insert");
    }
    // The audit log: it records the rebuild itself.
    sqlx::query(
        "INSERT INTO audit_events (at_ms, subject, role, rpc, outcome, reason, peer) \
         VALUES (1, 'admin', 'admin', '/portrait.v1.ConsumerAdmin/Rebuild', 'allowed', '', '')",
    )
    .execute(&mut *conn)
    .await
    .expect("insert");
    let emptied = portrait_store::reset_tables(&mut conn, &["decisions"])
        .await
        .expect("reset");
    for table in ["decisions", "published_x", "followed_x", "audit_events"] {
        assert!(
            !emptied.iter().any(|t| t == table),
            "{table} kept: {emptied:?}"
        );
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&mut *conn)
            .await
            .expect("count");
        assert_eq!(n, 1, "{table} keeps its rows");
    }
    for table in [
        "positions",
        "applied",
        "counters",
        "log_state",
        "customer_days",
        "stores",
    ] {
        assert!(emptied.iter().any(|t| t == table), "{table} in {emptied:?}");
    }
    assert!(!emptied.iter().any(|t| t == "portrait_migrations"));
    assert_eq!(
        portrait_store::load_log_state(&mut conn)
            .await
            .expect("load"),
        portrait_store::LogState::default()
    );
    assert_eq!(
        portrait_store::load_positions(&mut conn, "t")
            .await
            .expect("positions"),
        []
    );
    assert!(
        portrait_store::load_counters(&mut conn)
            .await
            .expect("counters")
            .is_empty()
    );
    drop(conn);
    // Migrating again finds every migration recorded and changes nothing.
    migrated(&store).await;
}

/// A scan reads every row once, whatever the table's size against a page,
/// with text and integer columns as stored; a key outside the columns is
/// refused before anything is read.
async fn a_scan_reads_every_row_once(store: Store) {
    use portrait_store::{Key, scan};
    let pool = store.pool();
    sqlx::query("CREATE TABLE scanned (a TEXT NOT NULL, b BIGINT NOT NULL, v BIGINT NOT NULL, PRIMARY KEY (a, b))")
        .execute(pool)
        .await
        .expect("create");
    let keys = [Key::Text("a"), Key::Int("b")];
    let columns = ["a", "b", "v"];
    let empty = scan(pool, "scanned", &keys, &columns, |_| Ok(())).await;
    assert_eq!(empty.expect("empty scan"), 0);
    // More rows than a page (20,000), keyed so a page ends inside a run of `a`.
    let fill = match store.backend() {
        portrait_store::Backend::Sqlite => {
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 45001) \
             INSERT INTO scanned SELECT '顾客-' || (i % 997), i, i * 3 FROM n"
        }
        portrait_store::Backend::Postgres => {
            "INSERT INTO scanned SELECT '顾客-' || (i % 997), i, i * 3 FROM generate_series(1, 45001) i"
        }
    };
    sqlx::query(fill).execute(pool).await.expect("fill");
    // A key that JSON must escape, at the end of the key order.
    let odd = "顾客-say \"hi\" \\ \n\t";
    sqlx::query("INSERT INTO scanned VALUES ($1, 0, 0)")
        .bind(odd)
        .execute(pool)
        .await
        .expect("odd row");
    let mut seen = BTreeMap::new();
    let n = scan(pool, "scanned", &keys, &columns, |r| {
        let (a, b, v) = (r.text("a")?.to_owned(), r.int("b")?, r.int("v")?);
        let want = if b == 0 {
            odd.to_owned()
        } else {
            format!("顾客-{}", b % 997)
        };
        assert_eq!(a, want);
        assert!(seen.insert(b, v).is_none(), "row {b} read twice");
        Ok(())
    })
    .await
    .expect("scan");
    assert_eq!(n, 45_002);
    assert_eq!(seen.len(), 45_002);
    assert!(seen.iter().all(|(b, v)| *v == b * 3));
    assert_eq!(seen.keys().copied().min(), Some(0));
    assert_eq!(seen.keys().copied().max(), Some(45_001));
    // Exactly two pages: the second ends on the table's last row.
    sqlx::query("DELETE FROM scanned WHERE b > 39999")
        .execute(pool)
        .await
        .expect("trim");
    let n = scan(pool, "scanned", &keys, &columns, |_| Ok(())).await;
    assert_eq!(n.expect("two whole pages"), 40_000);
    // A reader that fails stops the scan with its error, mid-table.
    let mut read = 0;
    let failed = scan(pool, "scanned", &keys, &columns, |_| {
        read += 1;
        match read {
            25_000 => Err(portrait_store::Error::Corrupt("enough".into())),
            _ => Ok(()),
        }
    })
    .await;
    assert!(format!("{:?}", failed.err()).contains("enough"));
    assert_eq!(read, 25_000);
    let stray = scan(pool, "scanned", &[Key::Int("v")], &["a"], |_| Ok(())).await;
    assert!(format!("{:?}", stray.err()).contains("scan key v is not a column"));
    let keyless = scan(pool, "scanned", &[], &["a"], |_| Ok(())).await;
    assert!(format!("{:?}", keyless.err()).contains("needs a key"));
    if store.backend() == portrait_store::Backend::Postgres {
        // A timeout an operator set to bound queries does not cut a load short.
        sqlx::query(
            "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET statement_timeout = 1', \
             current_database()); END $$",
        )
        .execute(pool)
        .await
        .expect("set a 1 ms statement timeout");
        let n = scan(pool, "scanned", &keys, &columns, |_| Ok(())).await;
        assert_eq!(n.expect("a load outlasts statement_timeout"), 40_000);
    }
}

both!(
    a_scan_reads_every_row_once,
    log_state_and_reset,
    customer_days_add_up_and_load_back,
    stores_are_written_when_new_to_the_state,
    rekeying_keeps_every_row,
    positions_and_applied_commit_together,
    many_rows_in_one_batch,
    migrations_are_append_only_and_checked
);

#[tokio::test]
async fn a_legacy_database_is_refused_with_a_reason() {
    let (store, _dir) = sqlite().await;
    sqlx::query("CREATE TABLE schema_migrations (service TEXT, version BIGINT)")
        .execute(store.pool())
        .await
        .expect("legacy table");
    let err = store
        .migrate("consumer", CONSUMER_MIGRATIONS)
        .await
        .expect_err("refused")
        .to_string();
    assert!(err.contains("older Portrait"), "{err}");
}

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
