//! A PostgreSQL server of a test's own, for faults that would hurt every other
//! test on the shared one: restarting it mid-batch. Made like `tests/run` makes
//! the shared one (initdb into a temporary folder, run as `postgres`, fsync off),
//! from the binaries in `PORTRAIT_TEST_PG_BIN` (set by `tests/run`).

use std::path::PathBuf;
use std::process::Command;

/// A running server; stopped and removed when dropped.
pub struct PgServer {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl PgServer {
    /// A fresh server, or `None` after saying the test is skipped (see
    /// [`crate::server_env`]).
    pub fn start(name: &str) -> Option<PgServer> {
        let bin = PathBuf::from(crate::server_env(
            "PORTRAIT_TEST_PG_BIN",
            "PostgreSQL's binaries",
        )?);
        let dir = std::env::temp_dir().join(format!(
            "portrait-pg-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(dir.join("data")).expect("pg folder");
        run(Command::new("chown").arg("-R").arg("postgres").arg(&dir));
        let port = crate::free_port();
        let server = PgServer { bin, dir, port };
        server.as_postgres("initdb", |c| {
            c.arg("-D")
                .arg(server.data())
                .args(["-A", "trust", "-U", "postgres"]);
        });
        server.pg_ctl(&["start"]);
        Some(server)
    }

    /// The server's `postgres` database, for `crate::postgres` style fresh databases.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// `pg_ctl restart -m immediate`: every connection cut, open transactions
    /// lost, crash recovery at start — a server that died and came back.
    pub fn restart_immediately(&self) {
        self.pg_ctl(&["restart", "-m", "immediate"]);
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn pg_ctl(&self, args: &[&str]) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            self.dir.display()
        );
        self.as_postgres("pg_ctl", |c| {
            c.arg("-D")
                .arg(self.data())
                .arg("-l")
                .arg(self.dir.join("log"))
                .arg("-w")
                .args(args)
                .args(["-o", &options]);
        });
    }

    fn as_postgres(&self, tool: &str, args: impl FnOnce(&mut Command)) {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(self.bin.join(tool));
        args(&mut c);
        run(&mut c);
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run(c: &mut Command) {
    let out = c.output().unwrap_or_else(|e| panic!("{c:?}: {e}"));
    assert!(
        out.status.success(),
        "{c:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
