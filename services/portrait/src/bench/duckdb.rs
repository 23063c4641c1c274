//! The same panels computed by DuckDB over the same accepted orders, by the
//! Python script next to this crate, run as a child process.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use portrait_proto::v1::OrderStatus;
use portrait_synth::{ChainSpec, OrderStream};
use serde::Deserialize;

use super::panels::{Measured, NamedFilter};
use super::report::OFFSET_MS;

const SCRIPT: &str = include_str!("../../bench/duckdb_panels.py");

#[derive(Debug, Deserialize)]
struct Percentiles {
    p50_ms: f64,
    p99_ms: f64,
}

#[derive(Debug, Deserialize)]
struct Figures {
    orders: i64,
    revenue_fen: i64,
}

#[derive(Debug, Deserialize)]
pub(crate) struct DuckDb {
    version: String,
    load_seconds: f64,
    live_orders: i64,
    panels: BTreeMap<String, BTreeMap<String, Percentiles>>,
    overview: BTreeMap<String, Figures>,
}

/// Writes every submission (with its sending sequence) of the same chain, then
/// lets DuckDB keep the latest version of each order and the live ones, as
/// ingest does, before it times the panels.
pub(crate) fn compare(
    data_dir: &Path,
    spec: &ChainSpec,
    orders: u64,
    filters: &[NamedFilter],
    calls: usize,
) -> anyhow::Result<DuckDb> {
    let dir = data_dir.join("duckdb");
    std::fs::create_dir_all(&dir).with_context(|| format!("failed to create {}", dir.display()))?;
    export(&dir, spec, orders)?;
    let script = dir.join("duckdb_panels.py");
    std::fs::write(&script, SCRIPT).context("failed to write the duckdb script")?;
    let filters_file = dir.join("filters.json");
    std::fs::write(&filters_file, serde_json::to_vec(filters)?)
        .context("failed to write the filters")?;
    let python = std::env::var("PORTRAIT_PYTHON").unwrap_or_else(|_| "python3".into());
    eprintln!("running the DuckDB comparison with {python}");
    let output = std::process::Command::new(&python)
        .arg(&script)
        .arg(&dir)
        .arg(calls.to_string())
        .output()
        .with_context(|| format!("failed to run {python}"))?;
    anyhow::ensure!(
        output.status.success(),
        "the duckdb script failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).context("failed to read the duckdb script's JSON")
}

fn export(dir: &Path, spec: &ChainSpec, orders: u64) -> anyhow::Result<()> {
    let mut heads =
        csv::Writer::from_path(dir.join("orders.csv")).context("failed to create orders.csv")?;
    let mut lines =
        csv::Writer::from_path(dir.join("lines.csv")).context("failed to create lines.csv")?;
    heads.write_record([
        "seq",
        "order_id",
        "customer_id",
        "store_id",
        "city",
        "channel",
        "local_day",
        "local_hour",
        "net_amount_fen",
        "live",
    ])?;
    lines.write_record([
        "seq",
        "product_id",
        "product_name",
        "category_id",
        "quantity",
        "net_amount_fen",
    ])?;
    let mut seq = 0_u64;
    for o in OrderStream::new(spec, Some(orders)).flatten() {
        seq += 1;
        let local = o.placed_at_ms + OFFSET_MS;
        let day = super::report::date(local.div_euclid(86_400_000));
        let hour = local.rem_euclid(86_400_000) / 3_600_000;
        let live = o.status == OrderStatus::Paid as i32;
        let s = seq.to_string();
        heads.write_record([
            s.as_str(),
            &o.order_id,
            &o.customer_id,
            &o.store_id,
            &o.city,
            &o.channel.to_string(),
            &day,
            &hour.to_string(),
            &o.net_amount_fen.to_string(),
            if live { "1" } else { "0" },
        ])?;
        for l in &o.lines {
            lines.write_record([
                s.as_str(),
                &l.product_id,
                &l.product_name,
                &l.category_id,
                &l.quantity.to_string(),
                &l.net_amount_fen.to_string(),
            ])?;
        }
    }
    heads.flush()?;
    lines.flush()?;
    Ok(())
}

impl DuckDb {
    pub(crate) fn timing(&self, panel: &str, filter: &str) -> Option<(Duration, Duration)> {
        let p = self.panels.get(panel)?.get(filter)?;
        Some((
            Duration::from_secs_f64(p.p50_ms / 1000.0),
            Duration::from_secs_f64(p.p99_ms / 1000.0),
        ))
    }

    /// Overview orders and revenue side by side; a mismatch is printed loudly
    /// (a benchmark reports, it does not fail).
    pub(crate) fn check_text(&self, filters: &[NamedFilter], measured: &Measured) -> String {
        let mut out = format!(
            "DuckDB {} loaded {} live orders in {:.1} s (not timed in the table).\n\n| filter | Portrait orders | DuckDB orders | Portrait revenue fen | DuckDB revenue fen | |\n|---|---:|---:|---:|---:|---|\n",
            self.version, self.live_orders, self.load_seconds
        );
        for (f, o) in filters.iter().zip(&measured.overviews) {
            let Some(d) = self.overview.get(&f.name) else {
                continue;
            };
            let same = d.orders == o.orders && d.revenue_fen == o.revenue_fen;
            let verdict = if same { "equal" } else { "**MISMATCH**" };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {verdict} |",
                f.name, o.orders, d.orders, o.revenue_fen, d.revenue_fen
            );
            if !same {
                eprintln!(
                    "MISMATCH: Portrait and DuckDB disagree on the overview for {}: orders {} vs {}, revenue {} vs {}",
                    f.name, o.orders, d.orders, o.revenue_fen, d.revenue_fen
                );
            }
        }
        out
    }
}
