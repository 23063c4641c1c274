//! `portrait bench --distributed` at a tiny scale against the PostgreSQL and
//! broker that `tests/run` starts: the five processes serve, every order of the
//! chain reaches the gateway (recounted here from the same generator), each
//! back-end service gets its memory row, and the databases are dropped.

use std::collections::HashMap;
use std::process::Command;

use portrait_proto::v1::OrderStatus;
use portrait_synth::{ChainSpec, OrderStream};
use sqlx::{Connection, PgConnection};

const DAY_MS: i64 = 86_400_000;
const OFFSET_MS: i64 = 8 * 3_600_000;
const CUSTOMERS: usize = 300;
const ORDERS: u64 = 2_000;
const STORES: usize = 5;
const CITIES: usize = 3;
const DAYS: u32 = 60;

/// Orders whose latest version is paid: what the overview counts with no filter.
fn live_orders(today: i64) -> i64 {
    let midnight = today * DAY_MS - OFFSET_MS;
    let spec = ChainSpec {
        seed: 7,
        stores: STORES,
        cities: CITIES,
        customers: CUSTOMERS,
        start_ms: midnight - i64::from(DAYS) * DAY_MS,
        days: DAYS,
        ..ChainSpec::demo(midnight)
    };
    let mut latest = HashMap::new();
    for o in OrderStream::new(&spec, Some(ORDERS)).flatten() {
        latest.insert(o.order_id, o.status == OrderStatus::Paid as i32);
    }
    latest.values().filter(|live| **live).count() as i64
}

fn cells(row: &str) -> Vec<&str> {
    row.split('|').map(str::trim).collect()
}

#[tokio::test]
async fn distributed_bench_reports_throughput_and_each_service_memory() {
    let Some(brokers) = portrait_testkit::broker::kafka_brokers() else {
        return;
    };
    let Some(admin) = portrait_testkit::server_env("PORTRAIT_TEST_PG_URL", "PostgreSQL") else {
        return;
    };
    let today = (chrono::Utc::now().timestamp_millis() + OFFSET_MS).div_euclid(DAY_MS);
    let run = Command::new(env!("CARGO_BIN_EXE_portrait"))
        .args(["bench", "--distributed", "--postgres-url", &admin])
        .args(["--brokers", &brokers, "--skip-duckdb", "--calls", "2"])
        .args(["--customers", &CUSTOMERS.to_string()])
        .args(["--orders", &ORDERS.to_string()])
        .args(["--stores", &STORES.to_string()])
        .args(["--cities", &CITIES.to_string()])
        .args(["--days", &DAYS.to_string()])
        .args(["--fresh-rate", "200", "--fresh-secs", "1"])
        .args(["--base-port", &portrait_testkit::free_ports(5).to_string()])
        .output()
        .expect("run portrait bench");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "portrait bench failed: {stderr}");
    let stdout = String::from_utf8(run.stdout).expect("utf-8 report");

    let throughput = stdout
        .lines()
        .find(|l| l.starts_with("| ingest, distributed"))
        .unwrap_or_else(|| panic!("no throughput row in\n{stdout}"));
    let rate = throughput
        .split("**")
        .nth(1)
        .and_then(|s| s.strip_suffix(" orders/s"))
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no orders/s in {throughput}"));
    assert!(rate > 0.0, "{throughput}");

    // Freshness through the five processes: every sent order was seen.
    let fresh = stdout
        .lines()
        .find(|l| l.starts_with("| freshness: accepted → in the overview, 200 orders"))
        .unwrap_or_else(|| panic!("no freshness row in\n{stdout}"));
    assert!(
        cells(fresh)[2].starts_with("p50 ") && cells(fresh)[2].contains(" ms, p99 "),
        "{fresh}"
    );

    let overview = stdout
        .lines()
        .find(|l| l.starts_with("| the gateway's overview, no filter"))
        .unwrap_or_else(|| panic!("no overview row in\n{stdout}"));
    let orders: i64 = cells(overview)[2]
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no order count in {overview}"));
    assert_eq!(orders, live_orders(today), "{overview}");

    for service in ["ingest", "profiler", "rfm", "suggest"] {
        let row = stdout
            .lines()
            .find(|l| l.starts_with(&format!("| portrait-{service} |")))
            .unwrap_or_else(|| panic!("no row for {service} in\n{stdout}"));
        // | process | RSS after ingest | peak | RSS after panels | peak | CPU … |
        let c = cells(row);
        for (i, cell) in c.iter().enumerate().take(6).skip(2) {
            let mib: f64 = cell
                .parse()
                .unwrap_or_else(|_| panic!("no memory figure in column {i}: {row}"));
            assert!(mib > 0.0, "{row}");
        }
        assert!(c[6].ends_with("cores)"), "no CPU figure: {row}");
    }
    // The machine's CPU, from which PostgreSQL's and the broker's share is read off.
    let machine = stdout
        .lines()
        .find(|l| l.starts_with("| the whole machine"))
        .unwrap_or_else(|| panic!("no machine row in\n{stdout}"));
    assert!(
        cells(machine)[6].ends_with("cores)") && cells(machine)[7].ends_with("cores)"),
        "{machine}"
    );
    for panel in [
        "| overview | no filter |",
        "| first suggestions page | no filter |",
    ] {
        let row = stdout
            .lines()
            .find(|l| l.starts_with(panel))
            .unwrap_or_else(|| panic!("no {panel} row in\n{stdout}"));
        assert_eq!(cells(row)[6], "0", "calls failed: {row}");
    }

    // The run's databases are named on the stack line and gone afterwards.
    let stack = stdout
        .lines()
        .find(|l| l.starts_with("Stack: "))
        .unwrap_or_else(|| panic!("no stack line in\n{stdout}"));
    let names: Vec<String> = stack
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("portrait_bench_"))
        .map(str::to_owned)
        .collect();
    assert_eq!(names.len(), 5, "{stack}");
    let mut conn = PgConnection::connect(&admin)
        .await
        .expect("test PostgreSQL");
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname = ANY($1)")
        .bind(&names)
        .fetch_one(&mut conn)
        .await
        .expect("count databases");
    assert_eq!(left, 0, "databases left behind: {names:?}");
}
