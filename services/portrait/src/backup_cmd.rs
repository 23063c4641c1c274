//! `portrait backup DIR` and `portrait restore DIR`: the embedded stores and
//! the embedded log, copied online (SQLite `VACUUM INTO`, a consistent snapshot
//! of one file taken while `portrait run` keeps writing), with a manifest of
//! sizes, SHA-256 sums and the log positions the stores hold.
//!
//! The files are separate databases, so no single instant covers them all.
//! The order makes every gap one that can only cause re-delivery, never loss
//! (docs/architecture.md §9):
//! 1. the stores with no log position (sync's watermark and jobs, any other
//!    `*.db` of the folder): sync's watermark is then never ahead of what
//!    ingest's copy holds, so a restored sync re-reads rather than skips;
//! 2. the consumers of `orders.v1` that publish nothing (profiler, suggest):
//!    they hold only what the log held at their copy, which their producers'
//!    later copies know and the log's copy contains;
//! 3. rfm: a consumer of `orders.v1` and the producer of `segments.v1`, after
//!    suggest, the consumer of its transitions;
//! 4. ingest, the producer of `orders.v1`: an outbox row not yet published
//!    at its copy is either still in the copied outbox or already in the log
//!    copied after it (then both: published again, dropped as a duplicate);
//! 5. the log last: every position a store copied before holds is at or
//!    below the copied log's end, which is checked before the manifest is written.
//!
//! An event published between a producer's copy and the log's is in the log
//! copy but unknown to the producer's copy; `trim` leaves it out. Producers go
//! as late as they can so that the backup is as recent as possible.

mod keys;
mod positions;
mod restore;
mod trim;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

use portrait::embedded;
use portrait_service::{Config, ServiceName, Topics};

pub(crate) use restore::{RestoreArgs, restore};

pub(crate) const MANIFEST: &str = "manifest.json";
const MANIFEST_VERSION: u32 = 1;

#[derive(clap::Args)]
pub(crate) struct BackupArgs {
    /// Folder to write the backup to; it must not exist or be empty.
    dir: PathBuf,
    /// The data folder of the embedded stack (default: config `data_dir`, `.portrait`).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Also copy the admin token and the PII keys of the data folder (mode
    /// 0600). Off by default: whoever holds a backup with its keys can unmask
    /// every customer in it.
    #[arg(long)]
    with_keys: bool,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub version: u32,
    pub portrait_version: String,
    pub created_at: String,
    /// In copy order.
    pub files: Vec<FileEntry>,
    /// Per topic of the copied log, the next offset it would write.
    pub log_ends: BTreeMap<String, i64>,
    /// Every log position a copied store holds.
    pub positions: Vec<Position>,
    /// Per topic, the records deleted from the log copy because their
    /// producer's copy did not know them (published after it was copied).
    #[serde(default)]
    pub trimmed: BTreeMap<String, i64>,
    /// The key files copied with `--with-keys` (role `key`); none by default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<FileEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct FileEntry {
    /// `log`, a service name, `sync`, or `other` (restored under its own name).
    pub role: String,
    pub file: String,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Position {
    pub file: String,
    pub topic: String,
    pub partition: i32,
    pub next_offset: i64,
}

/// One database of the data folder and where it lives.
pub(crate) struct Part {
    pub role: String,
    pub path: PathBuf,
    /// Without it the folder is not a stack's.
    pub required: bool,
}

/// The folder's databases in copy order (the module's comment says why).
pub(crate) fn parts(configs: &[Config]) -> anyhow::Result<Vec<Part>> {
    let config = |s: ServiceName| {
        configs
            .iter()
            .zip(ServiceName::ALL)
            .find(|(_, n)| *n == s)
            .map(|(c, _)| c)
            .context("failed to find the configuration of a service")
    };
    let gateway = config(ServiceName::Gateway)?;
    let part = |role: &str, url: &str, required: bool| -> anyhow::Result<Part> {
        Ok(Part {
            role: role.to_owned(),
            path: sqlite_path(role, url)?,
            required,
        })
    };
    let mut named = vec![part("sync", &gateway.sync.store_url, false)?];
    let consumers = [
        ServiceName::Profiler,
        ServiceName::Suggest,
        ServiceName::Rfm,
    ];
    let mut tail = Vec::new();
    for s in consumers {
        tail.push(part(s.as_str(), &config(s)?.store.url, false)?);
    }
    let ingest = config(ServiceName::Ingest)?;
    tail.push(part("ingest", &ingest.store.url, true)?);
    tail.push(Part {
        role: "log".into(),
        path: PathBuf::from(&ingest.bus.path),
        required: true,
    });
    let known: Vec<PathBuf> = named.iter().chain(&tail).map(|p| p.path.clone()).collect();
    let mut others = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&gateway.data_dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "db") && !known.contains(&path) {
                others.push(path);
            }
        }
    }
    others.sort();
    named.extend(others.into_iter().map(|path| Part {
        role: "other".into(),
        path,
        required: false,
    }));
    named.extend(tail);
    Ok(named)
}

fn sqlite_path(role: &str, url: &str) -> anyhow::Result<PathBuf> {
    let Some(rest) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    else {
        anyhow::bail!(
            "the {role} store is not an embedded SQLite file; back up PostgreSQL with pg_dump \
             as docs/operations.md describes"
        );
    };
    Ok(PathBuf::from(rest.split('?').next().unwrap_or(rest)))
}

pub(crate) fn file_name(path: &Path) -> anyhow::Result<String> {
    path.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_owned)
        .with_context(|| format!("failed to name the file of {}", path.display()))
}

pub(crate) async fn open(path: &Path, read_only: bool) -> anyhow::Result<SqliteConnection> {
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
        .with_context(|| format!("failed to read the path {}", path.display()))?
        .read_only(read_only)
        .busy_timeout(Duration::from_secs(30));
    SqliteConnection::connect_with(&options)
        .await
        .with_context(|| format!("failed to open {}", path.display()))
}

/// SHA-256 (hex) and size of a file.
pub(crate) fn sha256_file(path: &Path) -> anyhow::Result<(String, u64)> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("failed to open {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0_u8; 1 << 20];
    let mut bytes = 0_u64;
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("failed to read {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok((hex(&hasher.finalize()), bytes))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) async fn backup(args: BackupArgs) -> anyhow::Result<()> {
    let configs = embedded::configs(args.data_dir.as_deref(), None)
        .context("failed to load configuration")?;
    let parts = parts(&configs)?;
    let topics = configs[0].topics();
    let dir = &args.dir;
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir)
            .with_context(|| format!("failed to read the backup dir {}", dir.display()))?;
        anyhow::ensure!(
            entries.next().is_none(),
            "the backup dir {} is not empty; name a new or empty folder",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir)
        .with_context(|| format!("failed to create the backup dir {}", dir.display()))?;
    let keys_from = args.with_keys.then(|| configs[0].data_dir.clone());
    let result = write_backup(dir, &parts, &topics, keys_from.as_deref()).await;
    if result.is_err() {
        // A backup without its manifest is refused by restore anyway; removing
        // the copies keeps anyone from mistaking them for one.
        for part in &parts {
            if let Ok(name) = file_name(&part.path) {
                let _ = std::fs::remove_file(dir.join(name));
            }
        }
        for name in keys::KEY_FILES {
            let _ = std::fs::remove_file(dir.join(name));
        }
    }
    let manifest = result?;
    let bytes: u64 = manifest.files.iter().map(|f| f.bytes).sum();
    println!(
        "backup of {} files ({bytes} bytes) written to {}; {} positions checked against the log's end",
        manifest.files.len(),
        dir.display(),
        manifest.positions.len()
    );
    Ok(())
}

/// The stores and the log into `dir`, then, from `keys_from`, the key
/// files, then the manifest.
async fn write_backup(
    dir: &Path,
    parts: &[Part],
    topics: &Topics,
    keys_from: Option<&Path>,
) -> anyhow::Result<Manifest> {
    let live_log = parts
        .iter()
        .find(|p| p.role == "log")
        .map(|p| p.path.clone())
        .context("failed to find the log among the files")?;
    // Per producer copied: its topic, the live log's end just before, its copy.
    let mut marks: Vec<(String, i64, PathBuf, trim::Kind)> = Vec::new();
    let mut trimmed = BTreeMap::new();
    let mut copied = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let name = file_name(&part.path)?;
        let producer = match part.role.as_str() {
            "ingest" => Some((&topics.orders, trim::Kind::Orders)),
            "rfm" => Some((&topics.segments, trim::Kind::Segments)),
            _ => None,
        };
        if let Some((topic, kind)) = producer.filter(|_| part.path.is_file() && live_log.is_file())
        {
            let mark = trim::live_end(&live_log, topic).await?;
            marks.push((topic.clone(), mark, dir.join(&name), kind));
        }
        if !part.path.is_file() {
            anyhow::ensure!(
                !part.required,
                "{} ({}) does not exist: is this the data dir of a portrait stack?",
                part.path.display(),
                part.role
            );
            eprintln!(
                "[{}/{}] {}: {} absent, skipped",
                i + 1,
                parts.len(),
                part.role,
                name
            );
            continue;
        }
        let target = dir.join(&name);
        let mut conn = open(&part.path, false).await?;
        sqlx::query("VACUUM INTO ?")
            .bind(target.display().to_string())
            .execute(&mut conn)
            .await
            .with_context(|| {
                format!(
                    "failed to copy {} into {}",
                    part.path.display(),
                    target.display()
                )
            })?;
        conn.close().await.ok();
        if part.role == "log" {
            let producers: Vec<trim::Producer<'_>> = marks
                .iter()
                .map(|(topic, mark, copy, kind)| trim::Producer {
                    topic,
                    mark: *mark,
                    copy,
                    kind: *kind,
                })
                .collect();
            trimmed = trim::trim(&target, &producers).await?;
            for (topic, n) in trimmed.iter().filter(|(_, n)| **n > 0) {
                eprintln!(
                    "    {topic}: {n} records published after their producer's copy left out"
                );
            }
        }
        let (sha256, bytes) = sha256_file(&target)?;
        eprintln!(
            "[{}/{}] {}: {name}, {bytes} bytes, sha256 {}",
            i + 1,
            parts.len(),
            part.role,
            &sha256[..16]
        );
        copied.push(FileEntry {
            role: part.role.clone(),
            file: name,
            bytes,
            sha256,
        });
    }
    let log = copied
        .iter()
        .find(|f| f.role == "log")
        .context("failed to copy the log")?;
    let log_ends = positions::log_ends(&dir.join(&log.file)).await?;
    let mut positions = Vec::new();
    for f in &copied {
        positions.extend(positions::held(&dir.join(&f.file), &f.file, &topics.segments).await?);
    }
    for p in &positions {
        let end = log_ends.get(&p.topic).copied().unwrap_or(0);
        anyhow::ensure!(
            p.partition == 0 && p.next_offset <= end,
            "refusing to finish the backup: {} holds {} partition {} at {}, beyond the copied log's end {end}",
            p.file,
            p.topic,
            p.partition,
            p.next_offset
        );
    }
    let keys = match keys_from {
        Some(data_dir) => keys::copy(data_dir, dir)?,
        None => Vec::new(),
    };
    let manifest = Manifest {
        keys,
        version: MANIFEST_VERSION,
        portrait_version: env!("CARGO_PKG_VERSION").to_owned(),
        created_at: chrono::Utc::now().to_rfc3339(),
        files: copied,
        log_ends,
        positions,
        trimmed,
    };
    let text = serde_json::to_vec_pretty(&manifest).context("failed to write the manifest")?;
    let tmp = dir.join(format!("{MANIFEST}.tmp"));
    let mut file = std::fs::File::create(&tmp)
        .with_context(|| format!("failed to create {}", tmp.display()))?;
    file.write_all(&text)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("failed to write {}", tmp.display()))?;
    std::fs::rename(&tmp, dir.join(MANIFEST))
        .with_context(|| format!("failed to write {}", dir.join(MANIFEST).display()))?;
    Ok(manifest)
}

#[cfg(test)]
mod tests;
