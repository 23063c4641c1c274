//! Orders/s of a sync from MariaDB into the embedded pipeline (ingest on
//! SQLite with its outbox and relay): read + map + submit + sync's own
//! bookkeeping, with the phase that bounds it, and where the CPU went: the
//! sync job runs on a thread of its own, so its CPU is told apart from
//! ingest's and from the SQLite worker threads (both stores). Prints, never
//! asserts.
//!
//! `PORTRAIT_TEST_MYSQL_URL=mysql://… cargo bench -p portrait-sync --bench sync_mariadb`
//! (`SYNC_BENCH_ORDERS`, default 1,000,000; the source database is kept and
//! reused by the next run with the same size).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use portrait_proto::v1::SyncMode;
use portrait_proto::v1::ingest_service_client::IngestServiceClient;
use portrait_service::{Config, ServiceName};
use portrait_sync::job::{self, JobContext, Reader, Timings};
use portrait_sync::source::Source;
use portrait_sync::{Rules, state};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::{Connection, Executor, MySqlConnection, Row};
use tokio_util::sync::CancellationToken;

const SHANGHAI_MS: i64 = 8 * 3_600_000;

#[tokio::main]
async fn main() {
    let Ok(admin) = std::env::var("PORTRAIT_TEST_MYSQL_URL") else {
        eprintln!(
            "skipped: PORTRAIT_TEST_MYSQL_URL not set; run bash tests/run (or start MariaDB)"
        );
        return;
    };
    let n: i64 = std::env::var("SYNC_BENCH_ORDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let url = source(&admin, n).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let shutdown = CancellationToken::new();
    let ingest_url = start_ingest(dir.path(), shutdown.clone()).await;
    let mut config = Config::defaults(ServiceName::Gateway);
    config.data_dir = dir.path().to_path_buf();
    let config = config.validated(ServiceName::Gateway).expect("config");
    let store = state::open(&config.sync.store_url)
        .await
        .expect("sync store");
    let rules = Rules::defaults("bench-key");
    let channel = tonic::transport::Channel::from_shared(ingest_url.clone())
        .expect("ingest url")
        .connect()
        .await
        .expect("ingest");
    // As the gateway's sync reaches ingest: in process when ingest runs here.
    let channel = portrait_service::PeerChannel::new(
        portrait_service::Peer::new(&ingest_url, channel, None),
        portrait_service::Bearer::default(),
    );
    let ingest = IngestServiceClient::new(channel).max_decoding_message_size(64 << 20);
    println!(
        "sync benchmark: {n} source orders in MariaDB → embedded ingest (SQLite), {} cores",
        std::thread::available_parallelism().map_or(1, |c| c.get())
    );
    println!(
        "| run | orders | seconds | orders/s | read s | map s | submit s | store s | bound by | CPU s (cores) | sync job CPU s | SQLite CPU s | ingest + rest CPU s |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (name, mode) in [
        ("first (all new)", SyncMode::Incremental),
        ("unchanged, incremental", SyncMode::Incremental),
        ("unchanged, full", SyncMode::Full),
    ] {
        let job = state::create_job(&store, mode, "bench", portrait_service::now_ms())
            .await
            .expect("job");
        let mut ctx = JobContext {
            store: &store,
            ingest: ingest.clone(),
            rules: &rules,
            reread_days: 14,
            page_size: 5000,
            now_ms: portrait_service::now_ms,
            cancel: shutdown.clone(),
            timings: Timings::default(),
        };
        let before = cpu();
        let started = Instant::now();
        let job_id = job.job_id;
        // Its own thread and runtime: the thread's CPU is the job's own work.
        let job_cpu = tokio::task::block_in_place(|| {
            std::thread::scope(|scope| {
                scope
                    .spawn(|| {
                        let runtime = tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                            .expect("runtime");
                        let start = thread_cpu();
                        runtime
                            .block_on(async {
                                let source = Source::connect(&url).await.expect("source");
                                job::run(&mut ctx, job_id, mode, &Reader::Db(source)).await
                            })
                            .expect("sync job");
                        thread_cpu() - start
                    })
                    .join()
                    .expect("sync thread")
            })
        });
        let secs = started.elapsed().as_secs_f64();
        let after = cpu();
        let (process, sqlite) = (after.0 - before.0, sqlite_between(&before.1, &after.1));
        let read = state::job(&store, job.job_id)
            .await
            .expect("job")
            .expect("job")
            .counts
            .unwrap_or_default()
            .read;
        let t = ctx.timings;
        let phases = [
            ("read", t.read),
            ("map", t.map),
            ("submit", t.submit),
            ("store", t.store),
        ];
        let bound = phases.iter().max_by_key(|p| p.1).map_or("", |p| p.0);
        let s = |d: Duration| d.as_secs_f64();
        let mut row = String::new();
        let _ = write!(
            row,
            "| {name} | {read} | {secs:.1} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} | {bound} | {process:.1} ({:.2}) | {job_cpu:.1} | {sqlite:.1} | {:.1} |",
            read as f64 / secs,
            s(t.read),
            s(t.map),
            s(t.submit),
            s(t.store),
            process / secs,
            process - job_cpu - sqlite
        );
        println!("{row}");
    }
    shutdown.cancel();
}

/// Clock ticks per second of /proc's CPU times (USER_HZ: 100 on Linux).
const TICKS: f64 = 100.0;

/// utime + stime of a /proc `stat` line, in seconds; the name is field 2,
/// in parentheses, and may hold spaces.
fn stat_cpu(stat: &str) -> (String, f64) {
    let (head, rest) = stat.rsplit_once(')').unwrap_or((stat, ""));
    let name = head.split_once('(').map_or("", |(_, n)| n).to_owned();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // After the name: state is 0, utime 11, stime 12.
    (name, (tick(11) + tick(12)) / TICKS)
}

/// CPU seconds of this process, and of each SQLite worker thread by id.
fn cpu() -> (f64, HashMap<String, f64>) {
    let process = std::fs::read_to_string("/proc/self/stat").map_or(0.0, |s| stat_cpu(&s).1);
    let mut sqlite = HashMap::new();
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            if let Ok(s) = std::fs::read_to_string(task.path().join("stat")) {
                let (name, secs) = stat_cpu(&s);
                if name.starts_with("sqlx-sqlite") {
                    sqlite.insert(task.file_name().to_string_lossy().into_owned(), secs);
                }
            }
        }
    }
    (process, sqlite)
}

/// SQLite workers' CPU between two samples (a worker that ended in between
/// is missed: the pools keep theirs for the whole run).
fn sqlite_between(before: &HashMap<String, f64>, after: &HashMap<String, f64>) -> f64 {
    after
        .iter()
        .map(|(tid, secs)| secs - before.get(tid).copied().unwrap_or(0.0))
        .sum()
}

fn thread_cpu() -> f64 {
    std::fs::read_to_string("/proc/thread-self/stat").map_or(0.0, |s| stat_cpu(&s).1)
}

async fn start_ingest(dir: &std::path::Path, shutdown: CancellationToken) -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let mut config = Config::defaults(ServiceName::Ingest);
    config.data_dir = dir.to_path_buf();
    // Its client sends no token: the bench measures the sync, not auth.
    config.auth.mode = portrait_service::AuthMode::Off;
    config.server.listen = format!("127.0.0.1:{port}");
    let config = config.validated(ServiceName::Ingest).expect("config");
    let listener = tokio::net::TcpListener::bind(&config.server.listen)
        .await
        .expect("ingest port");
    tokio::spawn(async move { portrait_ingest::run(config, listener, shutdown).await });
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if IngestServiceClient::connect(url.clone()).await.is_ok() {
            return url;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("ingest did not start");
}

/// A MariaDB database with `n` paid orders of 1-5 lines (3 on average), reused if present.
async fn source(admin: &str, n: i64) -> String {
    let name = format!("sync_bench_{n}");
    let url = format!("{}/{name}", admin.trim_end_matches('/'));
    let mut conn = MySqlConnection::connect(admin).await.expect("mariadb");
    conn.execute(format!("CREATE DATABASE IF NOT EXISTS {name} CHARACTER SET utf8mb4").as_str())
        .await
        .expect("db");
    let mut db = MySqlConnection::connect(&url).await.expect("bench db");
    let have: Option<i64> = sqlx::query("SELECT CAST(COUNT(*) AS SIGNED) FROM `Orders`")
        .fetch_one(&mut db)
        .await
        .ok()
        .map(|r| r.get(0));
    if have == Some(n) {
        println!("reusing {name}");
        return url;
    }
    for t in ["Orders", "OrderGoods", "Shop"] {
        db.execute(format!("DROP TABLE IF EXISTS `{t}`").as_str())
            .await
            .expect("drop");
    }
    for ddl in [
        "CREATE TABLE `Orders` (`id` bigint PRIMARY KEY, `openId` varchar(50), `vipId` int, `vipTel` varchar(50), `shopId` int, `shopName` varchar(350), `recordTime` varchar(50), `total` decimal(18,2), `cash` decimal(18,2), `payState` int, `refundMoney` decimal(18,2), `delflag` int, `takeoutName` varchar(50)) DEFAULT CHARSET=utf8mb4",
        "CREATE TABLE `OrderGoods` (`id` bigint PRIMARY KEY, `orderId` bigint, `goodsId` int, `goodsName` varchar(150), `categoryId` int, `categoryName` varchar(150), `goodsNumber` int, `goodsPrice` decimal(18,2), `goodsTotal` decimal(18,2), `realIncomeAmount` decimal(18,2), `isRefund` int, `refundMoney` decimal(18,2), `delflag` int, KEY (`orderId`)) DEFAULT CHARSET=utf8mb4",
        "CREATE TABLE `Shop` (`Id` int PRIMARY KEY, `ShopName` varchar(100), `city` varchar(255)) DEFAULT CHARSET=utf8mb4",
        "INSERT INTO `Shop` VALUES (1, '静安店', '上海市'), (2, '徐汇店', '上海'), (3, '朝阳店', '北京市'), (4, '西湖店', '杭州')",
    ] {
        db.execute(ddl).await.expect("schema");
    }
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(1);
    let now = portrait_service::now_ms();
    let mut line_id = 0_i64;
    let mut id = 0_i64;
    while id < n {
        let mut orders = String::new();
        let mut lines = String::new();
        for _ in 0..2000.min(n - id) {
            id += 1;
            // Ids grow with time, a few hours out of order, as in the source.
            let year = 365 * 86_400_000_i64;
            let ms = now - year + year / n * id - rng.random_range(0..4 * 3_600_000) + SHANGHAI_MS;
            let t = chrono::DateTime::from_timestamp_millis(ms)
                .expect("time")
                .naive_utc()
                .format("%Y-%m-%d %H:%M:%S");
            let mut total = 0;
            for _ in 0..rng.random_range(1..=5) {
                line_id += 1;
                let (goods, price) = (rng.random_range(1..60), rng.random_range(5..60) * 100);
                let qty = rng.random_range(1..=3);
                total += price * qty;
                let sep = if lines.is_empty() { "" } else { "," };
                let _ = write!(
                    lines,
                    "{sep}({line_id},{id},{goods},'商品{goods}',{},'类{}',{qty},{}.00,{}.00,NULL,0,0,0)",
                    goods % 6,
                    goods % 6,
                    price / 100,
                    price * qty / 100
                );
            }
            let customer = match rng.random_range(0..3) {
                0 => format!("'o{}',NULL,NULL", rng.random_range(0..200_000)),
                1 => format!(
                    "'',{},'138{:08}'",
                    rng.random_range(1..100_000),
                    rng.random_range(0..100_000)
                ),
                _ => "NULL,NULL,NULL".into(),
            };
            let sep = if orders.is_empty() { "" } else { "," };
            let _ = write!(
                orders,
                "{sep}({id},{customer},{},'店','{t}',{}.00,{}.00,2,0,0,'')",
                rng.random_range(1..5),
                total / 100,
                total / 100
            );
        }
        db.execute(format!("INSERT INTO `Orders` VALUES {orders}").as_str())
            .await
            .expect("orders");
        db.execute(format!("INSERT INTO `OrderGoods` VALUES {lines}").as_str())
            .await
            .expect("lines");
    }
    println!(
        "generated {n} orders, {line_id} lines in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    url
}
