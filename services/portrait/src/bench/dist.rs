//! `portrait bench --distributed`: the five service binaries as child
//! processes on a Kafka-protocol broker and PostgreSQL (one database each),
//! fed and timed through the same clients as the embedded stack, with each
//! process's memory and CPU read from /proc.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use portrait_proto::v1::SyncStatusRequest;
use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_store::redact;
use portrait_synth::ChainSpec;
use tonic::transport::Channel;

use super::feed::Fed;
use super::load::Freshness;
use super::pg::{Databases, password};
use super::report::Report;
use super::stack::{Endpoints, Rss, cpu_seconds_of, machine_cpu_seconds, rss_of};
use super::{BenchArgs, feed, load, panels};

/// In start order: the gateway last, once the services it calls are up.
pub(crate) const SERVICES: [&str; 5] = ["ingest", "profiler", "rfm", "suggest", "gateway"];

/// How long the services get to migrate their databases, create the topics and serve.
const START_WITHIN: Duration = Duration::from_secs(120);

/// One process's memory and CPU at one moment.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Sample {
    pub(crate) rss: Option<Rss>,
    pub(crate) cpu: Option<f64>,
}

impl Sample {
    fn of(proc: &str) -> Self {
        Self {
            rss: rss_of(proc),
            cpu: cpu_seconds_of(proc),
        }
    }
}

/// One process's samples: when the services served, when ingest accepted the
/// last submission, when the consumers caught up, after the panels.
#[derive(Clone, Debug, Default)]
pub(crate) struct Process {
    pub(crate) name: String,
    pub(crate) samples: [Sample; 4],
    /// The whole machine, whose CPU counts from boot, not from a start.
    pub(crate) machine: bool,
}

/// What the distributed run saw besides the shared figures of [`Report`].
#[derive(Clone, Debug, Default)]
pub(crate) struct Distributed {
    /// How the stack was set up, credentials redacted.
    pub(crate) setup: String,
    pub(crate) processes: Vec<Process>,
    /// The gateway's overview with no filter once caught up.
    pub(crate) orders: i64,
    pub(crate) revenue_fen: i64,
}

pub(crate) async fn run(
    args: &BenchArgs,
    spec: &ChainSpec,
    data_dir: &Path,
    today: i64,
    report: &mut Report,
) -> anyhow::Result<()> {
    let (Some(admin), Some(brokers)) = (&args.postgres_url, &args.brokers) else {
        anyhow::bail!("--distributed needs --postgres-url and --brokers");
    };
    let stamp = format!("{}_{}", std::process::id(), portrait_service::now_ms());
    let databases = Databases::create(admin, &stamp).await?;
    // Dropping the measurement (finished, failed or interrupted) kills the
    // children, so the databases are free to drop afterwards.
    let measured = tokio::select! {
        r = measure(args, spec, data_dir, today, report, &databases, brokers, &stamp) => r,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    if args.keep_databases {
        let names: Vec<&str> = databases.names.iter().map(|(_, n)| n.as_str()).collect();
        eprintln!("kept the databases: {}", names.join(", "));
    } else {
        databases.drop_all().await;
    }
    measured
}

#[allow(clippy::too_many_arguments)]
async fn measure(
    args: &BenchArgs,
    spec: &ChainSpec,
    data_dir: &Path,
    today: i64,
    report: &mut Report,
    databases: &Databases,
    brokers: &str,
    stamp: &str,
) -> anyhow::Result<()> {
    let bin_dir = std::env::current_exe()
        .context("failed to find the running executable")?
        .parent()
        .map(Path::to_path_buf)
        .context("failed to find the running executable's folder")?;
    let ports = match args.base_port {
        Some(base) => (base..).take(SERVICES.len()).collect(),
        None => SERVICES
            .iter()
            .map(|_| free_port())
            .collect::<anyhow::Result<Vec<u16>>>()?,
    };
    let url = |service: &str| {
        let i = SERVICES.iter().position(|s| *s == service).unwrap_or(0);
        format!("http://127.0.0.1:{}", ports[i])
    };
    let topic_prefix = format!("bench-{stamp}.");
    let mut children = Children {
        logs: data_dir.to_path_buf(),
        secret: password(&databases.admin).map(str::to_owned),
        procs: Vec::new(),
    };
    for (i, service) in SERVICES.iter().enumerate() {
        let own_dir = data_dir.join(service);
        std::fs::create_dir_all(&own_dir)
            .with_context(|| format!("failed to create {}", own_dir.display()))?;
        let mut env = vec![
            ("PORTRAIT__DATA_DIR", own_dir.display().to_string()),
            ("PORTRAIT__BUS__KIND", "kafka".into()),
            ("PORTRAIT__BUS__BROKERS", brokers.to_owned()),
            ("PORTRAIT__BUS__TOPIC_PREFIX", topic_prefix.clone()),
            (
                "PORTRAIT__BUS__MAX_BATCH_RECORDS",
                args.max_batch_records.to_string(),
            ),
            (
                "PORTRAIT__BUS__BUNDLE_RECORDS",
                args.bundle_records.to_string(),
            ),
            (
                "PORTRAIT__SERVER__LISTEN",
                format!("127.0.0.1:{}", ports[i]),
            ),
            ("PORTRAIT__GATEWAY__INGEST", url("ingest")),
            ("PORTRAIT__GATEWAY__PROFILER", url("profiler")),
            ("PORTRAIT__GATEWAY__RFM", url("rfm")),
            ("PORTRAIT__GATEWAY__SUGGEST", url("suggest")),
            // The load phase's many clients share one address by design.
            ("PORTRAIT__GATEWAY__RATE_PER_SECOND", "0".into()),
            (
                "PORTRAIT__TELEMETRY__LOG_FILTER",
                "info,sqlx=warn,rdkafka=warn".into(),
            ),
        ];
        let db = databases.url(service)?;
        // The gateway keeps no state of its own; its database is the hosted sync's.
        env.push(if *service == "gateway" {
            ("PORTRAIT__SYNC__STORE_URL", db)
        } else {
            ("PORTRAIT__STORE__URL", db)
        });
        children.spawn(&bin_dir, service, &env)?;
    }
    let at = Endpoints {
        gateway_url: url("gateway"),
        ingest_url: url("ingest"),
    };
    children.wait_serving(&at).await?;
    let mut procs = children.processes();
    sample(&mut procs, 0);

    let mut accepted = procs.clone();
    let fed = feed::load(&at, spec, args.orders, args.streams, || {
        sample(&mut accepted, 1)
    })
    .await;
    children.check_alive()?;
    let fed = fed?;
    procs = accepted;
    sample(&mut procs, 2);
    report.ingest = Some(fed.clone());

    let mut filters = panels::filters(&fed.chain, today, args.days);
    report.filters = filters.clone();
    let overview = panels::overview(&at, &filters[0].filter).await?;
    report.panels = panels::measure(&at, &mut filters, args.calls).await?;
    sample(&mut procs, 3);
    children.check_alive()?;
    report.freshness =
        Some(load::freshness(&at, args.fresh_rate, Duration::from_secs(args.fresh_secs)).await?);
    children.check_alive()?;
    report.distributed = Some(Distributed {
        setup: format!(
            "five processes ({}/portrait-*), Kafka-protocol brokers {brokers} (topics {topic_prefix}*, max_batch_records {}, bundle_records {}), PostgreSQL {} (one database per service: {})",
            bin_dir.display(),
            args.max_batch_records,
            args.bundle_records,
            redact(&databases.admin),
            databases
                .names
                .iter()
                .map(|(_, n)| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        processes: procs.into_iter().map(|(_, p)| p).collect(),
        orders: overview.orders,
        revenue_fen: overview.revenue_fen,
    });
    Ok(())
}

impl Distributed {
    pub(crate) fn render(
        &self,
        fed: Option<&Fed>,
        freshness: Option<&Freshness>,
        customers: usize,
        out: &mut String,
    ) {
        let _ = writeln!(out, "\n| measure | figure |\n|---|---|");
        if let Some(f) = fed {
            let secs = (f.accepting.wall + f.catching_up.wall).as_secs_f64();
            let _ = writeln!(
                out,
                "| ingest, distributed (five processes, Kafka + PostgreSQL), end to end until caught up | {} orders ({} submissions; {:.1} orders per customer) in {secs:.1} s: **{:.0} orders/s**, {:.0} submissions/s |",
                f.orders,
                f.submissions,
                f.orders as f64 / customers.max(1) as f64,
                f.orders as f64 / secs.max(1e-9),
                f.submissions as f64 / secs.max(1e-9),
            );
            let _ = writeln!(
                out,
                "| of which: until ingest accepted the last submission | {:.1} s ({:.0} submissions/s) |",
                f.accepting.wall.as_secs_f64(),
                f.submissions as f64 / f.accepting.wall.as_secs_f64().max(1e-9),
            );
            let _ = writeln!(
                out,
                "| of which: then until the consumers caught up | {:.1} s |",
                f.catching_up.wall.as_secs_f64()
            );
        }
        let _ = writeln!(
            out,
            "| the gateway's overview, no filter, once caught up | {} orders, {} fen |",
            self.orders, self.revenue_fen
        );
        if let Some(f) = freshness {
            f.render(out);
        }
        let _ = writeln!(
            out,
            "| not measured in distributed mode | concurrent clients, start-up (embedded runs only) |"
        );
        let walls = fed.map(|f| [f.accepting.wall, f.catching_up.wall]);
        let _ = writeln!(
            out,
            "\n| process | RSS after ingest MiB | peak after ingest MiB | RSS after the panels MiB | peak after the panels MiB | CPU s while accepting | CPU s while catching up | CPU s from its start until serving |\n|---|---:|---:|---:|---:|---:|---:|---:|"
        );
        for p in &self.processes {
            let [served, accepted, caught_up, paneled] = p.samples;
            let mib = |r: Option<Rss>, peak: bool| {
                r.map_or("n/a".into(), |r| {
                    format!("{:.0}", if peak { r.peak_mib } else { r.now_mib })
                })
            };
            let cpu = |from: Sample, to: Sample, wall: Option<Duration>| match (from.cpu, to.cpu) {
                (Some(a), Some(b)) => match wall {
                    Some(w) => format!(
                        "{:.1} ({:.2} cores)",
                        b - a,
                        (b - a) / w.as_secs_f64().max(1e-9)
                    ),
                    None => format!("{:.1}", b - a),
                },
                _ => "n/a".into(),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                p.name,
                mib(caught_up.rss, false),
                mib(caught_up.rss, true),
                mib(paneled.rss, false),
                mib(paneled.rss, true),
                cpu(served, accepted, walls.map(|w| w[0])),
                cpu(accepted, caught_up, walls.map(|w| w[1])),
                served
                    .cpu
                    .filter(|_| !p.machine)
                    .map_or("n/a".into(), |c| format!("{c:.1}")),
            );
        }
    }
}

/// Whose CPU and memory a row shows.
#[derive(Clone, Copy, Debug)]
enum Who {
    Child(u32),
    ThisProcess,
    /// Every process on the machine: what PostgreSQL and the broker cost
    /// shows as the difference from the rows above.
    Machine,
}

fn sample(procs: &mut [(Who, Process)], at: usize) {
    for (who, p) in procs {
        p.samples[at] = match who {
            Who::Child(pid) => Sample::of(&pid.to_string()),
            Who::ThisProcess => Sample::of("self"),
            Who::Machine => Sample {
                rss: None,
                cpu: machine_cpu_seconds(),
            },
        };
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .context("failed to find a free loopback port")?
        .port())
}

/// The services' processes; killed when dropped, whatever ended the run.
struct Children {
    logs: PathBuf,
    /// The PostgreSQL password, kept out of the log tails an error shows.
    secret: Option<String>,
    procs: Vec<(&'static str, Child)>,
}

impl Children {
    fn spawn(
        &mut self,
        bin_dir: &Path,
        service: &'static str,
        env: &[(&str, String)],
    ) -> anyhow::Result<()> {
        let binary = bin_dir.join(format!("portrait-{service}"));
        anyhow::ensure!(
            binary.is_file(),
            "failed to find {}: build the five services next to portrait \
             (cargo build --release -p portrait -p portrait-ingest -p portrait-profiler \
             -p portrait-rfm -p portrait-suggest -p portrait-gateway)",
            binary.display()
        );
        let log = self.logs.join(format!("{service}.log"));
        let file = std::fs::File::create(&log)
            .with_context(|| format!("failed to create {}", log.display()))?;
        let child = Command::new(&binary)
            .env_remove("PORTRAIT_CONFIG")
            // The bench's clients send no token: it measures the stack, not auth.
            .env("PORTRAIT__AUTH__MODE", "off")
            .envs(env.iter().map(|(k, v)| (*k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::from(
                file.try_clone().context("failed to open a log file")?,
            ))
            .stderr(Stdio::from(file))
            .spawn()
            .with_context(|| format!("failed to start {}", binary.display()))?;
        tracing::info!(service, pid = child.id(), "service started");
        self.procs.push((service, child));
        Ok(())
    }

    /// Each service's pid and name, then this process (the generator and the
    /// clients), then the machine.
    fn processes(&self) -> Vec<(Who, Process)> {
        self.procs
            .iter()
            .map(|(s, c)| (Who::Child(c.id()), format!("portrait-{s}")))
            .chain([
                (
                    Who::ThisProcess,
                    "portrait bench (generator, clients)".to_owned(),
                ),
                (
                    Who::Machine,
                    "the whole machine (these, PostgreSQL, the broker and anything else running)"
                        .to_owned(),
                ),
            ])
            .map(|(who, name)| {
                (
                    who,
                    Process {
                        name,
                        machine: matches!(who, Who::Machine),
                        ..Process::default()
                    },
                )
            })
            .collect()
    }

    fn check_alive(&mut self) -> anyhow::Result<()> {
        for (service, child) in &mut self.procs {
            if let Ok(Some(status)) = child.try_wait() {
                let service = *service;
                anyhow::bail!(
                    "portrait-{service} exited ({status}); the end of its log:\n{}",
                    self.tail(service)
                );
            }
        }
        Ok(())
    }

    fn tail(&self, service: &str) -> String {
        let text =
            std::fs::read_to_string(self.logs.join(format!("{service}.log"))).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        match &self.secret {
            Some(secret) => tail.replace(secret.as_str(), "***"),
            None => tail,
        }
    }

    /// Until the gateway answers the sync status, which asks every service.
    async fn wait_serving(&mut self, at: &Endpoints) -> anyhow::Result<()> {
        let deadline = Instant::now() + START_WITHIN;
        loop {
            self.check_alive()?;
            let last = match status(at).await {
                Ok(()) => return Ok(()),
                Err(e) => format!("{e:#}"),
            };
            anyhow::ensure!(
                Instant::now() < deadline,
                "the services did not all serve within {} s: {last}",
                START_WITHIN.as_secs()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for (_, child) in &mut self.procs {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

async fn status(at: &Endpoints) -> anyhow::Result<()> {
    let channel = Channel::from_shared(at.gateway_url.clone())
        .context("bad gateway address")?
        .connect()
        .await
        .context("failed to connect to the gateway")?;
    PortraitServiceClient::new(channel)
        .get_sync_status(SyncStatusRequest {})
        .await
        .context("failed to read the sync status")?;
    Ok(())
}
