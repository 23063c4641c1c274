//! Test support: the real PostgreSQL and Kafka-protocol broker that `tests/run` starts on
//! loopback, and fresh databases and topics per test.

pub mod broker;
pub mod browser;
pub mod pg_server;
mod ports;
pub mod postgres;
pub mod proxy;

pub use ports::{free_port, free_ports};

/// The value of a server's environment variable, or `None` after saying the
/// test is skipped. `tests/run` sets `PORTRAIT_TEST_REQUIRE_SERVERS`, so a run
/// of the test command can never skip silently.
pub fn server_env(var: &str, what: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ if std::env::var_os("PORTRAIT_TEST_REQUIRE_SERVERS").is_some() => {
            panic!("{var} is not set, but the test command must provide {what}")
        }
        _ => {
            eprintln!("skipped: {var} is not set; run `bash tests/run` to test against {what}");
            None
        }
    }
}
