//! The page's browser tests: Debian's chromium driven by Python playwright
//! (services/portrait/tests/page_browser.py), shared by the in-process tour
//! and the end-to-end sync test.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The browser the tests drive; tests/run installs it. Playwright never
/// downloads one of its own.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// The script that drives the page and reports what it shows.
pub const PAGE_SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../services/portrait/tests/page_browser.py"
);

/// The Python with playwright, when it and chromium are there; `None`
/// (skipped, said on stderr) without them outside the test command.
pub fn python() -> Option<String> {
    let python = crate::server_env("PORTRAIT_PYTHON", "Python with playwright")?;
    if Path::new(CHROMIUM).exists() {
        return Some(python);
    }
    if std::env::var_os("PORTRAIT_TEST_REQUIRE_SERVERS").is_some() {
        panic!("{CHROMIUM} is missing, but the test command must install chromium");
    }
    eprintln!("skipped: {CHROMIUM} is missing; run `bash tests/run` to test the page");
    None
}

/// Where screenshots go: `target/page-screenshots/<name>`.
pub fn screenshots(target_tmp: &str, name: &str) -> PathBuf {
    let dir = Path::new(target_tmp)
        .join("..")
        .join("page-screenshots")
        .join(name);
    std::fs::create_dir_all(&dir).expect("a screenshot folder");
    dir.canonicalize().expect("a screenshot folder")
}

/// Runs the script with `spec` (JSON) and returns its report (the last line
/// of its output); panics with its stderr when it fails.
pub fn drive(python: &str, spec: &str) -> String {
    let output = Command::new(python)
        .arg(PAGE_SCRIPT)
        .arg(spec)
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the browser script failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
        stdout
    );
    stdout.lines().last().unwrap_or_default().to_owned()
}
