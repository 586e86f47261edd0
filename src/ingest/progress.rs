//! How far the reading of inputs has come, for a progress bar: the bytes of input files
//! read from disk so far (compressed bytes for gzip; a Parquet file's row groups as they
//! are decoded), counted process-wide. Only for display: nothing depends on its value.

use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

static READ: AtomicU64 = AtomicU64::new(0);

/// Bytes of input files read so far by this process.
pub fn bytes_read() -> u64 {
    READ.load(Ordering::Relaxed)
}

pub(super) fn add(n: u64) {
    READ.fetch_add(n, Ordering::Relaxed);
}

/// A reader that counts what it reads into [`bytes_read`].
pub(super) struct Counted<R>(pub R);

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.0.read(buf)?;
        add(n as u64);
        Ok(n)
    }
}

/// The bytes of the files an input names (a file, a folder, a glob), or `None` when it
/// cannot be listed (the read itself then says why).
pub fn input_bytes(path: &Path) -> Option<u64> {
    let files = super::files::listed_files(path, false).ok()?;
    Some(
        files
            .iter()
            .filter_map(|(f, _)| std::fs::metadata(f).ok())
            .map(|m| m.len())
            .sum(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_what_is_read() {
        let before = bytes_read();
        let mut r = Counted(&b"hello world"[..]);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        // Other tests read files at the same time: at least these 11 bytes were counted.
        assert!(bytes_read() - before >= 11);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.csv"), "user_id\n1\n").unwrap();
        std::fs::write(dir.path().join("b.csv"), "user_id\n22\n").unwrap();
        assert_eq!(input_bytes(dir.path()), Some(21));
        assert_eq!(input_bytes(&dir.path().join("a.csv")), Some(10));
        assert_eq!(input_bytes(&dir.path().join("none")), None);
    }
}
