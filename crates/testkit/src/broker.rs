//! The Kafka-protocol broker that `tests/run` starts (tansu) on loopback.

use std::sync::atomic::{AtomicU32, Ordering};

/// `host:port` of the test broker; `None` when none is configured (the caller skips).
pub fn kafka_brokers() -> Option<String> {
    crate::server_env("PORTRAIT_TEST_KAFKA", "a Kafka-protocol broker")
}

/// A topic name no other test, process or run uses.
pub fn unique_topic(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A broker of the test's own, for tests that restart it: the tansu binary
/// `tests/run` built, listening on a fixed loopback port with its log in
/// memory (a restart comes back with an empty log) or, made by `durable`, in
/// a SQLite file (a restart keeps every record).
pub struct OwnBroker {
    binary: String,
    port: u16,
    child: Option<std::process::Child>,
    log: std::path::PathBuf,
    /// The directory of the durable log's file; `None` keeps it in memory.
    durable: Option<std::path::PathBuf>,
}

impl OwnBroker {
    /// `None` (after saying the test is skipped) without `PORTRAIT_TEST_TANSU`.
    pub fn start(log: &std::path::Path) -> Option<Self> {
        Self::launch(log, None)
    }

    /// Like `start`, with the log kept in `dir/tansu.db` across restarts.
    pub fn durable(dir: &std::path::Path, log: &std::path::Path) -> Option<Self> {
        Self::launch(log, Some(dir.to_owned()))
    }

    fn launch(log: &std::path::Path, durable: Option<std::path::PathBuf>) -> Option<Self> {
        let binary = crate::server_env("PORTRAIT_TEST_TANSU", "the tansu binary")?;
        let port = crate::free_port();
        let mut broker = Self {
            binary,
            port,
            child: None,
            log: log.to_owned(),
            durable,
        };
        broker.restart();
        Some(broker)
    }

    /// `host:port` for `bus.brokers`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Kills the broker (SIGKILL) and starts it again on the same port: every
    /// topic and record is gone unless the broker is durable.
    pub fn restart(&mut self) {
        self.stop();
        self.start_again();
    }

    /// Starts the broker after `stop` (a no-op while it runs).
    pub fn start_again(&mut self) {
        if self.child.is_some() {
            return;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("broker log file");
        let url = format!("tcp://{}", self.address());
        let child = std::process::Command::new(&self.binary)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
                "--storage-engine",
                if self.durable.is_some() {
                    "sqlite://tansu.db"
                } else {
                    "memory://tansu/"
                },
            ])
            // tansu opens a sqlite:// path relative to its working directory.
            .current_dir(self.durable.clone().unwrap_or_else(std::env::temp_dir))
            .stdout(std::process::Stdio::from(
                file.try_clone().expect("broker log file"),
            ))
            .stderr(std::process::Stdio::from(file))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.binary));
        self.child = Some(child);
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("tansu did not listen on {}", self.address());
    }

    /// Kills the broker (SIGKILL).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnBroker {
    fn drop(&mut self) {
        self.stop();
    }
}
