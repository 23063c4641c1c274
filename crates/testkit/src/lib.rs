//! Test support: the real PostgreSQL and Kafka-protocol broker that `tests/run` starts on
//! loopback, and fresh databases and topics per test.

pub mod broker;
pub mod browser;
pub mod pg_server;
pub mod postgres;
pub mod proxy;

/// Loopback ports handed to child processes come from here, below the
/// kernel's ephemeral range (32768–60999 by default).
const CHILD_PORTS: std::ops::Range<u16> = 20_000..32_000;

/// A free loopback port for a child process to listen on. Not port 0's
/// answer: the kernel hands the ports of its ephemeral range to every
/// outgoing connection too, so between this check and the child's bind any
/// test's client socket could take it (a child that cannot bind, and peers
/// that reach a stranger). Below that range only another test's pick can, at
/// random among 12,000.
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, RandomState};
    let seed = RandomState::new();
    let span = u64::from(CHILD_PORTS.end - CHILD_PORTS.start);
    for attempt in 0..1_000u64 {
        let offset = u16::try_from(seed.hash_one(attempt) % span).unwrap_or(0);
        let port = CHILD_PORTS.start + offset;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in {CHILD_PORTS:?}")
}

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

#[cfg(test)]
mod tests {
    #[test]
    fn child_ports_are_free_and_below_the_ephemeral_range() {
        let port = super::free_port();
        assert!(super::CHILD_PORTS.contains(&port), "{port}");
        let listener = std::net::TcpListener::bind(("127.0.0.1", port));
        assert!(listener.is_ok(), "{port} is free");
    }
}
