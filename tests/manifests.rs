//! docker-compose.yml and deploy/ are validated offline: no image can be pulled or
//! run here, but the files must parse and match the Kubernetes schemas.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The validator `name`, or `None` (the test skips, saying so) when it is not
/// installed; `tests/run` installs both and then never skips.
fn tool(name: &str) -> Option<PathBuf> {
    // tests/run puts its virtualenv on PATH and names its python.
    let from_venv = std::env::var_os("PORTRAIT_PYTHON")
        .map(PathBuf::from)
        .and_then(|p| p.parent().map(|d| d.join(name)))
        .filter(|p| p.exists());
    let path = from_venv.unwrap_or_else(|| PathBuf::from(name));
    if Command::new(&path).arg("--help").output().is_ok() {
        return Some(path);
    }
    if std::env::var_os("PORTRAIT_TEST_REQUIRE_SERVERS").is_some() {
        panic!("{name} is not installed, but the test command must provide it");
    }
    eprintln!("skipped: {name} is not installed; run `bash tests/run`, which installs it");
    None
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("cannot run {cmd:?} ({e}): run the tests with `bash tests/run`, which installs it")
    });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

#[test]
fn compose_file_parses_and_has_every_service() {
    let Some(compose) = tool("docker-compose") else {
        return;
    };
    let file = root().join("docker-compose.yml");
    run(Command::new(&compose)
        .arg("-f")
        .arg(&file)
        .args(["config", "-q"]));
    let services = run(Command::new(&compose)
        .arg("-f")
        .arg(&file)
        .args(["config", "--services"]));
    let mut names: Vec<&str> = services
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "gateway", "ingest", "kafka", "postgres", "profiler", "rfm", "suggest"
        ]
    );
}

fn manifests() -> Vec<PathBuf> {
    let kustomization =
        std::fs::read_to_string(root().join("deploy/kustomization.yaml")).expect("kustomization");
    let files: Vec<PathBuf> = kustomization
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- "))
        .map(|f| root().join("deploy").join(f))
        .collect();
    assert_eq!(files.len(), 7, "namespace, config and five services");
    files
}

#[test]
fn kubernetes_manifests_match_the_schemas() {
    let Some(validate) = tool("kubernetes-validate") else {
        return;
    };
    let out = run(Command::new(&validate)
        .args(["--strict", "-k", "1.34.0"])
        .args(manifests()));
    // Each file passes, and both the Deployment and the Service of every service are seen.
    for service in ["gateway", "ingest", "profiler", "rfm", "suggest"] {
        assert!(
            out.contains(&format!("deployment/{service} against")),
            "{service} deployment validated:\n{out}"
        );
        assert!(
            out.contains(&format!("service/{service} against")),
            "{service} service validated:\n{out}"
        );
    }
}

#[test]
fn every_deployment_has_probes_resources_and_runs_its_binary() {
    for service in ["gateway", "ingest", "profiler", "rfm", "suggest"] {
        let text = std::fs::read_to_string(root().join(format!("deploy/{service}.yaml")))
            .expect("manifest");
        for needle in [
            "readinessProbe:",
            "livenessProbe:",
            "grpc: {port:",
            "requests:",
            "limits:",
            "runAsNonRoot: true",
        ] {
            assert!(
                text.contains(needle),
                "deploy/{service}.yaml lacks {needle}"
            );
        }
        assert!(
            text.contains(&format!("command: [\"portrait-{service}\"]")),
            "deploy/{service}.yaml runs portrait-{service}"
        );
        // A consumer opens its port only once its state is loaded, which
        // at 10M orders outlasts the liveness probe's patience.
        let consumer = ["profiler", "rfm", "suggest"].contains(&service);
        assert!(
            !consumer || text.contains("startupProbe:"),
            "deploy/{service}.yaml lacks a startupProbe"
        );
    }
}
