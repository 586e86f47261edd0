//! Delta Lake tables: the Parquet files a table's transaction log says are live.
//!
//! A Delta table is a folder of Parquet files and a `_delta_log/` folder of commits. An
//! `UPDATE`, `DELETE`, `MERGE`, a partition reloaded or an `OPTIMIZE` writes new files and
//! records the old ones as removed; the old files stay on disk until a `VACUUM` (7 days by
//! default). Every Parquet file of the folder is therefore not the table: read them all and
//! an erased user comes back and compacted rows count twice. The live files are the
//! latest checkpoint's `add` actions with the later commits' `add` and `remove` actions
//! applied in order (the Delta protocol's "action reconciliation"), as here.
//!
//! What churnrisk cannot honour is refused by name rather than misread: deletion vectors
//! on a live file (rows deleted without rewriting it), column mapping (the files' column
//! names are not the table's), UUID-named (V2) checkpoints where the log needs one, and
//! any reader feature it does not know.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Cursor;
use std::path::{Path, PathBuf};

use polars_arrow::array::{
    Array, ListArray, MapArray, PrimitiveArray, StructArray, Utf8Array, Utf8ViewArray,
};

use crate::error::{Error, InputSetProblem, Result};

/// The folder holding a table's log.
const LOG: &str = "_delta_log";

/// Reader features whose tables read correctly as the live files' rows: timestamps
/// without a zone and widened types are read per file anyway; the others hold nothing a
/// reader must apply (or are checked below: deletion vectors per file, column mapping by
/// its mode, V2 checkpoints where one is needed).
const READABLE_FEATURES: [&str; 9] = [
    "timestampNtz",
    "typeWidening",
    "typeWidening-preview",
    "vacuumProtocolCheck",
    "deletionVectors",
    "columnMapping",
    "v2Checkpoint",
    "variantType",
    "variantType-preview",
];

/// Whether `dir` is a Delta table (holds a `_delta_log` folder).
pub(super) fn is_table(dir: &Path) -> bool {
    dir.join(LOG).is_dir()
}

/// The live data files of the Delta table at `table`, sorted by path.
pub(super) fn live_files(table: &Path) -> Result<Vec<PathBuf>> {
    let bad = |problem: String| Error::BadInputSet {
        path: table.into(),
        problem: InputSetProblem::DeltaLog { problem },
    };
    let log = table.join(LOG);
    let (commits, checkpoints) = list_log(&log)?;
    let Some(latest) = commits.keys().chain(checkpoints.keys()).max().copied() else {
        return Err(bad("its _delta_log holds no commit".into()));
    };
    // The newest complete checkpoint from which every later commit is on disk; else the
    // commits from version 0.
    let mut start = None;
    for (&version, kind) in checkpoints.iter().rev() {
        if let Checkpoint::Parts(parts) = kind {
            if (version + 1..=latest).all(|v| commits.contains_key(&v)) {
                start = Some((version, parts.clone()));
                break;
            }
        }
    }
    let mut state = State::default();
    let first = match &start {
        Some((version, parts)) => {
            for part in parts {
                state.read_checkpoint(part)?;
            }
            version + 1
        }
        None => {
            if let Some(missing) = (0..=latest).find(|v| !commits.contains_key(v)) {
                let why = if checkpoints.values().any(|c| matches!(c, Checkpoint::Uuid)) {
                    " and its checkpoint is of the UUID-named (V2) kind, which churnrisk does not read"
                } else {
                    " and no checkpoint covers it"
                };
                return Err(bad(format!("its log lacks commit {missing}{why}")));
            }
            0
        }
    };
    for version in first..=latest {
        let path = &commits[&version];
        let text = std::fs::read_to_string(path).map_err(|e| Error::read(path, e))?;
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let action: serde_json::Value = serde_json::from_str(line)
                .map_err(|e| bad(format!("{} line {}: {e}", path.display(), i + 1)))?;
            state.apply(&action);
        }
    }
    state.check().map_err(bad)?;
    let mut files = Vec::with_capacity(state.live.len());
    for (relative, has_dv) in &state.live {
        if *has_dv {
            return Err(bad(format!(
                "{relative} has deleted rows recorded in a deletion vector, which churnrisk does not apply; rewrite the table without them (REORG TABLE … APPLY (PURGE)) or export it"
            )));
        }
        let path = data_path(table, relative).ok_or_else(|| {
            bad(format!(
                "{relative}: a data file outside the table's folder is not read"
            ))
        })?;
        if !path.is_file() {
            return Err(bad(format!(
                "{} is live in its log but not on disk (vacuumed or copied in part?)",
                path.display()
            )));
        }
        files.push(path);
    }
    files.sort();
    Ok(files)
}

/// A checkpoint of the log at some version.
#[derive(Debug, Clone)]
enum Checkpoint {
    /// The classic single file, or every part of a multi-part one, in order.
    Parts(Vec<PathBuf>),
    /// Some parts of a multi-part checkpoint are missing.
    Incomplete,
    /// A UUID-named (V2) checkpoint, whose actions may sit in sidecar files.
    Uuid,
}

/// The commits (version → file) and checkpoints (version → kind) of a `_delta_log`.
fn list_log(log: &Path) -> Result<(BTreeMap<u64, PathBuf>, BTreeMap<u64, Checkpoint>)> {
    let mut commits = BTreeMap::new();
    let mut parts: BTreeMap<u64, (u32, Vec<(u32, PathBuf)>)> = BTreeMap::new();
    let mut uuid: Vec<u64> = Vec::new();
    for entry in std::fs::read_dir(log).map_err(|e| Error::read(log, e))? {
        let path = entry.map_err(|e| Error::read(log, e))?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(version) = name.get(..20).and_then(|v| v.parse::<u64>().ok()) else {
            continue;
        };
        let rest = &name[20..];
        if rest == ".json" {
            commits.insert(version, path);
        } else if rest == ".checkpoint.parquet" {
            parts.insert(version, (1, vec![(1, path)]));
        } else if let Some(tail) = rest.strip_prefix(".checkpoint.") {
            // `<part>.<parts>.parquet` (10 digits each), or `<uuid>.json|parquet`.
            let fields: Vec<&str> = tail.split('.').collect();
            match fields.as_slice() {
                [part, total, "parquet"] if part.len() == 10 && total.len() == 10 => {
                    if let (Ok(part), Ok(total)) = (part.parse::<u32>(), total.parse::<u32>()) {
                        let e = parts.entry(version).or_insert((total, Vec::new()));
                        e.1.push((part, path));
                    }
                }
                [_, "json" | "parquet"] => {
                    uuid.push(version);
                }
                _ => {}
            }
        }
    }
    let mut checkpoints: BTreeMap<u64, Checkpoint> = BTreeMap::new();
    for version in uuid {
        checkpoints.insert(version, Checkpoint::Uuid);
    }
    for (version, (total, mut found)) in parts {
        found.sort();
        let complete = found.len() == total as usize
            && found
                .iter()
                .enumerate()
                .all(|(i, (p, _))| *p as usize == i + 1);
        // A classic checkpoint beside a V2 one of the same version reads as the table.
        checkpoints.insert(
            version,
            if complete {
                Checkpoint::Parts(found.into_iter().map(|(_, p)| p).collect())
            } else {
                Checkpoint::Incomplete
            },
        );
    }
    Ok((commits, checkpoints))
}

/// The table as the log's actions so far make it.
#[derive(Debug, Default)]
struct State {
    /// Live data files (their paths as the log writes them) and whether each has a
    /// deletion vector.
    live: HashMap<String, bool>,
    min_reader_version: i64,
    reader_features: HashSet<String>,
    /// `delta.columnMapping.mode` of the latest metadata.
    column_mapping: Option<String>,
}

impl State {
    /// Applies one action of a JSON commit.
    fn apply(&mut self, action: &serde_json::Value) {
        if let Some(add) = action.get("add") {
            if let Some(path) = add.get("path").and_then(|p| p.as_str()) {
                let dv = add.get("deletionVector").is_some_and(|d| !d.is_null());
                self.live.insert(path.to_string(), dv);
            }
        } else if let Some(remove) = action.get("remove") {
            if let Some(path) = remove.get("path").and_then(|p| p.as_str()) {
                self.live.remove(path);
            }
        } else if let Some(protocol) = action.get("protocol") {
            self.min_reader_version = protocol
                .get("minReaderVersion")
                .and_then(|v| v.as_i64())
                .unwrap_or(1);
            self.reader_features = protocol
                .get("readerFeatures")
                .and_then(|f| f.as_array())
                .map(|f| {
                    f.iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
        } else if let Some(meta) = action.get("metaData") {
            self.column_mapping = meta
                .get("configuration")
                .and_then(|c| c.get("delta.columnMapping.mode"))
                .and_then(|m| m.as_str())
                .map(String::from);
        }
    }

    /// Reads one checkpoint file's live files, protocol and metadata.
    fn read_checkpoint(&mut self, path: &Path) -> Result<()> {
        super::files::guarded(path, || {
            let file = ParquetFile::read(path)?;
            for array in file.column("add")? {
                let adds = as_struct(array.as_ref())?;
                let paths = child(adds, "path").and_then(|a| strings(a.as_ref()));
                let dvs = child(adds, "deletionVector");
                for i in 0..adds.len() {
                    if adds.is_null(i) {
                        continue;
                    }
                    let Some(path) = paths.as_ref().and_then(|p| p.get(i).cloned().flatten())
                    else {
                        continue;
                    };
                    let dv = dvs.as_ref().is_some_and(|d| d.is_valid(i));
                    self.live.insert(path, dv);
                }
            }
            for array in file.column("protocol")? {
                let protocol = as_struct(array.as_ref())?;
                let versions = child(protocol, "minReaderVersion");
                let features = child(protocol, "readerFeatures");
                for i in (0..protocol.len()).filter(|&i| protocol.is_valid(i)) {
                    if let Some(v) = versions
                        .as_ref()
                        .and_then(|a| a.as_any().downcast_ref::<PrimitiveArray<i32>>())
                        .filter(|a| a.is_valid(i))
                        .map(|a| a.value(i))
                    {
                        self.min_reader_version = i64::from(v);
                    }
                    if let Some(list) = features.as_ref().and_then(|a| list_value(a.as_ref(), i)) {
                        let names = strings(list.as_ref()).unwrap_or_default();
                        self.reader_features = names.into_iter().flatten().collect();
                    }
                }
            }
            for array in file.column("metaData")? {
                let meta = as_struct(array.as_ref())?;
                let Some(config) = child(meta, "configuration") else {
                    continue;
                };
                let Some(map) = config.as_any().downcast_ref::<MapArray>() else {
                    continue;
                };
                for i in (0..meta.len()).filter(|&i| meta.is_valid(i) && map.is_valid(i)) {
                    let entries = map.value(i);
                    let entries = as_struct(entries.as_ref())?;
                    let keys = child(entries, "key").and_then(|a| strings(a.as_ref()));
                    let values = child(entries, "value").and_then(|a| strings(a.as_ref()));
                    if let (Some(keys), Some(values)) = (keys, values) {
                        self.column_mapping = keys
                            .iter()
                            .zip(values)
                            .find(|(k, _)| k.as_deref() == Some("delta.columnMapping.mode"))
                            .and_then(|(_, v)| v);
                    }
                }
            }
            Ok(())
        })
    }

    /// Refuses what churnrisk cannot read correctly, in words.
    fn check(&self) -> std::result::Result<(), String> {
        if self.min_reader_version > 3 {
            return Err(format!(
                "its protocol asks readers for version {}, newer than churnrisk reads (3)",
                self.min_reader_version
            ));
        }
        let mut unknown: Vec<&str> = self
            .reader_features
            .iter()
            .map(String::as_str)
            .filter(|f| !READABLE_FEATURES.contains(f))
            .collect();
        unknown.sort_unstable();
        if !unknown.is_empty() {
            return Err(format!(
                "it uses reader features churnrisk does not support: {}",
                unknown.join(", ")
            ));
        }
        match self.column_mapping.as_deref() {
            None | Some("none") => Ok(()),
            Some(mode) => Err(format!(
                "it uses column mapping (mode {mode}): its files' column names are not the table's; export the table, or read it without column mapping"
            )),
        }
    }
}

/// `relative` (a path as the log writes it: URL-encoded, relative to the table or an
/// absolute `file:` URI) as a path under `table`; none for a file elsewhere.
fn data_path(table: &Path, relative: &str) -> Option<PathBuf> {
    let decoded = percent_decode(relative)?;
    if decoded.contains("://") || decoded.starts_with("file:") {
        let local = decoded
            .strip_prefix("file://")
            .or_else(|| decoded.strip_prefix("file:"))?;
        let path = PathBuf::from(local);
        return path.starts_with(table).then_some(path);
    }
    let path = Path::new(&decoded);
    if path.is_absolute()
        || path
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return None;
    }
    Some(table.join(path))
}

/// `%XX` escapes decoded (as UTF-8); none when an escape is malformed.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A Parquet file in memory with its footer read once, whose top-level columns are read
/// through polars' Parquet decoder at the Arrow level: this build of polars has no struct
/// type for a data frame.
struct ParquetFile {
    metadata: polars_parquet::read::FileMetadata,
    schema: polars_arrow::datatypes::ArrowSchema,
    buffer: polars_buffer::Buffer<u8>,
}

impl ParquetFile {
    fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::read(path, e))?;
        let metadata = polars_parquet::arrow::read::read_metadata(&mut Cursor::new(&bytes))?;
        let schema = polars_parquet::arrow::read::infer_schema(&metadata)?;
        Ok(ParquetFile {
            metadata,
            schema,
            buffer: polars_buffer::Buffer::from(bytes),
        })
    }

    /// The arrays of the top-level column `root`, a row group each; none when the file has
    /// no such column.
    fn column(&self, root: &str) -> Result<Vec<Box<dyn Array>>> {
        let Some(field) = self.schema.get(root) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for group in &self.metadata.row_groups {
            let Some(columns) = group.columns_under_root_iter(root) else {
                continue;
            };
            let mut chunks = Vec::new();
            for column in columns {
                let range = column.byte_range();
                let (start, end) = (range.start as usize, range.end as usize);
                if start > end || end > self.buffer.len() {
                    return Err(Error::Polars(polars::prelude::PolarsError::ComputeError(
                        "a column chunk lies outside the file".into(),
                    )));
                }
                chunks.push((column, self.buffer.clone().sliced(start..end)));
            }
            let (arrays, _) =
                polars_io::parquet::read::_internal::to_deserializer(chunks, field.clone(), None)?;
            out.extend(arrays);
        }
        Ok(out)
    }
}

/// `array` as a struct array, or the checkpoint's layout is not the protocol's.
fn as_struct(array: &dyn Array) -> Result<&StructArray> {
    array.as_any().downcast_ref::<StructArray>().ok_or_else(|| {
        Error::Polars(polars::prelude::PolarsError::ComputeError(
            "a checkpoint action is not a record".into(),
        ))
    })
}

/// The child array `name` of a struct array.
fn child(array: &StructArray, name: &str) -> Option<Box<dyn Array>> {
    array
        .fields()
        .iter()
        .position(|f| f.name.as_str() == name)
        .map(|i| array.values()[i].clone())
}

/// A text array's values (null as none); none for another type.
fn strings(array: &dyn Array) -> Option<Vec<Option<String>>> {
    let any = array.as_any();
    if let Some(texts) = any.downcast_ref::<Utf8ViewArray>() {
        return Some(texts.iter().map(|v| v.map(String::from)).collect());
    }
    if let Some(texts) = any.downcast_ref::<Utf8Array<i64>>() {
        return Some(texts.iter().map(|v| v.map(String::from)).collect());
    }
    let texts = any.downcast_ref::<Utf8Array<i32>>()?;
    Some(texts.iter().map(|v| v.map(String::from)).collect())
}

/// Row `i` of a list array (of either offset width); none when null or not a list.
fn list_value(array: &dyn Array, i: usize) -> Option<Box<dyn Array>> {
    let any = array.as_any();
    if let Some(list) = any.downcast_ref::<ListArray<i32>>() {
        return list.is_valid(i).then(|| list.value(i));
    }
    let list = any.downcast_ref::<ListArray<i64>>()?;
    list.is_valid(i).then(|| list.value(i))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `commits` (each a list of JSON actions) as versions 0, 1, … of a table at
    /// `dir`, and an empty data file for every path an action adds.
    fn table(dir: &Path, commits: &[&[&str]]) {
        std::fs::create_dir_all(dir.join(LOG)).unwrap();
        for (v, actions) in commits.iter().enumerate() {
            std::fs::write(
                dir.join(LOG).join(format!("{v:020}.json")),
                actions.join("\n") + "\n",
            )
            .unwrap();
            for a in actions.iter() {
                let value: serde_json::Value = serde_json::from_str(a).unwrap();
                if let Some(p) = value.pointer("/add/path").and_then(|p| p.as_str()) {
                    let p = dir.join(percent_decode(p).unwrap());
                    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                    std::fs::write(p, b"PAR1").unwrap();
                }
            }
        }
    }

    const PROTOCOL: &str = r#"{"protocol":{"minReaderVersion":1,"minWriterVersion":2}}"#;

    fn add(path: &str) -> String {
        format!(
            r#"{{"add":{{"path":"{path}","partitionValues":{{}},"size":4,"modificationTime":0,"dataChange":true}}}}"#
        )
    }

    fn remove(path: &str) -> String {
        format!(r#"{{"remove":{{"path":"{path}","dataChange":true}}}}"#)
    }

    fn names(table: &Path, files: &[PathBuf]) -> Vec<String> {
        files
            .iter()
            .map(|f| {
                f.strip_prefix(table)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    }

    #[test]
    fn commits_replayed_in_order_leave_the_live_files() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (
            add("d=1/a.parquet"),
            add("d=1/b.parquet"),
            add("d=2/c%20x.parquet"),
        );
        let (ra, rb) = (remove("d=1/a.parquet"), remove("d=1/b.parquet"));
        let readd = add("d=1/b.parquet");
        table(
            dir.path(),
            &[&[PROTOCOL, &a, &b], &[&ra, &c], &[&rb], &[&readd]],
        );
        let files = live_files(dir.path()).unwrap();
        // a removed; b removed then added back; c's name decoded.
        assert_eq!(
            names(dir.path(), &files),
            ["d=1/b.parquet", "d=2/c x.parquet"]
        );
    }

    #[test]
    fn what_cannot_be_read_correctly_is_refused_by_name() {
        let refused = |commits: &[&[&str]]| {
            let dir = tempfile::tempdir().unwrap();
            table(dir.path(), commits);
            live_files(dir.path()).unwrap_err().to_string()
        };
        let a = add("a.parquet");
        let dv = r#"{"add":{"path":"b.parquet","partitionValues":{},"size":4,"modificationTime":0,"dataChange":true,"deletionVector":{"storageType":"i","pathOrInlineDv":"wi5b=000010000siXQKl0rr91000f55c8Xg0@@D72lkbi5=-{L","offset":1,"sizeInBytes":36,"cardinality":2}}}"#;
        let err = refused(&[&[PROTOCOL, &a, dv]]);
        assert!(
            err.contains("b.parquet has deleted rows recorded in a deletion vector"),
            "{err}"
        );
        let mapped = r#"{"metaData":{"id":"x","format":{"provider":"parquet","options":{}},"schemaString":"{}","partitionColumns":[],"configuration":{"delta.columnMapping.mode":"name"}}}"#;
        let err = refused(&[&[PROTOCOL, mapped, &a]]);
        assert!(err.contains("column mapping (mode name)"), "{err}");
        let v3 = r#"{"protocol":{"minReaderVersion":3,"minWriterVersion":7,"readerFeatures":["timestampNtz","catalogManaged"],"writerFeatures":[]}}"#;
        let err = refused(&[&[v3, &a]]);
        assert!(
            err.contains("reader features churnrisk does not support: catalogManaged"),
            "{err}"
        );
        let v4 = r#"{"protocol":{"minReaderVersion":4,"minWriterVersion":7}}"#;
        assert!(refused(&[&[v4, &a]]).contains("version 4"));
        // A file live in the log but vacuumed away, or outside the table.
        let dir = tempfile::tempdir().unwrap();
        table(dir.path(), &[&[PROTOCOL, &a]]);
        std::fs::remove_file(dir.path().join("a.parquet")).unwrap();
        let err = live_files(dir.path()).unwrap_err().to_string();
        assert!(err.contains("is live in its log but not on disk"), "{err}");
        let outside = add("../elsewhere.parquet");
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(LOG)).unwrap();
        std::fs::write(
            dir.path().join(LOG).join(format!("{:020}.json", 0)),
            format!("{PROTOCOL}\n{outside}\n"),
        )
        .unwrap();
        let err = live_files(dir.path()).unwrap_err().to_string();
        assert!(err.contains("outside the table's folder"), "{err}");
    }

    #[test]
    fn a_log_cleaned_up_without_a_checkpoint_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (add("a.parquet"), add("b.parquet"));
        table(dir.path(), &[&[PROTOCOL, &a], &[&b]]);
        std::fs::remove_file(dir.path().join(LOG).join(format!("{:020}.json", 0))).unwrap();
        let err = live_files(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("its log lacks commit 0 and no checkpoint covers it"),
            "{err}"
        );
    }

    #[test]
    fn paths_are_decoded_and_kept_inside_the_table() {
        let t = Path::new("/data/events");
        assert_eq!(
            data_path(t, "event_date=2026-07-01/part%2D0.parquet"),
            Some(PathBuf::from(
                "/data/events/event_date=2026-07-01/part-0.parquet"
            ))
        );
        assert_eq!(
            data_path(t, "file:///data/events/x.parquet"),
            Some(PathBuf::from("/data/events/x.parquet"))
        );
        assert_eq!(data_path(t, "s3://bucket/x.parquet"), None);
        assert_eq!(data_path(t, "/etc/passwd"), None);
        assert_eq!(data_path(t, "a/../../x.parquet"), None);
        assert_eq!(data_path(t, "bad%zz"), None);
    }
}
