//! `portrait restore DIR`: checks the whole backup before touching anything,
//! then, holding the data folder's lock, puts each file in place atomically.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use sha2::{Digest, Sha256};

use portrait::data_lock::{DataDirLock, LOCK_FILE};
use portrait::embedded;

use super::{MANIFEST, MANIFEST_VERSION, Manifest, file_name, hex, parts, sha256_file};

#[derive(clap::Args)]
pub(crate) struct RestoreArgs {
    /// Folder written by `portrait backup`.
    dir: PathBuf,
    /// The data folder to restore into (default: config `data_dir`, `.portrait`).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Replace the stores of a data folder that is not empty.
    #[arg(long)]
    force: bool,
}

pub(crate) async fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    let manifest = read_manifest(&args.dir)?;
    verify(&args.dir, &manifest)?;
    super::keys::verify(&args.dir, &manifest.keys)?;
    let configs = embedded::configs(args.data_dir.as_deref(), None)
        .context("failed to load configuration")?;
    let data_dir = configs[0].data_dir.clone();
    let targets = parts(&configs)?;
    let target = |role: &str, file: &str| -> PathBuf {
        targets
            .iter()
            .find(|p| p.role == role && role != "other")
            .map_or_else(|| data_dir.join(file), |p| p.path.clone())
    };
    // Held until every file is in place: no stack starts on a half-restored folder.
    let _lock = DataDirLock::acquire(&data_dir)?;
    let occupied = occupied(
        &data_dir,
        manifest.files.iter().map(|f| target(&f.role, &f.file)),
    )?;
    // Said apart: replacing a key leaves what was sealed under it unreadable.
    if let Some(key) = super::keys::different(&manifest.keys, &data_dir).first() {
        anyhow::ensure!(
            args.force,
            "the data dir holds another {} than the backup's; pass --force to replace it \
             (what the data dir's key sealed or named then no longer opens)",
            key.display()
        );
    }
    if let Some(first) = occupied.first() {
        anyhow::ensure!(
            args.force,
            "the data dir {} is not empty (it holds {}); stop the stack and pass --force to replace its stores",
            data_dir.display(),
            first.display()
        );
    }
    let total = manifest.files.len();
    for (i, f) in manifest.files.iter().enumerate() {
        let to = target(&f.role, &f.file);
        put(&args.dir.join(&f.file), &to, &f.sha256)?;
        eprintln!(
            "[{}/{total}] {}: {} restored to {}",
            i + 1,
            f.role,
            f.file,
            to.display()
        );
    }
    super::keys::put(&args.dir, &manifest.keys, &data_dir)?;
    if let Ok(d) = std::fs::File::open(&data_dir) {
        // Makes the renames durable.
        let _ = d.sync_all();
    }
    println!(
        "restored {total} files and {} keys of the backup taken {} into {}",
        manifest.keys.len(),
        manifest.created_at,
        data_dir.display()
    );
    Ok(())
}

fn read_manifest(dir: &Path) -> anyhow::Result<Manifest> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read(&path).with_context(|| {
        format!(
            "failed to read {} (is {} a portrait backup?)",
            path.display(),
            dir.display()
        )
    })?;
    let manifest: Manifest = serde_json::from_slice(&text)
        .with_context(|| format!("failed to read {}: not a backup manifest", path.display()))?;
    anyhow::ensure!(
        manifest.version == MANIFEST_VERSION,
        "{} is a version {} manifest; this portrait reads version {MANIFEST_VERSION}",
        path.display(),
        manifest.version
    );
    anyhow::ensure!(
        manifest.files.iter().any(|f| f.role == "log")
            && manifest.files.iter().any(|f| f.role == "ingest"),
        "{} names no log or no ingest store",
        path.display()
    );
    Ok(manifest)
}

/// Every file present, of its size and checksum, before anything is replaced.
fn verify(dir: &Path, manifest: &Manifest) -> anyhow::Result<()> {
    for f in &manifest.files {
        anyhow::ensure!(
            !f.file.contains('/')
                && !f.file.contains('\\')
                && f.file != ".."
                && f.file != LOCK_FILE,
            "the manifest names a file outside the backup: {:?}",
            f.file
        );
        let path = dir.join(&f.file);
        let (sha256, bytes) = sha256_file(&path)?;
        anyhow::ensure!(
            bytes == f.bytes && sha256 == f.sha256,
            "backup file {} is damaged: {bytes} bytes with SHA-256 {sha256}, the manifest says {} bytes with {}",
            path.display(),
            f.bytes,
            f.sha256
        );
        eprintln!(
            "checked {}: {bytes} bytes, sha256 {}",
            f.file,
            &sha256[..16]
        );
    }
    Ok(())
}

/// What would be replaced or mixed in: any entry of the folder but the lock,
/// and the targets outside it.
fn occupied(
    data_dir: &Path,
    targets: impl Iterator<Item = PathBuf>,
) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(data_dir)
        .with_context(|| format!("failed to read the data dir {}", data_dir.display()))?;
    for entry in entries {
        let entry =
            entry.with_context(|| format!("failed to read the data dir {}", data_dir.display()))?;
        if entry.file_name() != LOCK_FILE {
            out.push(entry.path());
        }
    }
    out.extend(targets.filter(|t| t.exists() && !t.starts_with(data_dir)));
    out.sort();
    Ok(out)
}

/// Copies to a temporary name beside the target, checks what was written,
/// drops the old file's WAL (it belongs to the old file and would be replayed
/// into the new one) and renames over the target.
fn put(from: &Path, to: &Path, sha256: &str) -> anyhow::Result<()> {
    let name = file_name(to)?;
    let tmp = to.with_file_name(format!("{name}.restoring"));
    let mut src =
        std::fs::File::open(from).with_context(|| format!("failed to open {}", from.display()))?;
    let mut dst = std::fs::File::create(&tmp)
        .with_context(|| format!("failed to create {}", tmp.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0_u8; 1 << 20];
    loop {
        let n = src
            .read(&mut buf)
            .with_context(|| format!("failed to read {}", from.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        dst.write_all(&buf[..n])
            .with_context(|| format!("failed to write {}", tmp.display()))?;
    }
    dst.sync_all()
        .with_context(|| format!("failed to write {}", tmp.display()))?;
    let written = hex(&hasher.finalize());
    if written != sha256 {
        let _ = std::fs::remove_file(&tmp);
        anyhow::bail!(
            "backup file {} changed while it was restored (SHA-256 {written})",
            from.display()
        );
    }
    for suffix in ["-wal", "-shm", "-journal"] {
        let side = to.with_file_name(format!("{name}{suffix}"));
        match std::fs::remove_file(&side) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e).with_context(|| format!("failed to remove {}", side.display()));
            }
        }
    }
    std::fs::rename(&tmp, to).with_context(|| format!("failed to put {} in place", to.display()))
}
