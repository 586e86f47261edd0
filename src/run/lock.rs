//! A lock that keeps two runs from writing the same output folder at once: an exclusive
//! advisory lock (`flock`) on `.churnrisk.lock` in the folder, which also holds the
//! owner's pid for the message. The operating system releases the lock when its process
//! ends in any way, `kill -9` included, so a dead run never blocks the next one and a
//! reused pid cannot fake a live one. The file itself stays; the lock is what counts.
//!
//! Taking the lock also removes temporary files (`.name.pid.churnrisk.tmp`) that a killed run left
//! behind: only names churnrisk makes, of processes that no longer run.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The lock file's name inside the output folder.
pub const LOCK_FILE: &str = ".churnrisk.lock";

/// A held lock; dropping it releases the lock.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
    pub path: PathBuf,
}

impl RunLock {
    /// Takes the lock on `dir` when a run uses it (it holds the lock file): for a command
    /// such as `score --out` writing into a run's folder. `None` for any other folder.
    pub fn acquire_if_used(dir: &Path) -> Result<Option<Self>> {
        if dir.join(LOCK_FILE).is_file() {
            Self::acquire(dir).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Takes the lock on `dir` (created if missing), or fails with [`Error::Locked`].
    pub fn acquire(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::write(dir, e))?;
        let path = dir.join(LOCK_FILE);
        let io = |e| Error::write(&path, e);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let pid = std::fs::read_to_string(&path)
                    .ok()
                    .and_then(|t| t.trim().parse::<u32>().ok());
                return Err(Error::Locked { path, pid });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        file.sync_all().map_err(io)?;
        crate::base::files::remove_stale_temps(dir, None);
        Ok(RunLock { _file: file, path })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = RunLock::acquire(dir.path()).unwrap();
        let err = RunLock::acquire(dir.path()).unwrap_err();
        assert!(matches!(err, Error::Locked { pid, .. } if pid == Some(std::process::id())));
        drop(first);
        RunLock::acquire(dir.path()).unwrap();
    }

    #[test]
    fn a_lock_file_without_a_live_holder_is_taken_over_and_leftovers_removed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(LOCK_FILE), "4999999\n").unwrap();
        std::fs::write(
            dir.path().join(".at_risk.csv.4999999.churnrisk.tmp"),
            "half",
        )
        .unwrap();
        std::fs::write(dir.path().join("at_risk.csv"), "whole").unwrap();
        let lock = RunLock::acquire(dir.path()).unwrap();
        let owner = std::fs::read_to_string(dir.path().join(LOCK_FILE)).unwrap();
        assert_eq!(owner.trim(), std::process::id().to_string());
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
        assert!(names.contains(&"at_risk.csv".to_string()));
        drop(lock);
    }
}
