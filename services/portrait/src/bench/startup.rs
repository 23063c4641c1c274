//! Each consumer's start-up on its own: the serving state loaded from the
//! consumer's tables, one consumer at a time, as a consumer process of the
//! five-process deployment starts (the embedded restart loads all three at
//! once on the same cores).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use portrait_profiler::ProfilerProjection;
use portrait_service::{CustomerProjection, Projection, ServiceName};

#[derive(Clone, Debug)]
pub(crate) struct Load {
    pub(crate) service: ServiceName,
    pub(crate) took: Duration,
}

/// [`each`] in a process of its own (`portrait bench --loads-only`), as a
/// consumer process starts: in the bench's own process the stopped stacks'
/// leftover work (a clustering on a blocking thread finishes after its
/// stack stops) shared the cores, and at 10M orders the profiler's figure
/// was twice what it is alone.
pub(crate) async fn each_in_child(data_dir: &Path) -> anyhow::Result<Vec<Load>> {
    let waited = wait_until_quiet().await;
    if waited > QUIET_WINDOW {
        tracing::warn!(
            waited_s = waited.as_secs(),
            "the stopped stacks' work went on; the loads wait for it"
        );
    }
    let exe = std::env::current_exe().context("failed to find this executable")?;
    let out = tokio::process::Command::new(exe)
        .args(["bench", "--loads-only", "--data-dir"])
        .arg(data_dir)
        .env("RUST_LOG", "warn")
        .stderr(std::process::Stdio::inherit())
        .output()
        .await
        .context("failed to run the loads' process")?;
    anyhow::ensure!(
        out.status.success(),
        "the loads' process failed ({})",
        out.status
    );
    let loads = parse(&String::from_utf8_lossy(&out.stdout));
    anyhow::ensure!(!loads.is_empty(), "the loads' process printed no load");
    Ok(loads)
}

const QUIET_WINDOW: Duration = Duration::from_secs(1);
/// Past this the loads run whatever this process is still doing.
const QUIET_LIMIT: Duration = Duration::from_secs(300);

/// Waits until this process uses under a tenth of a core over a second: a
/// stopped stack's clustering or model fit runs to its end on a blocking
/// thread, and beside it a child's load at 10M orders took 39 s instead of
/// 29. Returns how long it waited.
async fn wait_until_quiet() -> Duration {
    let started = Instant::now();
    while started.elapsed() < QUIET_LIMIT {
        let before = super::stack::cpu_seconds();
        tokio::time::sleep(QUIET_WINDOW).await;
        match (before, super::stack::cpu_seconds()) {
            (Some(a), Some(b)) if b - a >= 0.1 * QUIET_WINDOW.as_secs_f64() => {}
            // Quiet, or no /proc to tell.
            _ => break,
        }
    }
    started.elapsed()
}

/// The rows `| service | 1.23 s |` of `--loads-only`'s table.
fn parse(table: &str) -> Vec<Load> {
    (table.lines())
        .filter_map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            let [name, took] = cells.as_slice() else {
                return None;
            };
            let service = (ServiceName::ALL.into_iter()).find(|s| s.as_str() == *name)?;
            let secs: f64 = took.strip_suffix(" s")?.parse().ok()?;
            Some(Load {
                service,
                took: Duration::try_from_secs_f64(secs).ok()?,
            })
        })
        .collect()
}

/// Loads each consumer's serving state from `data_dir`, one after another.
pub(crate) async fn each(data_dir: &Path) -> anyhow::Result<Vec<Load>> {
    let configs = portrait::embedded::configs(Some(data_dir), None)?;
    let mut loads = Vec::new();
    // `configs` lists the services in `ServiceName::ALL` order.
    for (service, config) in ServiceName::ALL.into_iter().zip(configs) {
        let took = match service {
            ServiceName::Profiler => time(&config.store.url, ProfilerProjection::default()).await,
            ServiceName::Rfm => time(&config.store.url, CustomerProjection::new("rfm")).await,
            ServiceName::Suggest => {
                time(&config.store.url, CustomerProjection::new("suggest")).await
            }
            _ => continue,
        }
        .with_context(|| format!("failed to load the {} state", service.as_str()))?;
        loads.push(Load { service, took });
    }
    Ok(loads)
}

async fn time<P: Projection>(url: &str, projection: P) -> anyhow::Result<Duration> {
    let settings = portrait_service::StoreSettings {
        url: url.to_owned(),
        acquire_timeout_ms: 2_000,
    };
    let store = portrait_service::open_store(&settings, &projection).await?;
    let started = Instant::now();
    projection.load(&store).await?;
    let took = started.elapsed();
    store.close().await;
    Ok(took)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_of_loads_reads_back() {
        let table = "| consumer | load |\n|---|---:|\n| profiler | 28.61 s |\n| rfm | 0.59 s |\n\n";
        let loads = parse(table);
        let got: Vec<(&str, u128)> = (loads.iter())
            .map(|l| (l.service.as_str(), l.took.as_millis()))
            .collect();
        assert_eq!(got, [("profiler", 28_610), ("rfm", 590)]);
    }
}
