//! A process that runs services returns freed memory to the system at once:
//! it restarts itself with `MIMALLOC_PURGE_DELAY=0` unless the operator set
//! the variable (`portrait_service::return_freed_memory_promptly`).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The environment the running process was started with, as `exec` gave it.
fn purge_delay_of(child: &mut Child) -> Option<String> {
    let path = format!("/proc/{}/environ", child.id());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(
            child.try_wait().expect("child state").is_none(),
            "the stack exited"
        );
        let environ = std::fs::read(&path).expect("read the child's environment");
        let found = (environ.split(|b| *b == 0))
            .filter_map(|kv| std::str::from_utf8(kv).ok())
            .find_map(|kv| kv.strip_prefix("MIMALLOC_PURGE_DELAY="))
            .map(str::to_owned);
        if found.is_some() || Instant::now() > deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn stack(purge_delay: Option<&str>) -> (Child, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("data dir");
    // `run` listens on five consecutive ports from the base.
    let port = portrait_testkit::free_ports(5).to_string();
    let mut command = Command::new(env!("CARGO_BIN_EXE_portrait"));
    command
        .args(["run", "--base-port", &port, "--data-dir"])
        .arg(dir.path())
        .env("PORTRAIT__AUTH__MODE", "off")
        .env_remove("MIMALLOC_PURGE_DELAY")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(value) = purge_delay {
        command.env("MIMALLOC_PURGE_DELAY", value);
    }
    (command.spawn().expect("start portrait run"), dir)
}

#[test]
fn a_stack_restarts_itself_with_prompt_purging_and_keeps_an_operators_value() {
    for (given, want) in [(None, "0"), (Some("25"), "25")] {
        let (mut child, _dir) = stack(given);
        let got = purge_delay_of(&mut child);
        // Same process (pid) after the restart, still running.
        let alive = child.try_wait().expect("child state").is_none();
        let _ = child.kill();
        let _ = child.wait();
        assert!(alive, "the stack exited after starting");
        assert_eq!(got.as_deref(), Some(want), "given {given:?}");
    }
}
