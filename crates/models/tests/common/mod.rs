//! Helpers for the reference tests: run the Python reference scripts and read the CDNOW files.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::NaiveDate;
use portrait_models::summary::Transaction;

/// The interpreter of the reference virtualenv `tests/run` builds; `None`
/// (the test skips, saying so) outside the test command.
pub fn python() -> Option<PathBuf> {
    portrait_testkit::server_env("PORTRAIT_PYTHON", "the Python reference libraries")
        .map(PathBuf::from)
}

pub fn reference_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("reference")
        .join(name)
}

/// Whether the reference tests must skip (saying so): no reference virtualenv.
pub fn skip() -> bool {
    python().is_none()
}

/// Run a reference script and parse its stdout as JSON. Callers check [`skip`] first.
pub fn run_reference(script: &str, args: &[&str]) -> serde_json::Value {
    let out = Command::new(python().expect("callers check skip() first"))
        .arg(reference_script(script))
        .args(args)
        .output()
        .expect("failed to start $PORTRAIT_PYTHON");
    assert!(
        out.status.success(),
        "{script} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("reference output is not JSON")
}

/// Where lifetimes keeps its CDNOW copies ("sample" or "master").
pub fn cdnow_path(which: &str) -> PathBuf {
    let v = run_reference("btyd_reference.py", &["locate"]);
    PathBuf::from(v[which].as_str().expect("locate output lacks the path"))
}

/// Read a CDNOW text file: whitespace-separated; the sample has an extra leading column
/// (original id) and no header, the master file has a header.
pub fn load_cdnow(which: &str) -> Vec<Transaction<u64>> {
    let text = std::fs::read_to_string(cdnow_path(which)).expect("failed to read CDNOW file");
    let skip = usize::from(which == "master");
    let id_col = usize::from(which == "sample");
    text.lines()
        .skip(skip)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            Transaction {
                customer: f[id_col].parse().expect("customer id"),
                date: NaiveDate::parse_from_str(f[id_col + 1], "%Y%m%d").expect("date"),
                amount: f[id_col + 3].parse().expect("amount"),
            }
        })
        .collect()
}

/// One row of the reference's customers.csv.
/// The prediction columns are absent from the `summary` command's output.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct RefCustomer {
    pub customer_id: u64,
    pub frequency: f64,
    pub recency: f64,
    #[serde(rename = "T")]
    pub age: f64,
    pub monetary_value: f64,
    #[serde(default)]
    pub p_alive: f64,
    #[serde(default)]
    pub expected_purchases: f64,
    #[serde(default)]
    pub expected_spend: f64,
    #[serde(default)]
    pub clv: f64,
}

pub fn read_ref_customers(path: &Path) -> Vec<RefCustomer> {
    let mut r = csv::Reader::from_path(path).expect("failed to open reference customers.csv");
    let mut v: Vec<RefCustomer> = r
        .deserialize()
        .map(|x| x.expect("bad reference row"))
        .collect();
    v.sort_by_key(|c| c.customer_id);
    v
}

pub fn rel_diff(ours: f64, theirs: f64) -> f64 {
    (ours - theirs).abs() / theirs.abs().max(1e-300)
}
