//! The embedded stack under test: started on free ports, stopped, restarted.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{Filter, OverviewRequest};
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

use portrait::embedded;

pub(crate) struct Running {
    stack: embedded::Stack,
    token: CancellationToken,
    pub(crate) base_port: u16,
    pub(crate) endpoints: Endpoints,
}

/// Where the bench's clients reach the stack under test, the embedded one or
/// the five processes of `--distributed`.
#[derive(Clone, Debug)]
pub(crate) struct Endpoints {
    pub(crate) gateway_url: String,
    pub(crate) ingest_url: String,
}

impl Endpoints {
    pub(crate) async fn gateway(&self) -> anyhow::Result<PortraitServiceClient<Channel>> {
        Ok(PortraitServiceClient::new(
            connect(&self.gateway_url).await?,
        ))
    }
}

/// What a restart on the same data costs: until the gateway answers the
/// overview with the figures it gave before the restart.
#[derive(Clone, Debug)]
pub(crate) struct Startup {
    pub(crate) to_serving: Duration,
}

impl Running {
    pub(crate) async fn start(data_dir: &Path, base_port: Option<u16>) -> anyhow::Result<Self> {
        let base_port = match base_port {
            Some(p) => p,
            None => free_base_port()?,
        };
        let mut configs = embedded::configs(Some(data_dir), Some(base_port))?;
        // The bench's clients send no token: it measures the stack, not auth.
        for c in &mut configs {
            c.auth.mode = portrait_auth::AuthMode::Off;
            // Its many clients share one address by design.
            c.gateway.rate_per_second = 0;
        }
        let token = CancellationToken::new();
        let stack = embedded::start(configs, token.clone()).await?;
        Ok(Self {
            endpoints: Endpoints {
                gateway_url: format!("http://{}", stack.gateway_addr),
                ingest_url: format!("http://{}", stack.ingest_addr),
            },
            stack,
            token,
            base_port,
        })
    }

    /// Restarts on `data_dir` and times it until the overview (no filter) equals `expected`.
    pub(crate) async fn restart(
        data_dir: &Path,
        base_port: u16,
        filter: &Filter,
        expected_orders: i64,
    ) -> anyhow::Result<(Self, Startup)> {
        let started = Instant::now();
        let running = Self::start(data_dir, Some(base_port)).await?;
        let deadline = started + Duration::from_secs(600);
        loop {
            if let Ok(mut client) = running.gateway_once().await {
                let answer = client
                    .get_overview(OverviewRequest {
                        filter: Some(filter.clone()),
                    })
                    .await;
                if answer.is_ok_and(|a| a.get_ref().orders == expected_orders) {
                    let to_serving = started.elapsed();
                    return Ok((running, Startup { to_serving }));
                }
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "the restarted gateway did not serve the overview within 10 minutes"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub(crate) async fn stop(self) -> anyhow::Result<()> {
        self.token.cancel();
        self.stack.wait().await
    }

    async fn gateway_once(&self) -> anyhow::Result<PortraitServiceClient<Channel>> {
        let channel = Channel::from_shared(self.endpoints.gateway_url.clone())
            .context("bad gateway address")?
            .connect()
            .await?;
        Ok(PortraitServiceClient::new(channel))
    }
}

/// Connects, retrying while freshly started services bind their ports.
pub(crate) async fn connect(url: &str) -> anyhow::Result<Channel> {
    let endpoint = Channel::from_shared(url.to_owned()).context("bad service address")?;
    let mut last = None;
    for _ in 0..200 {
        match endpoint.connect().await {
            Ok(channel) => return Ok(channel),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(anyhow::anyhow!("{last:?}")).with_context(|| format!("failed to connect to {url}"))
}

/// Five consecutive ports nobody listens on; the embedded stack needs them
/// known up front because each service is told the others' addresses.
fn free_base_port() -> anyhow::Result<u16> {
    let seed = u64::from(std::process::id()) ^ portrait_service::now_ms().unsigned_abs();
    for attempt in 0..200_u64 {
        let base = 20_000 + ((seed.wrapping_add(attempt * 7_919)) % 40_000) as u16;
        let free = (0..5).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok());
        if free {
            return Ok(base);
        }
    }
    anyhow::bail!("failed to find five free consecutive ports")
}

/// Resident and peak memory of a process, in MiB.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Rss {
    pub(crate) now_mib: f64,
    pub(crate) peak_mib: f64,
}

/// This process's memory: in embedded mode the five services, the generator
/// and the bench clients all live in it.
pub(crate) fn rss() -> Option<Rss> {
    rss_of("self")
}

/// `proc` is a pid or `self`.
pub(crate) fn rss_of(proc: &str) -> Option<Rss> {
    let status = std::fs::read_to_string(format!("/proc/{proc}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
    };
    Some(Rss {
        now_mib: field("VmRSS:")?,
        peak_mib: field("VmHWM:")?,
    })
}

/// CPU time (user + system) this process has used, in seconds: over a phase,
/// CPU seconds / wall seconds near the core count means CPU-bound; far below
/// it, the phase waits (on SQLite's fsyncs, on the log, on the network).
pub(crate) fn cpu_seconds() -> Option<f64> {
    cpu_seconds_of("self")
}

/// `proc` is a pid or `self`.
pub(crate) fn cpu_seconds_of(proc: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{proc}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line; `rest` starts at field 3.
    let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // USER_HZ is 100 on every Linux ABI Rust targets.
    Some(ticks / 100.0)
}

/// CPU seconds every core of the machine spent busy since boot (`/proc/stat`:
/// user, nice, system, irq, softirq, steal; not idle or waiting for I/O).
pub(crate) fn machine_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .map(|t| t.parse::<f64>().ok())
        .collect::<Option<_>>()?;
    let busy = [0, 1, 2, 5, 6, 7]
        .iter()
        .map(|i| ticks.get(*i).copied())
        .sum::<Option<f64>>()?;
    Some(busy / 100.0)
}

/// Wall time and CPU time of one phase.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Phase {
    pub(crate) wall: Duration,
    pub(crate) cpu: Option<f64>,
}

impl Phase {
    pub(crate) fn cores(&self) -> String {
        self.cpu.map_or_else(
            || "CPU n/a".into(),
            |cpu| {
                format!(
                    "{cpu:.1} CPU s = {:.2} cores busy",
                    cpu / self.wall.as_secs_f64().max(1e-9)
                )
            },
        )
    }
}

/// Measures from `start` (wall, CPU) to now.
pub(crate) fn phase(start: (Instant, Option<f64>)) -> Phase {
    Phase {
        wall: start.0.elapsed(),
        cpu: cpu_seconds().zip(start.1).map(|(now, then)| now - then),
    }
}

pub(crate) fn mark() -> (Instant, Option<f64>) {
    (Instant::now(), cpu_seconds())
}
