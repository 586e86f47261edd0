//! Which files an input names (a file, a folder, a glob) and their format, where a row's
//! line points (file and line of a multi-file input), and the opening of each format.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::archive::Unpacked;
use super::columns::require_column;
use super::ndjson::{is_ndjson, read_ndjson_checked};
use super::parquet::Dataset;
use super::reader::read_csv_checked;
use super::rejects::{Finding, ReadPolicy, Rejects};
use super::LINE;
use crate::error::{Error, InputSetProblem, Result, CORRUPT};

pub(super) fn is_csv(path: &Path) -> bool {
    let name = path.to_string_lossy().to_lowercase();
    name.ends_with(".csv") || name.ends_with(".csv.gz") || is_tsv(path)
}

/// Tab-separated by name (`.tsv`, `.tsv.gz`; Snowplow's enriched events).
pub(super) fn is_tsv(path: &Path) -> bool {
    let name = path.to_string_lossy().to_lowercase();
    name.ends_with(".tsv") || name.ends_with(".tsv.gz")
}

fn is_zip(path: &Path) -> bool {
    path.to_string_lossy().to_lowercase().ends_with(".zip")
}

/// Opens an input: CSV and CSV.gz through the checked reader (text columns), Parquet
/// lazily with its own types. Either way the frame carries [`LINE`].
pub(super) fn open(
    path: &Path,
    wanted: &[&str],
    required: &[&str],
    policy: &ReadPolicy,
    rejects: &mut Rejects,
) -> Result<(LazyFrame, Schema)> {
    check_file(path)?;
    // One column may serve two fields (a mapping's choice, or a slip): read it once.
    let mut once: Vec<&str> = Vec::with_capacity(wanted.len());
    for w in wanted {
        if !once.contains(w) {
            once.push(w);
        }
    }
    let wanted = once.as_slice();
    let name = path.to_string_lossy().to_lowercase();
    if name.ends_with(".parquet") {
        let (df, schema) = guarded(path, || {
            let set = Dataset::open(path, &[path.to_path_buf()])?.with_aliases(wanted);
            let schema = set.schema().clone();
            let columns: Vec<&str> = schema.iter_names().map(|n| n.as_str()).collect();
            let df = set.collect(&columns, LINE, |lf| {
                lf.with_column(col(LINE).cast(DataType::Int64))
            })?;
            Ok((df, schema))
        })?;
        for column in required {
            require_column(path, &schema, column)?;
        }
        return Ok((df.lazy(), schema));
    }
    if !is_csv(path) {
        return Err(Error::UnknownFormat { path: path.into() });
    }
    let df = read_csv_checked(path, wanted, required, policy, rejects)?;
    let schema = df.schema().as_ref().clone();
    Ok((df.lazy(), schema))
}

/// Fails on a path that is not a file or a file without bytes.
fn check_file(path: &Path) -> Result<()> {
    if !path.is_file() {
        return Err(Error::MissingFile { path: path.into() });
    }
    let meta = std::fs::metadata(path).map_err(|e| Error::read(path, e))?;
    if meta.len() == 0 {
        return Err(Error::EmptyInput { path: path.into() });
    }
    Ok(())
}

/// The column names of a table [`open`] reads (CSV: its header; Parquet: its schema).
pub(super) fn table_header(path: &Path, policy: &ReadPolicy) -> Result<Vec<String>> {
    check_file(path)?;
    if path.to_string_lossy().to_lowercase().ends_with(".parquet") {
        return guarded(path, || {
            let set = Dataset::open(path, &[path.to_path_buf()])?;
            Ok(set.schema().iter_names().map(|n| n.to_string()).collect())
        });
    }
    if !is_csv(path) {
        return Err(Error::UnknownFormat { path: path.into() });
    }
    super::reader::csv_header(path, policy)
}

/// Guarded reads under way: polars decodes Parquet on threads of its own too, whose
/// panic reaches [`guarded`] as the file's error.
static GUARDED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Whether a [`guarded`] read is under way: a panic now is reported as the file's error,
/// so the panic hook need not print it.
pub fn in_guarded_reader() -> bool {
    GUARDED.load(std::sync::atomic::Ordering::SeqCst) > 0
}

/// Runs a third-party reader on `path`: its errors, and a panic inside it (polars on a
/// damaged Parquet file), become [`Error::CorruptFile`] naming the file (exit 3), not a
/// crash or "a defect".
pub(super) fn guarded<T>(path: &Path, read: impl FnOnce() -> Result<T>) -> Result<T> {
    use std::sync::atomic::Ordering::SeqCst;
    GUARDED.fetch_add(1, SeqCst);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(read));
    GUARDED.fetch_sub(1, SeqCst);
    match result {
        Ok(Err(Error::Polars(e))) => Err(unreadable(path, e.to_string())),
        Ok(r) => r,
        Err(panic) => Err(unreadable(
            path,
            panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("the reader stopped")
                .to_string(),
        )),
    }
}

/// The reader's own words, with the likely cause: a valid file whose column type this
/// build does not read (pandas writes a `category` column dictionary-encoded) is no
/// damaged file.
fn unreadable(path: &Path, message: String) -> Error {
    let hint = if message.contains("not supported by Polars") {
        "a column type this reader does not take: a dictionary-encoded (pandas `category`) \
         column? Write it as plain strings, e.g. `df[c] = df[c].astype(str)`"
    } else {
        CORRUPT
    };
    Error::CorruptFile {
        path: path.into(),
        message,
        hint,
    }
}

/// The kinds of event files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    Csv,
    Ndjson,
    Parquet,
}

impl Format {
    /// How messages name it.
    pub(super) fn name(self) -> &'static str {
        match self {
            Format::Csv => "CSV",
            Format::Ndjson => "NDJSON",
            Format::Parquet => "Parquet",
        }
    }
}

/// The format a file's name says.
pub(super) fn format_of(path: &Path) -> Option<Format> {
    let name = path.to_string_lossy().to_lowercase();
    if name.ends_with(".parquet") || name.ends_with(".pq") {
        Some(Format::Parquet)
    } else if is_csv(path) {
        Some(Format::Csv)
    } else if is_ndjson(path) {
        Some(Format::Ndjson)
    } else {
        None
    }
}

/// What a file holds, by its name or else by its first bytes (an export's files are not
/// always named for their format: Segment's S3 logs are `….gz` files of NDJSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Content {
    Events(Format),
    /// Tab-separated text without a telling name (a headerless Snowplow file).
    Tsv,
    Zip,
}

pub(super) fn content_of(path: &Path) -> Result<Option<Content>> {
    if let Some(f) = format_of(path) {
        return Ok(Some(Content::Events(f)));
    }
    if is_zip(path) {
        return Ok(Some(Content::Zip));
    }
    let mut head = [0u8; 4];
    let n = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .map_err(|e| Error::read(path, e))?;
    match &head[..n] {
        [b'P', b'A', b'R', b'1'] => return Ok(Some(Content::Events(Format::Parquet))),
        [b'P', b'K', 3, 4] => return Ok(Some(Content::Zip)),
        // Avro's binary could pass for tab-separated text: named, not misread.
        [b'O', b'b', b'j', 1] => return Err(Error::Avro { path: path.into() }),
        _ => {}
    }
    // The first line of the text (gzip or plain).
    let mut text = Vec::with_capacity(8192);
    let reader = super::blocks::open_bytes(path)?;
    // A file that is not valid gzip past its magic bytes is simply not recognised.
    let _ = std::io::Read::read_to_end(&mut std::io::Read::take(reader, 64 * 1024), &mut text);
    let line = text.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let first = line.iter().find(|b| !b.is_ascii_whitespace());
    // A JSON object per line: the first line one whole object (or longer than was read).
    // A JSON document over several lines (Redshift's unload manifest) is none.
    let object = |line: &[u8]| {
        line.len() == text.len()
            || serde_json::from_slice::<serde_json::Value>(line).is_ok_and(|v| v.is_object())
    };
    Ok(if first == Some(&b'{') && object(line) {
        Some(Content::Events(Format::Ndjson))
    } else if memchr::memchr_iter(b'\t', line).count() >= 8 {
        Some(Content::Tsv)
    } else if is_delimited_text(&text) {
        Some(Content::Events(Format::Csv))
    } else {
        None
    })
}

/// Whether the start of a file reads as delimited text (a warehouse's unload, Redshift's
/// `0000_part_00`, named for no format): text without NUL bytes whose first line, and
/// second if there is one, hold two or more of one common separator (a part of one row
/// too; a stray separator in a row does not hide its file).
fn is_delimited_text(text: &[u8]) -> bool {
    if text.contains(&0) {
        return false;
    }
    let mut lines = text.split(|&b| b == b'\n').filter(|l| !l.is_empty());
    let Some(first) = lines.next() else {
        return false;
    };
    let second = lines.next();
    let count = |line: &[u8], sep: u8| memchr::memchr_iter(sep, line).count();
    [b',', b'|', b';', b'\t']
        .into_iter()
        .any(|sep| count(first, sep) >= 2 && second.is_none_or(|s| count(s, sep) >= 2))
}

/// The files an input path names, each with what it holds: the file itself, every event
/// file under a folder (recursively, as hive partitions are laid out; names starting with
/// `.` or `_`, such as `_SUCCESS`, are skipped, and so are files of no known content; a
/// Delta Lake table's folder gives the files its log says are live), or the files a glob
/// matches; sorted by path. A file named on its own or by a glob must be
/// of a known format.
pub(super) fn input_files(path: &Path) -> Result<Vec<(PathBuf, Content)>> {
    listed_files(path, true)
}

/// [`input_files`], saying the files skipped when `say_skipped` (the read does; a look at
/// the input's size first does not, or the warning would come twice).
pub(super) fn listed_files(path: &Path, say_skipped: bool) -> Result<Vec<(PathBuf, Content)>> {
    let text = path.to_string_lossy();
    let mut files = Vec::new();
    if text.contains(['*', '?', '[']) {
        let paths = glob::glob(&text).map_err(|e| Error::BadInputSet {
            path: path.into(),
            problem: InputSetProblem::BadGlob {
                message: e.to_string(),
            },
        })?;
        for p in paths.filter_map(|p| p.ok()).filter(|p| p.is_file()) {
            files.push(known(p)?);
        }
        if files.is_empty() {
            return Err(Error::BadInputSet {
                path: path.into(),
                problem: InputSetProblem::NoMatch,
            });
        }
    } else if path.is_dir() {
        let mut skipped: Vec<PathBuf> = Vec::new();
        let mut stack = vec![path.to_path_buf()];
        while let Some(dir) = stack.pop() {
            // A Delta Lake table is the files its log says are live, not every file on
            // disk (replaced files stay until a VACUUM).
            if super::delta::is_table(&dir) {
                for f in super::delta::live_files(&dir)? {
                    files.push(known(f)?);
                }
                continue;
            }
            for entry in std::fs::read_dir(&dir).map_err(|e| Error::read(&dir, e))? {
                let p = entry.map_err(|e| Error::read(&dir, e))?.path();
                let hidden = p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(['.', '_']));
                if hidden {
                    continue;
                }
                if p.is_dir() {
                    stack.push(p);
                } else if let Some(c) = content_of(&p)? {
                    files.push((p, c));
                } else {
                    skipped.push(p);
                }
            }
        }
        // Not silent: a data file the sniffing misread would be rows lost.
        let first = skipped.iter().min_by(|a, b| natural_order(a, b));
        if let Some(example) = first.filter(|_| say_skipped) {
            tracing::warn!(
                "{}: {} of no format churnrisk reads skipped, e.g. {} (name a data file for its format: .csv, .tsv, .ndjson, .parquet, with .gz when gzipped)",
                path.display(),
                if skipped.len() == 1 { "1 file".to_string() } else { format!("{} files", skipped.len()) },
                example.display()
            );
        }
        if files.is_empty() {
            return Err(Error::BadInputSet {
                path: path.into(),
                problem: InputSetProblem::NoEventFile,
            });
        }
    } else if path.is_file() {
        files.push(known(path.to_path_buf())?);
    } else {
        return Err(Error::MissingFile { path: path.into() });
    }
    files.sort_by(|a, b| natural_order(&a.0, &b.0));
    Ok(files)
}

/// `path` with its content, which must be known.
fn known(path: PathBuf) -> Result<(PathBuf, Content)> {
    match content_of(&path)? {
        Some(c) => Ok((path, c)),
        None => Err(Error::UnknownFormat { path }),
    }
}

/// Paths in the order a person reads them: runs of digits compare as numbers, so an
/// export's hour `_8` comes before `_14` (and the earlier copy of a retried event is the
/// one kept).
pub(super) fn natural_order(a: &Path, b: &Path) -> std::cmp::Ordering {
    let (a, b) = (a.to_string_lossy(), b.to_string_lossy());
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let da = a.iter().take_while(|c| c.is_ascii_digit()).count();
                let db = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let (na, nb) = (&a[..da], &b[..db]);
                let strip = |n: &'_ [u8]| -> usize { n.iter().take_while(|&&c| c == b'0').count() };
                let (ta, tb) = (&na[strip(na)..], &nb[strip(nb)..]);
                let order = ta.len().cmp(&tb.len()).then(ta.cmp(tb)).then(da.cmp(&db));
                if order != std::cmp::Ordering::Equal {
                    return order;
                }
                (a, b) = (&a[da..], &b[db..]);
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                (a, b) = (&a[1..], &b[1..]);
            }
        }
    }
}

/// Bits of [`LINE`] holding the line within a file when a log has several files: the
/// file's index is above them.
pub(super) const FILE_SHIFT: u32 = 40;

/// Where a row's [`LINE`] value points: the file (of a multi-file text input) and line.
#[derive(Debug, Clone, Copy)]
pub(super) struct Origin<'a> {
    pub(super) path: &'a Path,
    pub(super) files: &'a [PathBuf],
}

impl<'a> Origin<'a> {
    pub(super) fn single(path: &'a Path) -> Self {
        Origin { path, files: &[] }
    }

    pub(super) fn locate(&self, line: i64) -> (&'a Path, u64) {
        let line = line.max(0) as u64;
        if self.files.len() < 2 {
            return (self.path, line);
        }
        let file = (line >> FILE_SHIFT) as usize;
        match self.files.get(file) {
            Some(f) => (f.as_path(), line & ((1 << FILE_SHIFT) - 1)),
            None => (self.path, line),
        }
    }
}

/// Opens an event log as a lazy frame of its own columns plus [`LINE`]: text files go
/// through the checked readers (every file of a folder or glob, stacked), Parquet is
/// scanned lazily with its own types (a folder or glob as one dataset, hive partitions
/// read as columns). Returns the files read by their names in messages (an archive's
/// entries as `archive.zip:entry`), and the files the input names (archives whole).
#[allow(clippy::type_complexity)]
pub(super) fn open_events(
    path: &Path,
    wanted: &[&str],
    required: &[&str],
    policy: &ReadPolicy,
    rejects: &mut Rejects,
) -> Result<(Rows, Schema, Format, Vec<PathBuf>, Vec<PathBuf>)> {
    let listed = input_files(path)?;
    // Archives are unpacked (kept until the files are read) and stand for their files.
    let (files, unpacked) = unpack_archives(&listed)?;
    let sources: Vec<PathBuf> = listed.into_iter().map(|(f, _)| f).collect();
    let format = one_format(path, &files)?;
    // One file must hold rows; in a set of files, one without (an hour without events)
    // is skipped and noted.
    let several = files.len() > 1;
    for (f, shown, _) in &files {
        let meta = std::fs::metadata(f).map_err(|e| Error::read(f, e))?;
        if meta.len() == 0 && !several {
            return Err(Error::EmptyInput {
                path: shown.clone(),
            });
        }
    }
    let shown: Vec<PathBuf> = files.iter().map(|(_, s, _)| s.clone()).collect();
    if format == Format::Parquet && !unpacked.is_empty() {
        return Err(Error::BadInputSet {
            path: path.into(),
            problem: InputSetProblem::ParquetInZip,
        });
    }
    if format == Format::Parquet {
        let paths: Vec<PathBuf> = files.iter().map(|(f, _, _)| f.clone()).collect();
        let set = guarded(path, || {
            Dataset::open(path, &paths).map(|s| s.with_aliases(wanted).with_json_fields(wanted))
        })?;
        let schema = set.schema().clone();
        // Row numbers as polars' index type: see `lines_of`.
        return Ok((Rows::Parquet(set), schema, format, shown, sources));
    }
    let read = TextRead {
        format,
        wanted,
        required,
        policy,
        several,
    };
    // Files side by side (an hourly export's thousands of small ones cost more to open
    // than to parse), on plain threads: a file's own parse runs on rayon, and rayon jobs
    // waiting on it would stack other files' jobs on top (a stack overflow at 9,280
    // files). Frames and rejects are kept in file order; the first error in that order is
    // the one reported, as when read one by one.
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(files.len())
        .max(1);
    let share = |w: usize| {
        (w..files.len())
            .step_by(workers)
            .map(|i| {
                let mut own = Rejects::default();
                (i, read.file(i, &files[i], &mut own).map(|df| (df, own)))
            })
            .collect::<Vec<_>>()
    };
    let mut read_each: Vec<(usize, Result<(Option<DataFrame>, Rejects)>)> = if workers == 1 {
        share(0)
    } else {
        std::thread::scope(|scope| {
            let handles = (0..workers)
                .map(|w| {
                    // The main thread's stack size: a file's parse needs no more there.
                    std::thread::Builder::new()
                        .name("churnrisk-file".into())
                        .stack_size(8 << 20)
                        .spawn_scoped(scope, move || share(w))
                        .map_err(|e| Error::read(path, e))
                })
                .collect::<Result<Vec<_>>>()?;
            Ok::<_, Error>(
                handles
                    .into_iter()
                    // A panic goes on as it would have on one thread.
                    .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                    .collect(),
            )
        })?
    };
    read_each.sort_by_key(|(i, _)| *i);
    let mut frames = Vec::with_capacity(files.len());
    for (_, each) in read_each {
        let (df, own) = each?;
        rejects.append(own);
        frames.extend(df);
    }
    let mut df = stack(path, frames, wanted)?;
    // One chunk per column: the checks and the de-duplication after run on it.
    df.rechunk_mut_par();
    let schema = df.schema().as_ref().clone();
    Ok((Rows::Frame(df), schema, format, shown, sources))
}

/// A file of an event input: the file to read, its name in messages (an archive's entry
/// as `archive.zip:entry`), and how it is read.
type EventFile = (PathBuf, PathBuf, Content);

/// The input's files with every archive replaced by its event files, and the unpacked
/// archives (their folders go when these are dropped).
fn unpack_archives(listed: &[(PathBuf, Content)]) -> Result<(Vec<EventFile>, Vec<Unpacked>)> {
    let mut unpacked = Vec::new();
    let mut files: Vec<EventFile> = Vec::new();
    for (f, content) in listed.iter().cloned() {
        match content {
            Content::Zip => {
                let u = super::archive::unpack(&f)?;
                let before = files.len();
                for (at, shown) in &u.entries {
                    match content_of(at)? {
                        Some(Content::Zip) | None => {}
                        Some(c) => files.push((at.clone(), shown.clone(), c)),
                    }
                }
                if files.len() == before {
                    return Err(Error::BadInputSet {
                        path: f.clone(),
                        problem: InputSetProblem::EmptyArchive,
                    });
                }
                unpacked.push(u);
            }
            c => files.push((f.clone(), f, c)),
        }
    }
    Ok((files, unpacked))
}

fn format_of_content(c: &Content) -> Format {
    match c {
        Content::Events(f) => *f,
        Content::Tsv | Content::Zip => Format::Csv,
    }
}

/// The one format of the input's files: several are refused, naming one file of each.
fn one_format(path: &Path, files: &[EventFile]) -> Result<Format> {
    let mut formats: BTreeMap<String, &Path> = BTreeMap::new();
    for (_, shown, c) in files {
        formats
            .entry(format_of_content(c).name().to_string())
            .or_insert(shown);
    }
    if formats.len() > 1 {
        let formats = formats
            .into_iter()
            .map(|(f, p)| (f, p.to_path_buf()))
            .collect();
        return Err(Error::BadInputSet {
            path: path.into(),
            problem: InputSetProblem::MixedFormats { formats },
        });
    }
    match files.first() {
        Some((_, _, c)) => Ok(format_of_content(c)),
        None => Err(Error::EmptyInput { path: path.into() }),
    }
}

/// How the text files of one input are read.
struct TextRead<'a> {
    format: Format,
    wanted: &'a [&'a str],
    required: &'a [&'a str],
    policy: &'a ReadPolicy,
    /// The input has several files: an empty one is noted and skipped, not refused.
    several: bool,
}

impl TextRead<'_> {
    /// The checked rows of the input's `i`-th file, its rejects added to `rejects`, its
    /// lines numbered within the input ([`FILE_SHIFT`]); `None` for an empty file of
    /// several.
    fn file(&self, i: usize, file: &EventFile, rejects: &mut Rejects) -> Result<Option<DataFrame>> {
        let (f, name, content) = file;
        if self.several && std::fs::metadata(f).map(|m| m.len() == 0).unwrap_or(false) {
            // 0 bytes (not even a gzip header): an hour without events.
            rejects.finding(name, Finding::NoRows, 1);
            return Ok(None);
        }
        let mut read = Rejects::default();
        let tsv = *content == Content::Tsv || is_tsv(name);
        let delimiter = self.policy.events_delimiter_for(tsv);
        let read_policy = ReadPolicy {
            delimiter,
            header: self.policy.events_header.clone(),
            ..self.policy.clone()
        };
        let df = match self.format {
            Format::Csv => read_csv_checked(f, self.wanted, self.required, &read_policy, &mut read),
            _ => read_ndjson_checked(f, self.wanted, self.policy, &mut read),
        };
        let df = match df {
            Err(Error::EmptyInput { .. }) if self.several => {
                rejects.finding(name, Finding::NoRows, 1);
                return Ok(None);
            }
            df => df,
        };
        // A file unpacked from an archive is named as the archive's entry.
        let mut df = df.map_err(|e| match f != name {
            true => Error::BadInputSet {
                path: name.clone(),
                problem: InputSetProblem::InArchive {
                    message: e.to_string().replace(&format!("{}: ", f.display()), ""),
                    source: Box::new(e),
                },
            },
            false => e,
        })?;
        if f != name {
            read.rename_file(f, name);
        }
        rejects.append(read);
        if self.several {
            let lines = df.column(LINE)?.i64()? + ((i as i64) << FILE_SHIFT);
            df.with_column(lines.with_name(LINE.into()).into_column())?;
        }
        Ok(Some(df))
    }
}

/// The files' rows as one frame: every frame gets the union of the wanted columns the
/// files have, nulls where one lacks it. No frame at all is an empty input.
fn stack(path: &Path, frames: Vec<DataFrame>, wanted: &[&str]) -> Result<DataFrame> {
    let names: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|w| frames.iter().any(|df| df.schema().contains(w)))
        .chain([LINE])
        .collect();
    let mut stacked: Option<DataFrame> = None;
    for df in frames {
        let height = df.height();
        let columns = names
            .iter()
            .map(|n| match df.column(n) {
                Ok(c) => Ok(c.clone()),
                Err(_) => Ok(Column::full_null((*n).into(), height, &DataType::String)),
            })
            .collect::<PolarsResult<Vec<_>>>()?;
        let df = DataFrame::new(height, columns)?;
        stacked = Some(match stacked {
            None => df,
            Some(mut acc) => {
                acc.vstack_mut(&df)?;
                acc
            }
        });
    }
    stacked.ok_or_else(|| Error::EmptyInput { path: path.into() })
}

/// An event input's rows: text files already read and checked, or a Parquet dataset
/// read when a query runs over it.
pub(super) enum Rows {
    Frame(DataFrame),
    Parquet(Dataset),
}

impl Rows {
    /// Runs `query` over the rows: a Parquet dataset batch by batch, reading only
    /// `columns` (and numbering its rows in [`LINE`]), under [`guarded`] as named `path`.
    pub(super) fn collect(
        &self,
        path: &Path,
        columns: &[&str],
        query: impl Fn(LazyFrame) -> LazyFrame,
    ) -> Result<DataFrame> {
        match self {
            Rows::Frame(df) => Ok(query(df.clone().lazy()).collect()?),
            Rows::Parquet(set) => guarded(path, || set.collect(columns, LINE, query)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_sort_as_people_read_them() {
        let mut names: Vec<PathBuf> = [
            "p_2026-07-01_14#0.json.gz",
            "p_2026-07-01_8#1.json.gz",
            "p_2026-07-01_8#0.json.gz",
            "p_2026-07-01_08#0.json.gz",
            "p_2026-07-02_0#0.json.gz",
            "a.json",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        names.sort_by(|a, b| natural_order(a, b));
        let got: Vec<String> = names.iter().map(|p| p.display().to_string()).collect();
        assert_eq!(
            got,
            [
                "a.json",
                "p_2026-07-01_8#0.json.gz",
                "p_2026-07-01_8#1.json.gz",
                // Equal numbers: the shorter spelling first.
                "p_2026-07-01_08#0.json.gz",
                "p_2026-07-01_14#0.json.gz",
                "p_2026-07-02_0#0.json.gz",
            ]
        );
    }

    #[test]
    fn formats_are_known_by_content_when_the_name_does_not_say() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, bytes: &[u8]| {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        };
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, b"{\"type\": \"track\"}\n").unwrap();
        let segment = write("1783296000000.a1b2.gz", &gz.finish().unwrap());
        assert_eq!(
            content_of(&segment).unwrap(),
            Some(Content::Events(Format::Ndjson))
        );
        let tsv = write("part-0000", "a\tb\tc\td\te\tf\tg\th\ti\tj\n".as_bytes());
        assert_eq!(content_of(&tsv).unwrap(), Some(Content::Tsv));
        let zip = write("export", b"PK\x03\x04rest");
        assert_eq!(content_of(&zip).unwrap(), Some(Content::Zip));
        let parquet = write("data", b"PAR1....");
        assert_eq!(
            content_of(&parquet).unwrap(),
            Some(Content::Events(Format::Parquet))
        );
        assert_eq!(content_of(&write("notes.txt", b"hello\n")).unwrap(), None);
        // Redshift's UNLOAD parts: pipe-delimited text, gzipped or not, named for no format.
        let part = b"e1|a-1|u-1|page|2026-07-01 10:00:00+00\ne2|a-2||page|2026-07-01 11:00:00+00\n";
        assert_eq!(
            content_of(&write("0000_part_00", part)).unwrap(),
            Some(Content::Events(Format::Csv))
        );
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, part).unwrap();
        assert_eq!(
            content_of(&write("0001_part_00.gz", &gz.finish().unwrap())).unwrap(),
            Some(Content::Events(Format::Csv))
        );
        // A part of one row, or whose first row holds a stray separator, is a table.
        assert_eq!(
            content_of(&write("0002_part_00", b"e9|a-9|u-9|page|2026-07-01\n")).unwrap(),
            Some(Content::Events(Format::Csv))
        );
        assert_eq!(
            content_of(&write(
                "0003_part_00",
                b"e1|a|u|Home | Pricing|t\ne2|a|u|x|t\n"
            ))
            .unwrap(),
            Some(Content::Events(Format::Csv))
        );
        // Prose is not; nor is a JSON document over several lines (a Redshift manifest).
        assert_eq!(
            content_of(&write("prose", b"Hello, world, again.\nBye, then.\n")).unwrap(),
            None
        );
        let manifest = b"{\n  \"entries\": [\n    {\"url\": \"s3://b/0000_part_00\"}\n  ]\n}\n";
        assert_eq!(content_of(&write("manifest", manifest)).unwrap(), None);
        // Heap Connect's sync: Avro, with tabs in its binary before any line end.
        let avro = write(
            "part-00000-c000.avro",
            b"Obj\x01\x04\x14avro.codec\t\t\t\t\t\t\t\t\t",
        );
        let err = content_of(&avro).unwrap_err().to_string();
        assert!(
            err.contains("an Avro file, which churnrisk does not read"),
            "{err}"
        );
        assert_eq!(content_of(&write("empty", b"")).unwrap(), None);
        assert_eq!(
            content_of(&write("x.tsv.gz", b"")).unwrap(),
            Some(Content::Events(Format::Csv))
        );
    }
}
