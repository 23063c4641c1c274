//! The machine, the dates, and the markdown the bench prints.

use std::fmt::Write as _;
use std::time::Duration;

use super::BenchArgs;
use super::dist::Distributed;
use super::duckdb::DuckDb;
use super::feed::Fed;
use super::load::{Concurrent, Freshness};
use super::panels::{Measured, NamedFilter, PANELS};
use super::stack::{Rss, Startup};

const DAY_MS: i64 = 86_400_000;
/// The chain's zone, Asia/Shanghai, has had no daylight saving since 1991, so
/// a fixed offset gives its days and hours exactly.
pub(crate) const OFFSET_MS: i64 = 8 * 3_600_000;

/// Today's local day number (days since 1970-01-01, Asia/Shanghai).
pub(crate) fn local_today() -> i64 {
    (portrait_service::now_ms() + OFFSET_MS).div_euclid(DAY_MS)
}

pub(crate) fn midnight_ms(day: i64) -> i64 {
    day * DAY_MS - OFFSET_MS
}

pub(crate) fn date(day: i64) -> String {
    chrono::DateTime::from_timestamp_millis(day * DAY_MS)
        .map(|d| d.date_naive().to_string())
        .unwrap_or_default()
}

pub(crate) fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or_else(
            || "unknown memory".into(),
            |kb| format!("{:.1} GiB", kb / 1024.0 / 1024.0),
        );
    format!("{cpu}, {cores} cores available, {memory}")
}

pub(crate) struct Report {
    scale: String,
    customers: usize,
    machine: String,
    pub(crate) filters: Vec<NamedFilter>,
    pub(crate) ingest: Option<Fed>,
    pub(crate) panels: Measured,
    pub(crate) concurrent: Option<Concurrent>,
    pub(crate) freshness: Option<Freshness>,
    pub(crate) startup: Option<Startup>,
    pub(crate) loads: Vec<crate::bench::startup::Load>,
    pub(crate) rss_after_ingest: Option<Rss>,
    pub(crate) rss_after_panels: Option<Rss>,
    pub(crate) rss_after_restart: Option<Rss>,
    pub(crate) duckdb: Option<DuckDb>,
    pub(crate) distributed: Option<Distributed>,
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2}")
    } else {
        format!("{ms:.0}")
    }
}

fn rss(r: Option<Rss>) -> String {
    r.map_or_else(
        || "n/a".into(),
        |r| format!("{:.0} MiB (peak so far {:.0} MiB)", r.now_mib, r.peak_mib),
    )
}

impl Report {
    pub(crate) fn new(args: &BenchArgs, machine: String) -> Self {
        Self {
            customers: args.customers,
            scale: format!(
                "{} customers, {} orders requested, {} stores, {} cities, {} days, seed {}; {} calls per panel and filter",
                args.customers,
                args.orders,
                args.stores,
                args.cities,
                args.days,
                args.seed,
                args.calls
            ),
            machine,
            filters: Vec::new(),
            ingest: None,
            panels: Measured::default(),
            concurrent: None,
            freshness: None,
            startup: None,
            loads: Vec::new(),
            rss_after_ingest: None,
            rss_after_panels: None,
            rss_after_restart: None,
            duckdb: None,
            distributed: None,
        }
    }

    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "## portrait bench\n\nScale: {}.\nMachine: {}.\nBuild: {}.\nStack: {}.\n",
            self.scale,
            self.machine,
            if cfg!(debug_assertions) {
                "debug (figures are not representative)"
            } else {
                "release"
            },
            self.distributed.as_ref().map_or(
                "embedded (the five services as tasks of this process, SQLite log and stores)",
                |d| d.setup.as_str()
            )
        );
        self.render_panels(&mut out);
        match &self.distributed {
            Some(d) => d.render(
                self.ingest.as_ref(),
                self.freshness.as_ref(),
                self.customers,
                &mut out,
            ),
            None => self.render_others(&mut out),
        }
        if let Some(d) = &self.duckdb {
            let _ = writeln!(out, "\n{}", d.check_text(&self.filters, &self.panels));
        }
        out
    }

    fn render_panels(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "| panel | filter | Portrait p50 ms | Portrait p99 ms | Portrait first call ms | errors | DuckDB p50 ms | DuckDB p99 ms | DuckDB p50 / Portrait p50 |"
        );
        let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|");
        for (p, panel) in PANELS.iter().enumerate() {
            for (f, filter) in self.filters.iter().enumerate() {
                let Some(t) = self.panels.timings.get(p).and_then(|row| row.get(f)) else {
                    continue;
                };
                let duck = self
                    .duckdb
                    .as_ref()
                    .and_then(|d| d.timing(panel, &filter.name));
                let (d50, d99, ratio) =
                    duck.map_or(("-".into(), "-".into(), "-".into()), |(d50, d99)| {
                        let ratio = d50.as_secs_f64() / t.p50.as_secs_f64().max(1e-9);
                        (
                            ms(d50),
                            ms(d99),
                            if ratio < 1.0 {
                                format!("{ratio:.2}×")
                            } else {
                                format!("{ratio:.1}×")
                            },
                        )
                    });
                let _ = writeln!(
                    out,
                    "| {panel} | {} | {} | {} | {} | {} | {d50} | {d99} | {ratio} |",
                    filter.name,
                    ms(t.p50),
                    ms(t.p99),
                    ms(t.first),
                    t.errors
                );
            }
        }
    }

    fn render_others(&self, out: &mut String) {
        let _ = writeln!(out, "\n| measure | figure |\n|---|---|");
        if let Some(f) = &self.ingest {
            let secs = (f.accepting.wall + f.catching_up.wall).as_secs_f64();
            let _ = writeln!(
                out,
                "| ingest, embedded, end to end until caught up | {} orders ({} submissions; {:.1} orders per customer, habit intensity {:.2}) in {secs:.1} s: **{:.0} orders/s**, {:.0} submissions/s |",
                f.orders,
                f.submissions,
                f.orders as f64 / self.customers.max(1) as f64,
                f.intensity,
                f.orders as f64 / secs,
                f.submissions as f64 / secs,
            );
            let _ = writeln!(
                out,
                "| of which: until ingest accepted the last submission | {:.1} s ({:.0} submissions/s), {} |",
                f.accepting.wall.as_secs_f64(),
                f.submissions as f64 / f.accepting.wall.as_secs_f64().max(1e-9),
                f.accepting.cores()
            );
            let _ = writeln!(
                out,
                "| of which: then until the consumers caught up | {:.1} s, {} |",
                f.catching_up.wall.as_secs_f64(),
                f.catching_up.cores()
            );
        }
        if let Some(c) = &self.concurrent {
            let codes: Vec<String> = c
                .error_codes
                .iter()
                .map(|(code, n)| format!("{n} {code}"))
                .collect();
            let codes = if codes.is_empty() {
                String::new()
            } else {
                format!(" ({})", codes.join(", "))
            };
            let _ = writeln!(
                out,
                "| {} concurrent clients, overview, mixed filters | {} calls in {:.1} s, {} errors{codes}, p50 {} ms, p99 {} ms; {} |",
                c.clients,
                c.calls,
                c.phase.wall.as_secs_f64(),
                c.timing.errors,
                ms(c.timing.p50),
                ms(c.timing.p99),
                c.phase.cores()
            );
        }
        if let Some(f) = &self.freshness {
            f.render(out);
        }
        if let Some(s) = &self.startup {
            let _ = writeln!(
                out,
                "| start-up on the same data, until the overview answers with every order | {:.2} s |",
                s.to_serving.as_secs_f64()
            );
        }
        for l in &self.loads {
            let _ = writeln!(
                out,
                "| start-up of {} alone: its serving state loaded from its tables | {:.2} s |",
                l.service.as_str(),
                l.took.as_secs_f64()
            );
        }
        let _ = writeln!(
            out,
            "| RSS of the one process (all five services, generator and bench clients) after ingest | {} |",
            rss(self.rss_after_ingest)
        );
        let _ = writeln!(
            out,
            "| RSS after the panels | {} |",
            rss(self.rss_after_panels)
        );
        let _ = writeln!(
            out,
            "| RSS after the restart (freed memory may stay with the allocator) | {} |",
            rss(self.rss_after_restart)
        );
    }
}

impl Freshness {
    pub(crate) fn render(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "| freshness: accepted → in the overview, {} orders at {:.0} orders/s | p50 {} ms, p99 {} ms, max {} ms |",
            self.sent,
            self.achieved_rate,
            ms(self.p50),
            ms(self.p99),
            ms(self.max)
        );
    }
}
