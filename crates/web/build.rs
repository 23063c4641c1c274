//! Installs the page's third-party assets from the npm registry (pinned by
//! package-lock.json) and prepares every asset for embedding: the files go to
//! OUT_DIR with a gzip copy, and `assets.rs` lists them for `include_bytes!`.
//! No third-party code is committed; npm fetches it when node_modules is
//! missing or was installed from another lockfile.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

/// Our own files in `page/`, served under the hashed asset folder except
/// `index.html`, which is the page at `/`.
const PAGE_FILES: &[&str] = &[
    "index.html",
    "style.css",
    "app.js",
    "api.js",
    "format.js",
    "filters.js",
    "charts.js",
    "tables.js",
    "sync.js",
    "customer.js",
    "summary.js",
    "list.js",
    "insights.js",
    "suggestions.js",
    "effect.js",
    "login.js",
    "models.js",
];

/// Files taken from node_modules: (path inside node_modules, name served).
const VENDOR_FILES: &[(&str, &str)] = &[("echarts/dist/echarts.min.js", "echarts.min.js")];

/// Written into node_modules after a successful `npm ci`: the lockfile's hash.
const STAMP: &str = "node_modules/.portrait-lock-sha256";

fn main() {
    if let Err(message) = run() {
        println!("cargo::error={message}");
    }
}

fn run() -> Result<(), String> {
    let dir = PathBuf::from(env("CARGO_MANIFEST_DIR")?);
    let out = PathBuf::from(env("OUT_DIR")?);
    for watched in ["package.json", "package-lock.json", "page"] {
        println!("cargo::rerun-if-changed={}", dir.join(watched).display());
    }
    // The installed files themselves, so a deleted or changed node_modules
    // installs again (a missing file always reruns this script).
    for (path, _) in VENDOR_FILES {
        let file = dir.join("node_modules").join(path);
        println!("cargo::rerun-if-changed={}", file.display());
    }
    install(&dir)?;

    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for name in PAGE_FILES {
        files.push((name.to_string(), read(&dir.join("page").join(name))?));
    }
    for (path, name) in VENDOR_FILES {
        files.push((
            name.to_string(),
            read(&dir.join("node_modules").join(path))?,
        ));
    }
    // One hash over every asset names the folder they are served from, so
    // all of them can be cached for good and still change together.
    let mut digest = Sha256::new();
    for (name, bytes) in &files {
        digest.update(name.as_bytes());
        digest.update((bytes.len() as u64).to_le_bytes());
        digest.update(bytes);
    }
    let hash: String = digest
        .finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect();
    let prefix = format!("/assets/{hash}");

    let assets = out.join("assets");
    std::fs::create_dir_all(&assets).map_err(|e| format!("failed to create {assets:?}: {e}"))?;
    let mut table = String::from("&[\n");
    for (name, mut bytes) in files {
        let page = name == "index.html";
        if page {
            let text = String::from_utf8(bytes).map_err(|_| "index.html is not UTF-8")?;
            bytes = text.replace("{{assets}}", &prefix).into_bytes();
        }
        let path = if page {
            "/".to_owned()
        } else {
            format!("{prefix}/{name}")
        };
        let file = assets.join(&name);
        write(&file, &bytes)?;
        let gz = gzip(&bytes)?;
        // A gzip copy only where it saves something worth a header.
        let gzip = if gz.len() + 64 < bytes.len() {
            let gz_file = assets.join(format!("{name}.gz"));
            write(&gz_file, &gz)?;
            format!("Some(include_bytes!({:?}))", gz_file.display().to_string())
        } else {
            "None".to_owned()
        };
        let etag: String = Sha256::digest(&bytes)
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect();
        let _ = writeln!(
            table,
            "    Asset {{ path: {path:?}, content_type: {:?}, body: include_bytes!({:?}), gzip: {gzip}, immutable: {}, etag: \"\\\"{etag}\\\"\" }},",
            content_type(&name)?,
            file.display().to_string(),
            !page,
        );
    }
    table.push(']');
    write(&out.join("assets.rs"), table.as_bytes())?;
    write(&out.join("asset_dir.txt"), prefix.as_bytes())?;
    Ok(())
}

fn env(key: &str) -> Result<String, String> {
    std::env::var(key).map_err(|_| format!("{key} is not set; run this through cargo"))
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("failed to read {}: {e}", path.display()))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|e| format!("failed to write {}: {e}", path.display()))
}

fn content_type(name: &str) -> Result<&'static str, String> {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => Ok("text/html; charset=utf-8"),
        Some("js") => Ok("text/javascript; charset=utf-8"),
        Some("css") => Ok("text/css; charset=utf-8"),
        _ => Err(format!("no content type for {name}: add it to build.rs")),
    }
}

fn gzip(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder
        .write_all(bytes)
        .and_then(|()| encoder.finish())
        .map_err(|e| format!("failed to gzip an asset: {e}"))
}

/// `npm ci` when node_modules was not installed from this lockfile.
fn install(dir: &Path) -> Result<(), String> {
    let lock = read(&dir.join("package-lock.json"))?;
    let want: String = Sha256::digest(&lock)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let stamp = dir.join(STAMP);
    if std::fs::read_to_string(&stamp).is_ok_and(|have| have.trim() == want) {
        return Ok(());
    }
    // --ignore-scripts: nothing from the registry runs on the build machine.
    let output = Command::new("npm")
        .args([
            "ci",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            "--prefer-offline",
        ])
        .current_dir(dir)
        .output()
        .map_err(|e| {
            format!(
                "failed to run npm ({e}): the 客群画像 page's assets (ECharts) are installed from \
                 the npm registry at build time; install Node.js 20 and npm, then build again"
            )
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last: Vec<&str> = stderr.lines().rev().take(5).collect();
        return Err(format!(
            "`npm ci` in {} failed ({}): {}",
            dir.display(),
            output.status,
            last.into_iter().rev().collect::<Vec<_>>().join(" | ")
        ));
    }
    write(&stamp, want.as_bytes())
}
