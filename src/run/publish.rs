//! One publish per night. A run writes every output into a staging folder inside the
//! output folder (`out/.night/`, the same file system), then commits:
//!
//! 1. the journal `out/.night.publish` is written atomically: the list of staged files
//!    (the manifest last) and of stale CRM parts to remove. Writing it is the commit
//!    point: before it, the night is not published and the staging folder is thrown
//!    away; after it, the night is published.
//! 2. each staged file is renamed over its place, the manifest last; stale parts are
//!    removed; the journal and the staging folder go.
//!
//! A crash during step 2 leaves some files of tonight beside some of yesterday's; the
//! next run (before anything else, under the lock) reads the journal and finishes the
//! renames, so the folder is tonight's whole night, with the manifest that describes it.
//! A crash before the journal leaves yesterday's files untouched.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::base::files::{pause_for_fault_tests, write_atomic};
use crate::error::{Error, Result, StateProblem};

/// The staging folder's name inside the output folder.
pub const STAGING: &str = ".night";
/// The journal's name inside the output folder.
pub const JOURNAL: &str = ".night.publish";
/// The manifest, published last.
const MANIFEST: &str = "manifest.json";

/// What a commit does, in order.
#[derive(Debug, Serialize, Deserialize)]
struct Journal {
    /// Staged files, relative to the staging folder (the manifest last).
    rename: Vec<String>,
    /// Files of the output folder to remove (CRM parts tonight did not write).
    remove: Vec<String>,
}

/// A night being staged.
#[derive(Debug)]
pub struct Night {
    out: PathBuf,
    dir: PathBuf,
}

impl Night {
    /// Starts staging a night in `out`: finishes a publish a killed run left half done,
    /// drops an uncommitted staging folder, and makes a fresh one. Call it under the lock.
    pub fn begin(out: &Path) -> Result<Night> {
        recover(out)?;
        let dir = out.join(STAGING);
        std::fs::create_dir_all(&dir).map_err(|e| Error::write(&dir, e))?;
        Ok(Night {
            out: out.to_path_buf(),
            dir,
        })
    }

    /// Where the output `name` (relative to the output folder) is staged.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The published place of a staged path.
    pub fn published(&self, staged: &Path) -> PathBuf {
        match staged.strip_prefix(&self.dir) {
            Ok(rel) => self.out.join(rel),
            Err(_) => staged.to_path_buf(),
        }
    }

    /// Publishes every staged file at once (see the module documentation).
    pub fn commit(self) -> Result<()> {
        let mut rename = Vec::new();
        let mut stack = vec![self.dir.clone()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).map_err(|e| Error::write(&d, e))? {
                let p = entry.map_err(|e| Error::write(&d, e))?.path();
                if p.is_dir() {
                    stack.push(p);
                } else if let Ok(rel) = p.strip_prefix(&self.dir) {
                    rename.push(rel.to_string_lossy().into_owned());
                }
            }
        }
        rename.sort_by_key(|r| (r == MANIFEST, r.clone()));
        // A staged folder (a CRM format) replaces its published namesake whole.
        let mut remove = Vec::new();
        let folders: std::collections::BTreeSet<&str> = rename
            .iter()
            .filter_map(|r| r.split_once('/').map(|(d, _)| d))
            .collect();
        for folder in folders {
            let published = self.out.join(folder);
            let Ok(entries) = std::fs::read_dir(&published) else {
                continue;
            };
            for entry in entries.flatten() {
                let rel = format!("{folder}/{}", entry.file_name().to_string_lossy());
                if entry.path().is_file() && !rename.contains(&rel) {
                    remove.push(rel);
                }
            }
        }
        remove.sort();
        // Everything that can be checked is checked before the commit point: a folder
        // that cannot be made or written (a CRM folder another user owns), or a folder
        // where a file goes, fails the night unpublished.
        let mut probed: Vec<PathBuf> = Vec::new();
        for rel in &rename {
            let to = self.out.join(rel);
            let ready = match to.parent() {
                Some(dir) if !probed.iter().any(|p| p == dir) => {
                    probed.push(dir.to_path_buf());
                    std::fs::create_dir_all(dir)
                        .and_then(|()| probe_writable(dir))
                        .map_err(|e| Error::write(dir, e))
                }
                _ => Ok(()),
            }
            .and_then(|()| match to.is_dir() {
                true => Err(Error::write(
                    &to,
                    std::io::Error::other("a folder is where this file goes"),
                )),
                false => Ok(()),
            });
            if let Err(e) = ready {
                let _ = std::fs::remove_dir_all(&self.dir);
                return Err(e);
            }
        }
        let journal = Journal { rename, remove };
        let text = serde_json::to_vec_pretty(&journal).map_err(|e| Error::BadState {
            path: self.out.join(JOURNAL),
            problem: StateProblem::Unreadable {
                message: e.to_string(),
            },
        })?;
        write_atomic(&self.out.join(JOURNAL), &text)?;
        roll_forward(&self.out, &journal)
    }

    /// Drops the staged files (a failed night), keeping `keep` (moved into the output
    /// folder: the reject file a failure message points to).
    pub fn abandon(self, keep: &[&str]) {
        for name in keep {
            let staged = self.dir.join(name);
            if staged.is_file() {
                let _ = std::fs::rename(&staged, self.out.join(name));
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether a file can be made in `dir` (and so renamed into it): one is made and removed.
fn probe_writable(dir: &Path) -> std::io::Result<()> {
    let probe = dir.join(crate::base::files::temp_name("probe", std::process::id()));
    std::fs::File::create(&probe)?;
    std::fs::remove_file(&probe)
}

/// Finishes a committed publish a killed run left half done, or drops an uncommitted
/// staging folder. Returns whether a publish was finished.
pub fn recover(out: &Path) -> Result<bool> {
    let path = out.join(JOURNAL);
    let finished = match std::fs::read(&path) {
        Ok(bytes) => {
            let journal: Journal = serde_json::from_slice(&bytes).map_err(|e| Error::BadState {
                path: path.clone(),
                problem: StateProblem::Journal {
                    message: e.to_string(),
                },
            })?;
            roll_forward(out, &journal)?;
            tracing::warn!(
                "{}: the last run was stopped while publishing; its night is now published whole",
                out.display()
            );
            true
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(Error::write(&path, e)),
    };
    let staging = out.join(STAGING);
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|e| Error::write(&staging, e))?;
    }
    Ok(finished)
}

/// Step 2 of a commit; safe to repeat (a file already moved is skipped).
fn roll_forward(out: &Path, journal: &Journal) -> Result<()> {
    let staging = out.join(STAGING);
    let mut synced: Vec<PathBuf> = Vec::new();
    for rel in &journal.rename {
        let (from, to) = (staging.join(rel), out.join(rel));
        if !from.is_file() {
            continue;
        }
        let dir = to.parent().unwrap_or(out).to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| Error::write(&dir, e))?;
        std::fs::rename(&from, &to).map_err(|e| Error::write(&to, e))?;
        if !synced.contains(&dir) {
            synced.push(dir);
        }
        pause_for_fault_tests(&format!("published {rel}"));
    }
    for rel in &journal.remove {
        let p = out.join(rel);
        match std::fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Error::write(&p, e)),
            _ => {}
        }
    }
    // The renames must reach the disk before the journal goes.
    for dir in &synced {
        std::fs::File::open(dir)
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::write(dir, e))?;
    }
    let path = out.join(JOURNAL);
    std::fs::remove_file(&path).map_err(|e| Error::write(&path, e))?;
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::File::open(out)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::write(out, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(p: &Path) -> String {
        std::fs::read_to_string(p).unwrap_or_default()
    }

    #[test]
    fn a_commit_publishes_every_file_and_replaces_crm_folders_whole() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        std::fs::create_dir_all(out.join("hubspot")).unwrap();
        std::fs::write(out.join("at_risk.csv"), "old").unwrap();
        std::fs::write(out.join("hubspot/part-2.csv"), "old part").unwrap();
        std::fs::write(out.join("notes.txt"), "mine").unwrap();
        let night = Night::begin(out).unwrap();
        std::fs::write(night.path("at_risk.csv"), "new").unwrap();
        std::fs::write(night.path("manifest.json"), "{}").unwrap();
        std::fs::create_dir_all(night.path("hubspot")).unwrap();
        std::fs::write(night.path("hubspot/part-1.csv"), "new part").unwrap();
        assert_eq!(read(&out.join("at_risk.csv")), "old");
        night.commit().unwrap();
        assert_eq!(read(&out.join("at_risk.csv")), "new");
        assert_eq!(read(&out.join("manifest.json")), "{}");
        assert_eq!(read(&out.join("hubspot/part-1.csv")), "new part");
        assert!(!out.join("hubspot/part-2.csv").exists());
        assert_eq!(read(&out.join("notes.txt")), "mine");
        assert!(!out.join(STAGING).exists() && !out.join(JOURNAL).exists());
    }

    #[test]
    fn an_interrupted_publish_is_finished_and_an_uncommitted_night_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        std::fs::write(out.join("at_risk.csv"), "old").unwrap();
        std::fs::write(out.join("manifest.json"), "old").unwrap();
        // Committed, then killed after the first rename.
        let staging = out.join(STAGING);
        std::fs::create_dir_all(&staging).unwrap();
        std::fs::write(staging.join("manifest.json"), "new").unwrap();
        std::fs::write(out.join("at_risk.csv"), "new").unwrap();
        let journal = Journal {
            rename: vec!["at_risk.csv".into(), "manifest.json".into()],
            remove: vec![],
        };
        std::fs::write(out.join(JOURNAL), serde_json::to_vec(&journal).unwrap()).unwrap();
        assert!(recover(out).unwrap());
        assert_eq!(read(&out.join("at_risk.csv")), "new");
        assert_eq!(read(&out.join("manifest.json")), "new");
        assert!(!staging.exists() && !out.join(JOURNAL).exists());
        // Staged but never committed: yesterday's files stay.
        std::fs::create_dir_all(&staging).unwrap();
        std::fs::write(staging.join("at_risk.csv"), "half").unwrap();
        assert!(!recover(out).unwrap());
        assert_eq!(read(&out.join("at_risk.csv")), "new");
        assert!(!staging.exists());
    }
}
