//! `portrait bench` at a tiny scale runs end to end and prints every row, so
//! the command cannot rot. Figures are printed, never asserted; only DuckDB's
//! overview totals are compared, as an independent recount of the same orders.
//! With the services' logs on, stdout is still the report alone (the `--out` file).

use std::process::Command;

const PANELS: [&str; 13] = [
    "overview",
    "segments",
    "hours",
    "channels",
    "top-10 products",
    "first RFM page",
    "first suggestions page",
    "customer profile",
    "customer days",
    "customer preferences",
    "customer list page",
    "group patterns by segment",
    "summary by channel",
];

#[test]
fn bench_prints_every_panel_and_measure() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("report.md");
    let python = std::env::var("PORTRAIT_PYTHON").ok();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_portrait"));
    // Reserved ports: free ones found by the bench itself may be another
    // test's, reserved while its child starts.
    let base_port = portrait_testkit::free_ports(5).to_string();
    cmd.args(["bench", "--base-port", &base_port])
        .args(["--customers", "200", "--orders", "2000", "--stores", "5"])
        .args([
            "--cities",
            "3",
            "--days",
            "60",
            "--calls",
            "3",
            "--clients",
            "20",
        ])
        .args([
            "--client-calls",
            "2",
            "--fresh-rate",
            "200",
            "--fresh-secs",
            "1",
        ])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--out")
        .arg(&out)
        // The services' routine logs on: they must all go to stderr.
        .env("RUST_LOG", "info");
    if python.is_none() {
        println!("skipped the DuckDB half: PORTRAIT_PYTHON not set; run bash tests/run");
        cmd.arg("--skip-duckdb");
    }
    let run = cmd.output().expect("run portrait bench");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "portrait bench failed: {stderr}");
    let stdout = String::from_utf8(run.stdout).expect("utf-8 report");

    for panel in PANELS {
        let rows: Vec<&str> = stdout
            .lines()
            .filter(|l| l.starts_with(&format!("| {panel} | ")))
            .collect();
        assert_eq!(rows.len(), 4, "{panel}: one row per filter in\n{stdout}");
        for row in rows {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            // | panel | filter | p50 | p99 | first | errors | DuckDB p50 | p99 | ratio |
            assert_eq!(cells.len(), 11, "{row}");
            assert_eq!(cells[6], "0", "calls failed: {row}");
            if python.is_some() {
                assert!(cells[7].parse::<f64>().is_ok(), "no DuckDB time: {row}");
            }
        }
    }
    for measure in [
        "| ingest, embedded",
        "concurrent clients, overview",
        "| freshness:",
        "| start-up on the same data",
        // Timed by a `--loads-only` child process and read back from its table.
        "| start-up of profiler alone",
        "| start-up of rfm alone",
        "| start-up of suggest alone",
        "| RSS of the one process",
    ] {
        assert!(stdout.contains(measure), "missing {measure:?} in\n{stdout}");
    }
    assert!(!stdout.contains("MISMATCH"), "{stdout}");
    if python.is_some() {
        let equal = stdout.lines().filter(|l| l.ends_with("| equal |")).count();
        assert_eq!(equal, 4, "DuckDB's overview totals per filter:\n{stdout}");
    }
    let written = std::fs::read_to_string(&out).expect("--out file");
    assert_eq!(written.trim(), stdout.trim());
    assert!(
        stderr.contains("serving grpc"),
        "the services' start-up lines are not on stderr:\n{stderr}"
    );
    assert!(
        !stdout.contains("serving grpc"),
        "logs on stdout:\n{stdout}"
    );
}
