//! Loopback ports for child processes, reserved across the test processes
//! that run at once.

use std::fs::{File, OpenOptions};
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

/// Ports handed to child processes come from here, below the kernel's
/// ephemeral range (32768–60999 by default): the kernel hands the ports of
/// that range to every outgoing connection too, so between a check and the
/// child's bind any test's client socket could take one.
const CHILD_PORTS: std::ops::Range<u16> = 20_000..32_000;

/// The locks this process holds, one per reserved port, until it exits.
static HELD: Mutex<Vec<File>> = Mutex::new(Vec::new());

fn lock_dir() -> PathBuf {
    std::env::temp_dir().join("portrait-test-ports")
}

/// Reserves `port` for this process: a lock on a file named after it, which
/// no other test process can take while this one lives (the kernel drops
/// the lock when the process ends, however it ends), then a bind to see
/// that nothing else listens there. Between a check and a child's bind,
/// another test's check could otherwise pick the same port: one child
/// cannot bind, and its peers reach a stranger.
fn reserve(port: u16) -> Option<File> {
    let path = lock_dir().join(port.to_string());
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .ok()?;
    file.try_lock().ok()?;
    std::net::TcpListener::bind(("127.0.0.1", port)).ok()?;
    Some(file)
}

/// `n` consecutive loopback ports (`n` ≥ 1), free and reserved for this
/// process; returns the first.
pub fn free_ports(n: u16) -> u16 {
    use std::hash::{BuildHasher, RandomState};
    assert!((1..100).contains(&n), "between 1 and 99 ports, not {n}");
    std::fs::create_dir_all(lock_dir()).expect("the port lock directory");
    let seed = RandomState::new();
    let span = u64::from(CHILD_PORTS.end - CHILD_PORTS.start - n);
    for attempt in 0..1_000u64 {
        let offset = u16::try_from(seed.hash_one(attempt) % span).unwrap_or(0);
        let base = CHILD_PORTS.start + offset;
        let locks: Vec<File> = (base..base + n).map_while(reserve).collect();
        if locks.len() == usize::from(n) {
            HELD.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend(locks);
            return base;
        }
    }
    panic!("no {n} free loopback ports in a row in {CHILD_PORTS:?}")
}

/// A free loopback port for a child process to listen on, reserved for
/// this process.
pub fn free_port() -> u16 {
    free_ports(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_ports_are_free_and_below_the_ephemeral_range() {
        let port = free_port();
        assert!(CHILD_PORTS.contains(&port), "{port}");
        let listener = std::net::TcpListener::bind(("127.0.0.1", port));
        assert!(listener.is_ok(), "{port} is free");
    }

    #[test]
    fn a_reserved_port_is_not_handed_out_again() {
        let base = free_ports(5);
        for port in base..base + 5 {
            assert!(reserve(port).is_none(), "{port} was reserved twice");
        }
        let other = free_ports(5);
        assert!(
            other + 5 <= base || base + 5 <= other,
            "{base} and {other} overlap"
        );
    }
}
