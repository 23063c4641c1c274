//! Starts the service binaries as child processes with their configuration in
//! `PORTRAIT__…` variables, the way docker-compose and Kubernetes run them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{SyncStatus, SyncStatusRequest};
use tonic::transport::Channel;

pub(crate) const SERVICES: [&str; 5] = ["ingest", "profiler", "rfm", "suggest", "gateway"];

/// The failing test's panic message, repeated after the stack's logs.
static PANIC: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Keeps a panic's message for [`Stack`]'s report: a CI summary that shows
/// only the end of a failed test's output still says what failed.
fn keep_panic_message() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Ok(mut kept) = PANIC.lock() {
                *kept = Some(info.to_string());
            }
            default(info);
        }));
    });
}

/// How to start one process of the stack.
struct Spec {
    binary: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

pub(crate) struct Stack {
    pub dir: tempfile::TempDir,
    pub ports: BTreeMap<&'static str, u16>,
    pub topic_prefix: String,
    pub brokers: String,
    specs: BTreeMap<&'static str, Spec>,
    children: BTreeMap<&'static str, Child>,
}

/// target/debug, where `tests/run` built the service binaries.
pub(crate) fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/debug")
        .to_path_buf()
}

/// A fresh PostgreSQL database for each service but the gateway, by service
/// name; `None` (the test is skipped) without PostgreSQL. For tests that put
/// something between a service and its database before [`Stack::new`].
pub(crate) async fn fresh_stores() -> Option<BTreeMap<&'static str, String>> {
    let mut stores = BTreeMap::new();
    for s in ["ingest", "profiler", "rfm", "suggest"] {
        stores.insert(s, portrait_testkit::postgres::fresh_database().await?);
    }
    Some(stores)
}

impl Stack {
    /// `stores` maps each service (but the gateway) to its database URL.
    /// The five processes on a fresh PostgreSQL database each and the broker
    /// at `brokers` (not started yet), beside an oracle on a database of its
    /// own; `None` (the test is skipped) without PostgreSQL.
    pub(crate) async fn distributed(brokers: String) -> Option<(Self, crate::oracle::Oracle)> {
        let stores = fresh_stores().await?;
        let oracle = crate::oracle::Oracle::fresh().await?;
        Some((Self::new(stores, brokers), oracle))
    }

    pub(crate) fn new(stores: BTreeMap<&'static str, String>, brokers: String) -> Self {
        keep_panic_message();
        let dir = tempfile::tempdir().expect("temp dir");
        let ports: BTreeMap<&'static str, u16> = SERVICES
            .iter()
            .map(|s| (*s, portrait_testkit::free_port()))
            .collect();
        let topic_prefix = portrait_testkit::broker::unique_topic("e2e") + ".";
        let url = |s: &str| format!("http://127.0.0.1:{}", ports[s]);
        let mut env = BTreeMap::new();
        for service in SERVICES {
            let mut vars = vec![
                (
                    "PORTRAIT__DATA_DIR",
                    dir.path().join(service).display().to_string(),
                ),
                ("PORTRAIT__BUS__KIND", "kafka".to_owned()),
                ("PORTRAIT__BUS__BROKERS", brokers.clone()),
                ("PORTRAIT__BUS__PARTITIONS", "3".to_owned()),
                ("PORTRAIT__BUS__TOPIC_PREFIX", topic_prefix.clone()),
                // tansu 0.6 needs one record per producer batch; bundles of
                // up to 100 events make it fast, and every e2e test reads them.
                ("PORTRAIT__BUS__MAX_BATCH_RECORDS", "1".to_owned()),
                ("PORTRAIT__BUS__BUNDLE_RECORDS", "100".to_owned()),
                (
                    "PORTRAIT__SERVER__LISTEN",
                    format!("127.0.0.1:{}", ports[service]),
                ),
                ("PORTRAIT__GATEWAY__INGEST", url("ingest")),
                ("PORTRAIT__GATEWAY__PROFILER", url("profiler")),
                ("PORTRAIT__GATEWAY__RFM", url("rfm")),
                ("PORTRAIT__GATEWAY__SUGGEST", url("suggest")),
                // The oracle asks from one address as fast as it can.
                ("PORTRAIT__GATEWAY__RATE_PER_SECOND", "0".to_owned()),
                ("PORTRAIT__CONSUMER__BATCH_SIZE", "300".to_owned()),
                // The harness's clients send no token; tests/auth covers auth.
                ("PORTRAIT__AUTH__MODE", "off".to_owned()),
                (
                    "PORTRAIT__TELEMETRY__LOG_FILTER",
                    "info,sqlx=warn,rdkafka=warn".to_owned(),
                ),
            ];
            if let Some(store) = stores.get(service) {
                vars.push(("PORTRAIT__STORE__URL", store.clone()));
            }
            env.insert(
                service,
                Spec {
                    binary: format!("portrait-{service}"),
                    args: Vec::new(),
                    env: vars.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
                },
            );
        }
        Self {
            dir,
            ports,
            topic_prefix,
            brokers,
            specs: env,
            children: BTreeMap::new(),
        }
    }

    /// The all-in-one `portrait run` on embedded SQLite, as the process "portrait".
    pub(crate) fn embedded() -> Self {
        Self::embedded_with(Vec::new())
    }

    /// `embedded()` with extra `PORTRAIT__…` settings.
    pub(crate) fn embedded_with(extra: Vec<(String, String)>) -> Self {
        keep_panic_message();
        let dir = tempfile::tempdir().expect("temp dir");
        // `portrait run` listens on five consecutive ports from the base.
        let base = portrait_testkit::free_ports(5);
        let ports = [("gateway", base), ("ingest", base + 1)]
            .into_iter()
            .collect();
        let spec = Spec {
            binary: "portrait".into(),
            args: vec![
                "run".into(),
                "--data-dir".into(),
                dir.path().join("data").display().to_string(),
                "--base-port".into(),
                base.to_string(),
            ],
            env: [
                (
                    "PORTRAIT__TELEMETRY__LOG_FILTER".to_owned(),
                    "info,sqlx=warn".to_owned(),
                ),
                // The harness's clients send no token; tests/auth covers auth.
                ("PORTRAIT__AUTH__MODE".to_owned(), "off".to_owned()),
                // The oracle asks from one address as fast as it can.
                (
                    "PORTRAIT__GATEWAY__RATE_PER_SECOND".to_owned(),
                    "0".to_owned(),
                ),
            ]
            .into_iter()
            .chain(extra)
            .collect(),
        };
        Self {
            dir,
            ports,
            topic_prefix: String::new(),
            brokers: String::new(),
            specs: [("portrait", spec)].into_iter().collect(),
            children: BTreeMap::new(),
        }
    }

    /// One more `PORTRAIT__…` setting for every process started from now on.
    pub(crate) fn set_env(&mut self, key: &str, value: &str) {
        for spec in self.specs.values_mut() {
            spec.env.push((key.to_owned(), value.to_owned()));
        }
    }

    /// Starts `service` with its logs (stderr) in `<service>.log` and its
    /// stdout, where a service prints nothing, in `<service>.out`.
    pub(crate) fn start(&mut self, service: &'static str) {
        let open = |ext: &str| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.dir.path().join(format!("{service}.{ext}")))
                .expect("log file")
        };
        let (log, out) = (open("log"), open("out"));
        let spec = &self.specs[service];
        let child = Command::new(bin_dir().join(&spec.binary))
            .args(&spec.args)
            .env_remove("PORTRAIT_CONFIG")
            // An error's backtrace would fill the 30 lines of log a failed
            // test shows, and hide the error itself.
            .env("RUST_BACKTRACE", "0")
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {} (run `bash tests/run`, which builds it): {e}",
                    spec.binary
                )
            });
        self.children.insert(service, child);
    }

    pub(crate) fn start_all(&mut self) {
        let names: Vec<&'static str> = self.specs.keys().copied().collect();
        for s in names {
            self.start(s);
        }
    }

    /// SIGKILL: no flush, no goodbye.
    pub(crate) fn kill9(&mut self, service: &'static str) {
        if let Some(mut child) = self.children.remove(service) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The services whose process has ended, and how.
    pub(crate) fn exited(&mut self) -> Vec<(&'static str, std::process::ExitStatus)> {
        let mut out = Vec::new();
        for (name, child) in &mut self.children {
            if let Ok(Some(status)) = child.try_wait() {
                out.push((*name, status));
            }
        }
        out
    }

    pub(crate) fn url(&self, service: &str) -> String {
        format!("http://127.0.0.1:{}", self.ports[service])
    }

    pub(crate) async fn channel(&self, service: &str) -> Channel {
        let endpoint = Channel::from_shared(self.url(service)).expect("url");
        for _ in 0..300 {
            if let Ok(ch) = endpoint.connect().await {
                return ch;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{service} did not come up:\n{}", self.logs());
    }

    /// Waits until everything accepted is published and applied everywhere.
    pub(crate) async fn wait_caught_up(&self) -> SyncStatus {
        let mut gateway = PortraitServiceClient::new(self.channel("gateway").await);
        let mut last = None;
        for _ in 0..1200 {
            match gateway.get_sync_status(SyncStatusRequest {}).await {
                Ok(s) if s.get_ref().caught_up => return s.into_inner(),
                Ok(s) => last = Some(format!("{:?}", s.into_inner())),
                Err(e) => last = Some(e.to_string()),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the stack did not catch up: {last:?}\n{}", self.logs());
    }

    /// Everything `service` logged (its stderr), for a test that looks for a
    /// line: fails unless the capture holds the service's start-up line, so
    /// a search cannot pass by reading nothing, and unless its stdout is
    /// free of log lines.
    pub(crate) fn log_of(&self, service: &str) -> String {
        let read = |ext: &str| {
            std::fs::read_to_string(self.dir.path().join(format!("{service}.{ext}")))
                .unwrap_or_default()
        };
        let (log, out) = (read("log"), read("out"));
        assert!(
            log.contains("serving grpc"),
            "{service}'s stderr holds no start-up line:\n{log}"
        );
        assert!(
            !out.contains("serving grpc"),
            "{service} logged on stdout:\n{out}"
        );
        log
    }

    pub(crate) fn logs(&self) -> String {
        self.specs
            .keys()
            .map(|s| {
                let read = |ext: &str| {
                    std::fs::read_to_string(self.dir.path().join(format!("{s}.{ext}")))
                        .unwrap_or_default()
                };
                // A service's stdout is empty unless something printed there
                // by mistake; shown in front of the logs when it did.
                let text = read("out") + &read("log");
                // librdkafka repeats its connection errors; our own lines say more.
                let ours = text.lines().filter(|l| !l.contains("librdkafka"));
                let tail: Vec<&str> = ours.rev().take(30).collect();
                format!(
                    "--- {s} ---\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // Exits and the panic last: a report that keeps only the tail
            // still shows them.
            eprintln!("{}", self.logs());
            for (name, status) in self.exited() {
                eprintln!("--- {name} had exited: {status}");
            }
            let message = PANIC.lock().map(|m| m.clone()).unwrap_or_default();
            eprintln!("--- the test failed: {}", message.unwrap_or_default());
        }
        for (_, mut child) in std::mem::take(&mut self.children) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
