//! Files as churnrisk writes them: atomically (a temporary file beside the target,
//! synced, renamed into place, the folder synced), with temporary names that say whose
//! they are so that a killed run's leftovers can be cleaned up, and SHA-256 digests.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Writes `bytes` to a temporary file beside `path`, syncs it and renames it into place,
/// so a reader sees either the old file or the new one, never half of one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// [`write_atomic`] for a file written piece by piece: `write` fills a buffered writer of
/// the temporary file. On any failure the temporary file is removed and `path` keeps
/// what it held before.
pub fn write_atomic_with<T>(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<T>,
) -> Result<T> {
    // A device or a pipe (`--out /dev/null`, a FIFO) is written to, never renamed over:
    // a rename would put a file in its place.
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        return (|| {
            let mut w = BufWriter::new(std::fs::OpenOptions::new().write(true).open(path)?);
            let value = write(&mut w)?;
            w.flush()?;
            Ok(value)
        })()
        .map_err(|e| Error::write(path, e));
    }
    let (staged, value) = stage_with(path, write)?;
    staged.put()?;
    Ok(value)
}

/// `bytes` written to a temporary file beside `path` and synced, not yet in place: the
/// first half of [`write_atomic`], for a file that must be known writable before
/// something else is published (a night's model: a full disk fails the night before its
/// list goes out). [`StagedFile::put`] finishes it; dropping it removes the temporary file.
pub fn stage_file(path: &Path, bytes: &[u8]) -> Result<StagedFile> {
    Ok(stage_with(path, |w| w.write_all(bytes))?.0)
}

/// A file written and synced beside its place ([`stage_file`]).
#[derive(Debug)]
pub struct StagedFile {
    tmp: PathBuf,
    path: PathBuf,
    dir: PathBuf,
    placed: bool,
}

impl StagedFile {
    /// Renames the file into its place and syncs the folder.
    pub fn put(mut self) -> Result<()> {
        let name = self.path.file_name().unwrap_or_default().to_string_lossy();
        pause_for_fault_tests(&name);
        let result = std::fs::rename(&self.tmp, &self.path)
            // The rename itself must reach the disk, or a power cut can bring back the old name.
            .and_then(|()| std::fs::File::open(&self.dir)?.sync_all());
        self.placed = result.is_ok();
        result.map_err(|e| Error::write(&self.path, e))
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        if !self.placed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

fn stage_with<T>(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<T>,
) -> Result<(StagedFile, T)> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::write(dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    remove_stale_temps(dir, Some(&name));
    let staged = StagedFile {
        tmp: dir.join(temp_name(&name, std::process::id())),
        path: path.to_path_buf(),
        dir: dir.to_path_buf(),
        placed: false,
    };
    let written = (|| {
        let mut w = BufWriter::with_capacity(1 << 20, File::create(&staged.tmp)?);
        let value = write(&mut w)?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        Ok(value)
    })();
    // On failure `staged` is dropped: its temporary file goes.
    let value = written.map_err(|e| Error::write(path, e))?;
    Ok((staged, value))
}

/// The temporary name of `name` for process `pid`: `.name.pid.churnrisk.tmp` (a name no
/// one else writes, so clean-up can tell churnrisk's own), the name cut to 200 bytes so
/// that the whole stays within the 255 bytes a file name may have.
pub fn temp_name(name: &str, pid: u32) -> String {
    let mut end = name.len().min(200);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!(".{}.{pid}{TEMP_SUFFIX}", &name[..end])
}

/// What ends every temporary name churnrisk makes.
const TEMP_SUFFIX: &str = ".churnrisk.tmp";

/// Removes temporary files (`.name.pid.churnrisk.tmp`, of `name` only when given) that a
/// process which no longer runs left in `dir`: a killed run's, never another's or a user's.
pub fn remove_stale_temps(dir: &Path, name: Option<&str>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = file
            .strip_prefix('.')
            .and_then(|f| f.strip_suffix(TEMP_SUFFIX))
        else {
            continue;
        };
        let Some((stem, pid)) = rest.rsplit_once('.') else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        let ours = name.is_none_or(|n| temp_name(n, pid) == file) && stem.len() <= 200;
        if ours && pid != std::process::id() && !process_runs(pid) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Whether process `pid` exists (signal 0 checks without sending; "not permitted" means
/// it exists under another user).
fn process_runs(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    match rustix::process::test_kill_process(pid) {
        Ok(()) => true,
        Err(e) => e == rustix::io::Errno::PERM,
    }
}

/// Fault injection for the kill tests: with `CHURNRISK_FAULT_PAUSE=<file name>:<ms>`, the
/// atomic write of that file waits `ms` between syncing its temporary file and renaming
/// it, so a test can kill the process at exactly that moment. Compiled only into builds
/// with debug assertions (the test builds): a release binary has no such hook.
#[cfg(not(debug_assertions))]
pub(crate) fn pause_for_fault_tests(_name: &str) {}

/// See the release build's version above.
#[cfg(debug_assertions)]
pub(crate) fn pause_for_fault_tests(name: &str) {
    let Ok(spec) = std::env::var("CHURNRISK_FAULT_PAUSE") else {
        return;
    };
    if let Some((file, ms)) = spec.rsplit_once(':') {
        if file == name {
            if let Ok(ms) = ms.parse::<u64>() {
                std::thread::sleep(std::time::Duration::from_millis(ms));
            }
        }
    }
}

/// The SHA-256 of `bytes`, in hex.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// The SHA-256 of a file's bytes (streamed), in hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::read(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::read(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(format!("{:x}", hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pipe_is_written_to_not_replaced() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("out.csv");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let (tx, rx) = std::sync::mpsc::channel();
        let reading = fifo.clone();
        std::thread::spawn(move || tx.send(std::fs::read(reading).unwrap()));
        write_atomic(&fifo, b"rank,user_id\n").unwrap();
        // Renamed over, the pipe would be a file and its reader would wait for ever.
        assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
        let read = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        assert_eq!(read, b"rank,user_id\n");
    }

    #[test]
    fn hashes_match_the_known_digest() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        std::fs::write(&p, "abc").unwrap();
        assert_eq!(
            sha256_file(&p).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(sha256_bytes(b"abc"), sha256_file(&p).unwrap());
    }

    #[test]
    fn a_failed_write_keeps_the_old_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("list.csv");
        write_atomic(&p, b"yesterday").unwrap();
        let err = write_atomic_with(&p, |w| {
            w.write_all(b"half of tonight")?;
            Err::<(), _>(std::io::Error::other("disk full"))
        })
        .unwrap_err();
        assert!(matches!(err, Error::Write { .. }), "{err}");
        assert_eq!(std::fs::read(&p).unwrap(), b"yesterday");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("list.csv")]);
    }

    #[test]
    fn temporary_names_stay_short_and_only_dead_runs_leftovers_go() {
        let long = "é".repeat(125); // 250 bytes
        let t = temp_name(&long, 4_999_997);
        assert!(t.len() <= 255, "{}", t.len());
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(&long);
        write_atomic(&p, b"ok").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"ok");
        // A dead run's temporary file goes; a live one's and a user's stay, even one
        // that looks like ours but for the suffix.
        let dead = dir.path().join(temp_name("at_risk.csv", 4_999_998));
        let live = dir.path().join(temp_name("at_risk.csv", 1));
        let users = dir.path().join(".notes.tmp");
        let backup = dir.path().join(".at_risk.csv.2024.tmp");
        for f in [&dead, &live, &users, &backup] {
            std::fs::write(f, "x").unwrap();
        }
        write_atomic(&dir.path().join("at_risk.csv"), b"list").unwrap();
        assert!(!dead.exists());
        assert!(live.exists() && users.exists() && backup.exists());
    }

    #[test]
    fn atomic_write_replaces_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.csv");
        write_atomic(&p, b"old").unwrap();
        write_atomic(&p, b"new").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
