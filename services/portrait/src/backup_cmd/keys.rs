//! `portrait backup --with-keys`: the embedded stack's key files — the admin
//! token and the PII keys it made (`admin.token`, `pii.key`,
//! `pii_encryption.key`) — copied into the backup with mode 0600 and listed in
//! the manifest with their SHA-256; `portrait restore` puts back those the
//! backup holds (0600), and never replaces a different key without `--force`.
//!
//! Not the default: a backup that carries its keys carries the power to
//! unmask every customer it holds (the reveal key opens the stored phones and
//! ids, the pseudonym key turns a phone into its customer), so whoever can
//! read the backup can read the people. Keep such a backup where the keys may
//! be; otherwise back the keys up apart.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use portrait::embedded::{ADMIN_TOKEN_FILE, PII_ENCRYPTION_KEY_FILE, PII_KEY_FILE};
use sha2::{Digest, Sha256};

use super::{FileEntry, hex};

/// The key files of a data dir, the only names a manifest may list as keys.
pub(crate) const KEY_FILES: [&str; 3] = [ADMIN_TOKEN_FILE, PII_KEY_FILE, PII_ENCRYPTION_KEY_FILE];

fn sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Writes `bytes` to `to` through a private temporary file and a rename, so
/// the key is never readable by others, not even for a moment.
fn write_private(to: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let name = super::file_name(to)?;
    let tmp = to.with_file_name(format!("{name}.restoring"));
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("failed to create {}", tmp.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("failed to write {}", tmp.display()))?;
    std::fs::rename(&tmp, to).with_context(|| format!("failed to put {} in place", to.display()))
}

/// Copies the key files `data_dir` holds into `dir`; their manifest entries.
pub(crate) fn copy(data_dir: &Path, dir: &Path) -> anyhow::Result<Vec<FileEntry>> {
    let mut out = Vec::new();
    for name in KEY_FILES {
        let from = data_dir.join(name);
        let bytes = match std::fs::read(&from) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("failed to read {}", from.display())),
        };
        write_private(&dir.join(name), &bytes)?;
        eprintln!("key: {name} copied (mode 0600)");
        out.push(FileEntry {
            role: "key".into(),
            file: name.to_owned(),
            bytes: bytes.len() as u64,
            sha256: sha256(&bytes),
        });
    }
    if out.is_empty() {
        eprintln!(
            "key: none in {} (keys set in the configuration are not files of the data dir; back them up apart)",
            data_dir.display()
        );
    }
    Ok(out)
}

/// The backup's key files, each known by name and of its checksum.
pub(crate) fn verify(dir: &Path, keys: &[FileEntry]) -> anyhow::Result<()> {
    for k in keys {
        anyhow::ensure!(
            KEY_FILES.contains(&k.file.as_str()),
            "the manifest names {:?} as a key; only {} are",
            k.file,
            KEY_FILES.join(", ")
        );
        let path = dir.join(&k.file);
        let bytes =
            std::fs::read(&path).with_context(|| format!("failed to read {}", path.display()))?;
        anyhow::ensure!(
            bytes.len() as u64 == k.bytes && sha256(&bytes) == k.sha256,
            "backup file {} is damaged: it is not the key the manifest lists",
            path.display()
        );
    }
    Ok(())
}

/// The keys of `data_dir` that differ from the backup's.
pub(crate) fn different(keys: &[FileEntry], data_dir: &Path) -> Vec<PathBuf> {
    keys.iter()
        .map(|k| data_dir.join(&k.file))
        .zip(keys)
        .filter(|(path, k)| std::fs::read(path).is_ok_and(|b| sha256(&b) != k.sha256))
        .map(|(path, _)| path)
        .collect()
}

/// Puts the backup's keys into `data_dir`, mode 0600.
pub(crate) fn put(dir: &Path, keys: &[FileEntry], data_dir: &Path) -> anyhow::Result<()> {
    for k in keys {
        let from = dir.join(&k.file);
        let bytes =
            std::fs::read(&from).with_context(|| format!("failed to read {}", from.display()))?;
        anyhow::ensure!(
            sha256(&bytes) == k.sha256,
            "backup file {} changed while it was restored",
            from.display()
        );
        write_private(&data_dir.join(&k.file), &bytes)?;
        eprintln!("key: {} restored (mode 0600)", k.file);
    }
    Ok(())
}
