//! Zip archives of exports (Amplitude's Export API answers with one): their files are
//! unpacked into a private temporary folder and read like a folder's, each named in
//! messages and the reject file as `archive.zip:entry`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, InputSetProblem, Result};

/// Unpacked files of one archive; the folder is removed when this is dropped.
pub(super) struct Unpacked {
    _dir: tempfile::TempDir,
    /// Each file: where it was unpacked, and its name for messages.
    pub(super) entries: Vec<(PathBuf, PathBuf)>,
}

/// At most this many bytes are unpacked from one archive (a zip bomb is refused, not
/// written to disk).
const MAX_UNPACKED: u64 = 64 << 30;

pub(super) fn unpack(path: &Path) -> Result<Unpacked> {
    let bad = |problem: InputSetProblem| Error::BadInputSet {
        path: path.into(),
        problem,
    };
    let zip_error = |entry: Option<String>, e: &dyn std::fmt::Display| {
        bad(InputSetProblem::BadArchive {
            entry,
            message: e.to_string(),
        })
    };
    let file = std::fs::File::open(path).map_err(|e| Error::read(path, e))?;
    let mut zip =
        zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|e| zip_error(None, &e))?;
    let dir = tempfile::Builder::new()
        .prefix("churnrisk-unzip-")
        .tempdir()
        .map_err(|e| Error::write(std::env::temp_dir(), e))?;
    let mut entries = Vec::new();
    let mut total = 0u64;
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| zip_error(Some(i.to_string()), &e))?;
        if entry.is_dir() {
            continue;
        }
        // A name that would leave the folder (`../x`, an absolute path) is refused.
        let Some(name) = entry.enclosed_name() else {
            return Err(bad(InputSetProblem::UnsafeEntry {
                entry: entry.name().to_string(),
            }));
        };
        let hidden = name
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(['.', '_']));
        if hidden || name.starts_with("__MACOSX") {
            continue;
        }
        let to = dir.path().join(&name);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::write(parent, e))?;
        }
        let mut out = std::fs::File::create(&to).map_err(|e| Error::write(&to, e))?;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = entry
                .read(&mut buf)
                .map_err(|e| zip_error(Some(name.display().to_string()), &e))?;
            if n == 0 {
                break;
            }
            total += n as u64;
            if total > MAX_UNPACKED {
                return Err(bad(InputSetProblem::ArchiveTooLarge {
                    gib: MAX_UNPACKED >> 30,
                }));
            }
            out.write_all(&buf[..n]).map_err(|e| Error::write(&to, e))?;
        }
        let shown = PathBuf::from(format!("{}:{}", path.display(), name.display()));
        entries.push((to, shown));
    }
    entries.sort_by(|a, b| super::files::natural_order(&a.1, &b.1));
    Ok(Unpacked { _dir: dir, entries })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zip_of(path: &Path, files: &[(&str, &[u8])]) {
        let mut w = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
        for (name, bytes) in files {
            w.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(bytes).unwrap();
        }
        w.finish().unwrap();
    }

    #[test]
    fn unpacks_files_under_their_archive_name_and_refuses_unsafe_paths() {
        let dir = tempfile::tempdir().unwrap();
        let z = dir.path().join("export.zip");
        zip_of(
            &z,
            &[
                ("123/b.json", b"{}\n"),
                ("123/a.json", b"{\"x\": 1}\n"),
                ("__MACOSX/123/._a.json", b"junk"),
            ],
        );
        let u = unpack(&z).unwrap();
        let names: Vec<String> = u
            .entries
            .iter()
            .map(|(_, n)| n.display().to_string())
            .collect();
        assert_eq!(
            names,
            [
                format!("{}:123/a.json", z.display()),
                format!("{}:123/b.json", z.display())
            ]
        );
        assert_eq!(std::fs::read(&u.entries[0].0).unwrap(), b"{\"x\": 1}\n");
        let unpacked_to = u.entries[0].0.clone();
        drop(u);
        assert!(!unpacked_to.exists());

        let evil = dir.path().join("evil.zip");
        zip_of(&evil, &[("../../escape.json", b"{}\n")]);
        let err = unpack(&evil).err().unwrap().to_string();
        assert!(err.contains("unsafe path"), "{err}");
        let not_zip = dir.path().join("not.zip");
        std::fs::write(&not_zip, b"PK\x03\x04 but nothing else").unwrap();
        assert!(unpack(&not_zip).is_err());
    }
}
