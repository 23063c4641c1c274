//! One process at a time on an embedded data folder: `portrait run` (and every
//! other way to start the embedded stack) holds an exclusive advisory lock on
//! `<data_dir>/portrait.lock` while it runs, and `portrait restore` takes the
//! same lock before it replaces any file, so a restore can never pull the
//! files from under a running stack, nor a stack start on a half-restored folder.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use anyhow::Context;

/// The lock file's name inside the data folder; a restore leaves it alone.
pub const LOCK_FILE: &str = "portrait.lock";

/// Held while alive; the kernel releases it when the process ends, SIGKILL included.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
    path: PathBuf,
}

impl DataDirLock {
    /// Creates the folder if needed and takes the lock, or says who holds it.
    pub fn acquire(data_dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("failed to create the data dir {}", data_dir.display()))?;
        let path = data_dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("failed to open the lock file {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file, path }),
            Err(TryLockError::WouldBlock) => anyhow::bail!(
                "the data dir {} is in use by another portrait process (it holds {})",
                data_dir.display(),
                path.display()
            ),
            Err(TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("failed to lock {}", path.display()))
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = DataDirLock::acquire(dir.path()).expect("first lock");
        let err = DataDirLock::acquire(dir.path()).expect_err("second lock refused");
        assert!(err.to_string().contains("in use"), "{err}");
        drop(first);
        DataDirLock::acquire(dir.path()).expect("free again");
    }
}
