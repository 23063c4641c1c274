//! Sync from a cyrg2025-shaped source (MariaDB, and PostgreSQL) into the
//! embedded stack: after every change to the source, the gateway's figures
//! equal the SQL oracle's recompute over the source tables.

use std::time::Duration;

use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{
    CustomerMatch, FindCustomerRequest, GetDataQualityReportRequest, GetSyncJobRequest,
    ListSyncJobsRequest, SyncCounts, SyncJob, SyncJobState, SyncMode, SyncStatusRequest,
    TriggerSyncRequest,
};
use sqlx::postgres::PgPool;
use sqlx::{Connection, Executor, MySqlConnection, MySqlPool, Row};
use tonic::transport::Channel;

use crate::cyrg::{Conn, Db, Gen, LineRow, OrderRow, ident};
use crate::oracle::{Oracle, Q};
use crate::pipeline::assert_figures;
use crate::stack::Stack;
use crate::sync_oracle::recompute;

const PHONE_KEY: &str = "e2e-phone-key";

/// Reason codes the initial data triggers (docs/sync.md).
const INITIAL_REASONS: [&str; 19] = [
    "not_paid",
    "deleted",
    "fully_refunded",
    "bad_time",
    "future_time",
    "bad_amount",
    "negative_amount",
    "absurd_amount",
    "bad_quantity",
    "bad_product",
    "no_lines",
    "no_store",
    "lines_mismatch",
    "unknown_store",
    "duplicate_line",
    "refund_spread",
    "refund_exceeds",
    "unknown_platform",
    "bad_phone",
];

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

pub(crate) fn date(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms + 8 * 3_600_000)
        .expect("in range")
        .format("%Y-%m-%d")
        .to_string()
}

async fn fresh_mysql(admin: &str) -> String {
    let name = format!("cyrg_{}_{}", std::process::id(), now_ms() % 1_000_000);
    let mut conn = MySqlConnection::connect(admin)
        .await
        .unwrap_or_else(|e| panic!("cannot reach the test MariaDB: {e}"));
    conn.execute(format!("CREATE DATABASE {name} CHARACTER SET utf8mb4").as_str())
        .await
        .expect("create database");
    format!("{}/{name}", admin.trim_end_matches('/'))
}

pub(crate) struct World {
    /// Every copy of the source: the one synced, and PostgreSQL for the oracle.
    dbs: Vec<Conn>,
    oracle_pool: PgPool,
    oracle: Oracle,
    pub(crate) stack: Stack,
    pub(crate) source_gen: Gen,
    queries: Vec<Q>,
}

impl World {
    pub(crate) async fn gateway(&self) -> PortraitServiceClient<Channel> {
        PortraitServiceClient::new(self.stack.channel("gateway").await)
    }

    pub(crate) async fn insert(&self, orders: &[OrderRow], lines: &[LineRow]) {
        for db in &self.dbs {
            db.insert(orders, lines).await;
        }
    }

    async fn each(&self, sql: impl Fn(Db) -> String) {
        for db in &self.dbs {
            db.exec(&sql(db.db())).await;
        }
    }

    /// `UPDATE table SET column = value WHERE key = id` in every source.
    async fn set(&self, table: &str, column: &str, value: &str, key: &str, id: i64) {
        self.each(|db| {
            format!(
                "UPDATE {} SET {} = {value} WHERE {} = {id}",
                ident(db, table),
                ident(db, column),
                ident(db, key)
            )
        })
        .await;
    }

    pub(crate) async fn sync(&self, mode: SyncMode) -> SyncJob {
        let mut gw = self.gateway().await;
        let t = gw
            .trigger_sync(TriggerSyncRequest { mode: mode as i32 })
            .await
            .expect("trigger")
            .into_inner();
        assert!(!t.already_running, "no job should be running");
        let job = wait_job(&mut gw, t.job.expect("job").job_id).await;
        assert_eq!(
            job.state,
            SyncJobState::Succeeded as i32,
            "{job:?}\n{}",
            self.stack.logs()
        );
        assert_adds_up(&job);
        job
    }

    pub(crate) async fn assert_oracle(&self) {
        self.stack.wait_caught_up().await;
        recompute(&self.oracle_pool, now_ms(), PHONE_KEY).await;
        assert_figures(&mut self.gateway().await, &self.oracle, &self.queries).await;
    }
}

pub(crate) fn counts(job: &SyncJob) -> SyncCounts {
    job.counts.unwrap_or_default()
}

fn assert_adds_up(job: &SyncJob) {
    let c = counts(job);
    assert_eq!(
        c.read,
        c.accepted + c.unchanged + c.retracted + c.rejected,
        "{job:?}"
    );
}

async fn wait_job(gw: &mut PortraitServiceClient<Channel>, id: i64) -> SyncJob {
    for _ in 0..3000 {
        let job = gw
            .get_sync_job(GetSyncJobRequest { job_id: id })
            .await
            .expect("job")
            .into_inner();
        if job.state != SyncJobState::Running as i32 {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("sync job {id} did not finish");
}

/// A source of `kind` and the embedded stack syncing from it, with `extra`
/// `PORTRAIT__…` settings; `None` (skipped) without the test servers.
pub(crate) async fn world(kind: Db, extra: &[(&str, &str)]) -> Option<World> {
    let mysql_admin = match kind {
        Db::MySql => Some(portrait_testkit::server_env(
            "PORTRAIT_TEST_MYSQL_URL",
            "MariaDB",
        )?),
        Db::Postgres => None,
    };
    let pg_url = portrait_testkit::postgres::fresh_database().await?;
    let pg = PgPool::connect(&pg_url).await.expect("postgres");
    let pg_conn = Conn::Postgres(pg.clone());
    pg_conn.create_schema().await;
    let (source_url, mut dbs) = match (kind, mysql_admin) {
        (Db::MySql, Some(admin)) => {
            let url = fresh_mysql(&admin).await;
            let my = Conn::MySql(MySqlPool::connect(&url).await.expect("mariadb"));
            my.create_schema().await;
            (url, vec![my])
        }
        _ => (pg_url.clone(), Vec::new()),
    };
    dbs.push(pg_conn);
    let oracle = Oracle::new(&pg_url).await;
    let source_gen = Gen::new(20251105, now_ms());
    let today = date(source_gen.today_ms);
    let queries = vec![
        Q {
            as_of: today.clone(),
            ..Default::default()
        },
        Q {
            cities: vec!["上海".into()],
            from: date(source_gen.today_ms - 20 * 86_400_000),
            as_of: today.clone(),
            ..Default::default()
        },
        Q {
            stores: vec!["2".into(), "99".into()],
            as_of: today,
            ..Default::default()
        },
    ];
    let env = [
        ("PORTRAIT__SYNC__SOURCE", source_url.as_str()),
        // The key under its name; the import below passes it under its older
        // name, sync.phone_key: one key, the same customers.
        ("PORTRAIT__SYNC__PII_KEY", PHONE_KEY),
        ("PORTRAIT__SYNC__DAILY_AT", ""),
        ("PORTRAIT__SYNC__PAGE_SIZE", "53"),
    ];
    let stack = Stack::embedded_with(
        env.iter()
            .chain(extra)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    Some(World {
        dbs,
        oracle_pool: pg,
        oracle,
        stack,
        source_gen,
        queries,
    })
}

async fn scenario(kind: Db) {
    let Some(mut w) = world(kind, &[]).await else {
        return;
    };
    let (orders, lines) = w.source_gen.initial(500);
    w.insert(&orders, &lines).await;
    w.stack.start_all();

    // 1. The first run reads everything; every quirk is counted by its reason.
    let first = w.sync(SyncMode::Incremental).await;
    assert_eq!(counts(&first).read, orders.len() as i64);
    w.assert_oracle().await;
    find_by_phone(&w).await;
    let report = w
        .gateway()
        .await
        .get_data_quality_report(GetDataQualityReportRequest {
            job_id: first.job_id,
        })
        .await
        .expect("report")
        .into_inner();
    for code in INITIAL_REASONS {
        assert!(
            report
                .reasons
                .iter()
                .any(|r| r.reason == code && r.count > 0 && !r.samples.is_empty()),
            "reason {code} not reported: {:?}",
            report.reasons
        );
    }
    let rejected: i64 = report
        .reasons
        .iter()
        .filter(|r| r.kind == "rejected")
        .map(|r| r.count)
        .sum();
    assert_eq!(rejected, counts(&first).rejected);
    assert_eq!(report.counts, first.counts);

    // 2. The source changes in place; incremental, then full, equal the oracle.
    let (new_orders, new_lines): (Vec<_>, Vec<_>) = (0..40).map(|_| w.source_gen.order(3)).unzip();
    w.insert(&new_orders, &new_lines.concat()).await;
    let r = w.source_gen.recent.clone();
    let first_line = |order: i64| {
        lines
            .iter()
            .find(|l| l.order_id == order)
            .map(|l| l.id)
            .expect("a line")
    };
    for &id in &r[0..4] {
        w.set("Orders", "refundMoney", "3.00", "id", id).await;
    }
    for &id in &r[4..8] {
        w.set("OrderGoods", "isRefund", "1", "orderId", id).await;
    }
    for &id in &r[8..11] {
        w.set("OrderGoods", "refundMoney", "1.00", "id", first_line(id))
            .await;
    }
    for &id in &r[11..14] {
        w.set("Orders", "delflag", "1", "id", id).await;
    }
    w.set("Shop", "ShopName", "'静安寺店'", "Id", 1).await;
    let unpaid = w
        .source_gen
        .unpaid
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    w.each(|db| {
        format!(
            "UPDATE {} SET {} = 2 WHERE {} IN ({unpaid})",
            ident(db, "Orders"),
            ident(db, "payState"),
            ident(db, "id")
        )
    })
    .await;

    let inc = w.sync(SyncMode::Incremental).await;
    assert!(
        counts(&inc).accepted >= 40 && counts(&inc).retracted >= 7,
        "{inc:?}"
    );
    w.assert_oracle().await;
    let published = events_published(&w).await;
    let again = w.sync(SyncMode::Incremental).await;
    assert_eq!(
        (counts(&again).accepted, counts(&again).retracted),
        (0, 0),
        "{again:?}"
    );
    let full = w.sync(SyncMode::Full).await;
    w.assert_oracle().await;
    let full_again = w.sync(SyncMode::Full).await;
    assert_eq!(
        (counts(&full_again).accepted, counts(&full_again).retracted),
        (0, 0),
        "{full_again:?}"
    );
    assert_eq!(counts(&full_again).read, counts(&full).read);
    w.stack.wait_caught_up().await;
    assert_eq!(
        events_published(&w).await,
        published + counts(&full).accepted + counts(&full).retracted
    );

    // 3. Rows deleted from the source: only a full run sees them go.
    let gone = format!("{}, {}", r[14], r[15]);
    for (table, key) in [("OrderGoods", "orderId"), ("Orders", "id")] {
        w.each(|db| {
            format!(
                "DELETE FROM {} WHERE {} IN ({gone})",
                ident(db, table),
                ident(db, key)
            )
        })
        .await;
    }
    let full = w.sync(SyncMode::Full).await;
    assert_eq!(counts(&full).retracted, 2, "{full:?}");
    let report = w
        .gateway()
        .await
        .get_data_quality_report(GetDataQualityReportRequest { job_id: 0 })
        .await
        .expect("report")
        .into_inner();
    assert_eq!(report.job_id, full.job_id);
    assert!(
        report
            .reasons
            .iter()
            .any(|r| r.reason == "missing_in_source" && r.count == 2),
        "{report:?}"
    );
    w.assert_oracle().await;

    // 4. SIGKILL mid-run, restart, run again: exact.
    let (big, big_lines): (Vec<_>, Vec<_>) = (0..2500).map(|_| w.source_gen.order(5)).unzip();
    w.insert(&big, &big_lines.concat()).await;
    let mut gw = w.gateway().await;
    let t = gw
        .trigger_sync(TriggerSyncRequest {
            mode: SyncMode::Incremental as i32,
        })
        .await
        .expect("trigger")
        .into_inner();
    let killed = t.job.expect("job").job_id;
    let mut second = gw
        .trigger_sync(TriggerSyncRequest {
            mode: SyncMode::Full as i32,
        })
        .await
        .expect("trigger")
        .into_inner();
    assert!(second.already_running, "one job at a time");
    assert_eq!(second.job.take().map(|j| j.job_id), Some(killed));
    loop {
        let job = gw
            .get_sync_job(GetSyncJobRequest { job_id: killed })
            .await
            .expect("job")
            .into_inner();
        if counts(&job).read > 0 || job.state != SyncJobState::Running as i32 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    w.stack.kill9("portrait");
    w.stack.start_all();
    let mut gw = w.gateway().await;
    let after = gw
        .get_sync_job(GetSyncJobRequest { job_id: killed })
        .await
        .expect("job")
        .into_inner();
    assert_eq!(
        after.state,
        SyncJobState::Interrupted as i32,
        "killed mid-run: {after:?}"
    );
    assert!(counts(&after).read < 2500, "{after:?}");
    let rerun = w.sync(SyncMode::Incremental).await;
    assert!(counts(&rerun).read > 0);
    w.assert_oracle().await;
    let settled = w.sync(SyncMode::Incremental).await;
    assert_eq!(
        (counts(&settled).accepted, counts(&settled).retracted),
        (0, 0),
        "{settled:?}"
    );

    // 5. Jobs page newest first; every job's counts add up.
    let mut token = String::new();
    let mut seen = Vec::new();
    loop {
        let page = gw
            .list_sync_jobs(ListSyncJobsRequest {
                page_size: 3,
                page_token: token,
            })
            .await
            .expect("jobs")
            .into_inner();
        seen.extend(page.jobs.iter().map(|j| j.job_id));
        page.jobs.iter().for_each(assert_adds_up);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let expected: Vec<i64> = (1..=settled.job_id).rev().collect();
    assert_eq!(seen, expected);

    // 6. An export loaded with `portrait import`: a row that disagrees with its
    // order's other rows rejects that order as bad_row; the good one counts.
    w.stack.kill9("portrait");
    let csv = w.stack.dir.path().join("export.csv");
    std::fs::write(
        &csv,
        "order_id,shop_id,shop_name,shop_city,record_time,cash,pay_state,line_id,goods_id,goods_name,goods_number,goods_total\n\
         900001,2,徐汇店,上海,2025-06-01 12:00:00,12.00,2,1,101,经典热狗,1,12.00\n\
         900002,2,徐汇店,上海,2025-06-01 12:00:00,10.00,2,2,203,可乐,2,10.00\n\
         900002,2,徐汇店,上海,2025-06-01 12:30:00,10.00,2,3,203,可乐,2,10.00\n",
    )
    .expect("csv");
    let out = std::process::Command::new(crate::stack::bin_dir().join("portrait"))
        .args([
            "import",
            &csv.display().to_string(),
            "--data-dir",
            &w.stack.dir.path().join("data").display().to_string(),
        ])
        .args(["--base-port", &w.stack.ports["gateway"].to_string()])
        .env("PORTRAIT__SYNC__PHONE_KEY", PHONE_KEY)
        .output()
        .expect("portrait import");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("accepted") && stdout.contains("import"),
        "{stdout}"
    );
    w.stack.start_all();
    let report = w
        .gateway()
        .await
        .get_data_quality_report(GetDataQualityReportRequest { job_id: 0 })
        .await
        .expect("report")
        .into_inner();
    let c = report.counts.unwrap_or_default();
    assert_eq!((c.read, c.accepted, c.rejected), (2, 1, 1), "{report:?}");
    assert!(
        report
            .reasons
            .iter()
            .any(|r| r.reason == "bad_row" && r.count == 1),
        "{report:?}"
    );
}

/// A member known only by phone is found by that phone, written another way:
/// the gateway hashes it as the sync did (the oracle's id is PostgreSQL's hmac).
async fn find_by_phone(w: &World) {
    let row = sqlx::query(
        "SELECT o.\"vipTel\", r.customer_id FROM \"Orders\" o \
         JOIN raw_orders r ON r.order_id = o.id::text WHERE r.customer_id LIKE 'tel:%' LIMIT 1",
    )
    .fetch_one(&w.oracle_pool)
    .await
    .expect("a member known by phone");
    let (phone, customer): (String, String) = (row.get(0), row.get(1));
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    let written = format!(
        "+86 {} {}",
        &digits[digits.len() - 11..][..3],
        &digits[digits.len() - 8..]
    );
    let found = w
        .gateway()
        .await
        .find_customer(FindCustomerRequest { query: written })
        .await
        .expect("found by phone")
        .into_inner();
    assert_eq!(found.customer_id, customer);
    assert_eq!(found.matched_by, CustomerMatch::Phone as i32);
}

pub(crate) async fn events_published(w: &World) -> i64 {
    w.gateway()
        .await
        .get_sync_status(SyncStatusRequest {})
        .await
        .expect("status")
        .into_inner()
        .ingest
        .map_or(0, |i| i.events_published)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_from_mariadb_equals_sql_oracle_through_changes_and_kill() {
    scenario(Db::MySql).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_from_postgres_equals_sql_oracle_through_changes_and_kill() {
    scenario(Db::Postgres).await;
}
