//! Rows that break the input contract: what is wrong with them, how many, and where.
//!
//! Loading never stops at the first bad row. Each bad row is set aside with its class,
//! its source line and its text; the run then decides ([`Rejects::enforce`]) whether what
//! is left is trustworthy: any loss fails a strict run, and a loss above the configured
//! fraction of a file fails every run. Duplicates are set aside too, but do not count as
//! loss (the first copy is kept), and neither do the file-level findings (a byte-order
//! mark, CRLF line ends), which are read correctly and only reported.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;

use crate::error::{Error, FirstReject, RejectLimit, Result};

/// At most this many rejected rows are kept in memory and written to the reject file;
/// the counts go on.
pub const MAX_KEPT: usize = 100_000;

/// Of the kept rows, at most this many are duplicates (examples of them): the rows whose
/// information is lost are never crowded out. A Delta table read as loose files once set
/// 566,227 copies aside, and the users table's bad rows behind the failed night were not
/// in a 19 MB reject file of duplicates.
pub const MAX_DUPLICATES_KEPT: usize = 10_000;

/// How input is read and what counts as a bad row.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadPolicy {
    /// Field separator of CSV inputs (default `,`); `None` picks, per file, the common
    /// separator (`,` `;` tab `|`) that splits its header into the most fields.
    pub delimiter: Option<u8>,
    /// The event log's own separator when set (`Some(None)`: picked per file as above);
    /// unset, a `.tsv` file (or a headerless tab-separated one) is read with tabs and any
    /// other with [`ReadPolicy::delimiter`], which the users and subscriptions tables use.
    pub events_delimiter: Option<Option<u8>>,
    /// The event log's column names when its CSV files have no header row.
    pub events_header: Option<Vec<String>>,
    /// The column names of the CSV file being read when it has no header row (the event
    /// log's reader sets it from [`ReadPolicy::events_header`]; tables have headers).
    pub header: Option<Vec<String>>,
    /// A field longer than this many bytes makes its row a reject (default 65,536).
    pub max_field_bytes: usize,
    /// When set, events with any other name are rejected as `unknown_event`.
    pub known_events: Option<BTreeSet<String>>,
    /// The run's wall clock (epoch ms): later timestamps are rejected as `future_timestamp`
    /// (with [`ReadPolicy::clock_skew_ms`] of tolerance).
    pub now_ms: i64,
    /// Tolerated clock skew of event sources (default 1 hour).
    pub clock_skew_ms: i64,
    /// Fail on any rejected row that counts as loss (default off).
    pub strict: bool,
    /// Fail when a file loses more than this share of its rows (default 0.01).
    pub max_reject_fraction: f64,
}

impl ReadPolicy {
    /// The delimiter of an event log's text file, tab-separated (`tsv`) or not:
    /// [`ReadPolicy::events_delimiter`] when set, else tab or the tables' delimiter.
    pub fn events_delimiter_for(&self, tsv: bool) -> Option<u8> {
        match self.events_delimiter {
            Some(d) => d,
            None if tsv => Some(b'\t'),
            None => self.delimiter,
        }
    }

    /// Defaults, with `now_ms` as the clock.
    pub fn new(now_ms: i64) -> Self {
        ReadPolicy {
            delimiter: Some(b','),
            events_delimiter: None,
            events_header: None,
            header: None,
            max_field_bytes: 65_536,
            known_events: None,
            now_ms,
            clock_skew_ms: 3_600_000,
            strict: false,
            max_reject_fraction: 0.01,
        }
    }
}

/// Why a row was set aside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectClass {
    /// The row has a different number of fields than the header (or an unclosed quote).
    MalformedRow,
    /// A field is longer than the configured limit.
    OversizedField,
    /// A field is not valid UTF-8.
    InvalidUtf8,
    /// A required value (user id, event name, timestamp) is empty.
    MissingValue,
    /// The timestamp is not ISO-8601 or epoch seconds/milliseconds.
    UnparseableTimestamp,
    /// The timestamp is later than the run's clock.
    FutureTimestamp,
    /// The timestamp is before 1970-01-01.
    Before1970,
    /// `value` is present but not a number.
    UnparseableValue,
    /// The event name is not in the configured list of known events.
    UnknownEvent,
    /// A subscription that ends before it starts.
    EndBeforeStart,
    /// An exact copy of an earlier row (the first copy is kept).
    DuplicateEvent,
    /// Same `event_id` as an earlier row (the first is kept).
    DuplicateEventId,
    /// A second row for a user id in the users table, a copy of the first (which is kept).
    DuplicateUser,
    /// A second row for a user id in the users table whose other cells (email, CRM id,
    /// account, plan, signup) differ from the first, which is kept: the row's are lost.
    ConflictingUser,
}

impl RejectClass {
    /// The name used in the reject file, the manifest and messages.
    pub fn name(self) -> &'static str {
        match self {
            RejectClass::MalformedRow => "malformed_row",
            RejectClass::OversizedField => "oversized_field",
            RejectClass::InvalidUtf8 => "invalid_utf8",
            RejectClass::MissingValue => "missing_value",
            RejectClass::UnparseableTimestamp => "unparseable_timestamp",
            RejectClass::FutureTimestamp => "future_timestamp",
            RejectClass::Before1970 => "before_1970",
            RejectClass::UnparseableValue => "unparseable_value",
            RejectClass::UnknownEvent => "unknown_event",
            RejectClass::EndBeforeStart => "end_before_start",
            RejectClass::DuplicateEvent => "duplicate_event",
            RejectClass::DuplicateEventId => "duplicate_event_id",
            RejectClass::DuplicateUser => "duplicate_user",
            RejectClass::ConflictingUser => "conflicting_user",
        }
    }

    /// Whether setting the row aside loses information (duplicates do not).
    pub fn is_loss(self) -> bool {
        !matches!(
            self,
            RejectClass::DuplicateEvent
                | RejectClass::DuplicateEventId
                | RejectClass::DuplicateUser
        )
    }
}

/// A file-level observation that loses nothing: the file is read correctly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Finding {
    /// The file starts with a UTF-8 byte-order mark (removed before reading the header).
    ByteOrderMark,
    /// Lines end in CR LF (Windows); the count is the number of such line ends.
    CrlfLineEnds,
    /// A file of a folder, glob or archive holds no rows (an hour without events): skipped.
    NoRows,
    /// The file's last row stops short without a line end (a malformed_row reject): an
    /// upload or copy cut short, whose missing rows nothing else would show.
    CutShort,
}

/// One rejected row.
#[derive(Debug, Clone, PartialEq)]
pub struct Reject {
    pub file: String,
    /// Line of the source file where the row starts (1 = the header); for Parquet, the
    /// row number (1 = first row).
    pub line: u64,
    pub class: RejectClass,
    pub detail: String,
    /// The row's text (CSV fields re-joined with the delimiter), shortened to 1,000 bytes.
    pub raw: String,
}

/// What one input file yielded.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FileTally {
    /// Data rows read, rejected ones included.
    pub rows_read: u64,
    /// Rows set aside, by class.
    pub rejected: BTreeMap<RejectClass, u64>,
    /// File-level findings with their counts.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub findings: BTreeMap<Finding, u64>,
}

impl FileTally {
    /// Rows set aside, all classes.
    pub fn total(&self) -> u64 {
        self.rejected.values().sum()
    }

    /// Rows lost (duplicates excluded).
    pub fn lost(&self) -> u64 {
        self.rejected
            .iter()
            .filter(|(c, _)| c.is_loss())
            .map(|(_, n)| n)
            .sum()
    }
}

/// Rejects and findings of every file a run read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rejects {
    pub files: BTreeMap<String, FileTally>,
    /// The first [`MAX_KEPT`] rejected rows (of them at most [`MAX_DUPLICATES_KEPT`]
    /// duplicates), in the order found.
    pub rows: Vec<Reject>,
    /// How many of `rows` are duplicates.
    kept_duplicates: usize,
}

/// The manifest's view of the rejects.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RejectSummary {
    /// Rows set aside, all files and classes.
    pub total: u64,
    /// Of those, rows whose information is lost (duplicates excluded).
    pub lost: u64,
    /// Per input file.
    pub files: BTreeMap<String, FileTally>,
    /// The reject file, when one was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reject_file: Option<String>,
    /// True when more rows were rejected than the reject file holds.
    pub truncated: bool,
}

impl Rejects {
    /// Records one rejected row of `file`.
    pub fn add(&mut self, file: &Path, line: u64, class: RejectClass, detail: String, raw: &str) {
        self.add_lines(file, line, class, detail, raw, 1);
    }

    /// Records a rejected record that spans `lines` source lines (an unclosed quote can
    /// swallow the rest of a file): each line counts as a lost row.
    pub fn add_lines(
        &mut self,
        file: &Path,
        line: u64,
        class: RejectClass,
        detail: String,
        raw: &str,
        lines: u64,
    ) {
        let name = file.display().to_string();
        *self
            .files
            .entry(name.clone())
            .or_default()
            .rejected
            .entry(class)
            .or_default() += lines;
        if self.has_room(class) {
            self.keep(Reject {
                file: name,
                line,
                class,
                detail,
                raw: shorten(raw, 1000),
            });
        }
    }

    fn keep(&mut self, row: Reject) {
        self.kept_duplicates += usize::from(!row.class.is_loss());
        self.rows.push(row);
    }

    /// Whether a row of `class` is still kept ([`MAX_KEPT`], [`MAX_DUPLICATES_KEPT`]).
    fn has_room(&self, class: RejectClass) -> bool {
        self.rows.len() < MAX_KEPT
            && (class.is_loss() || self.kept_duplicates < MAX_DUPLICATES_KEPT)
    }

    /// Takes in the rejects of files read on another thread, as if they had been
    /// recorded after this one's: their rows follow (within the kept number), tallies add.
    pub fn append(&mut self, later: Rejects) {
        for (name, tally) in later.files {
            let t = self.files.entry(name).or_default();
            if tally.rows_read != 0 {
                t.rows_read = tally.rows_read;
            }
            for (class, n) in tally.rejected {
                *t.rejected.entry(class).or_default() += n;
            }
            for (finding, n) in tally.findings {
                *t.findings.entry(finding).or_default() += n;
            }
        }
        for row in later.rows {
            if self.has_room(row.class) {
                self.keep(row);
            }
        }
    }

    /// Names `from`'s rows and tally as `to`'s (a file unpacked from an archive is
    /// reported as the archive's entry).
    pub fn rename_file(&mut self, from: &Path, to: &Path) {
        let (from, to) = (from.display().to_string(), to.display().to_string());
        if let Some(t) = self.files.remove(&from) {
            self.files.insert(to.clone(), t);
        }
        for r in self.rows.iter_mut().filter(|r| r.file == from) {
            r.file = to.clone();
        }
    }

    /// Records how many data rows `file` had.
    pub fn rows_read(&mut self, file: &Path, rows: u64) {
        self.files
            .entry(file.display().to_string())
            .or_default()
            .rows_read = rows;
    }

    /// Records a file-level finding.
    pub fn finding(&mut self, file: &Path, finding: Finding, count: u64) {
        *self
            .files
            .entry(file.display().to_string())
            .or_default()
            .findings
            .entry(finding)
            .or_default() += count;
    }

    /// Rows set aside in all files.
    pub fn total(&self) -> u64 {
        self.files.values().map(FileTally::total).sum()
    }

    /// The summary for the manifest.
    pub fn summary(&self, reject_file: Option<&Path>) -> RejectSummary {
        let total = self.total();
        RejectSummary {
            total,
            lost: self.files.values().map(FileTally::lost).sum(),
            files: self.files.clone(),
            reject_file: reject_file.map(|p| p.display().to_string()),
            truncated: total > self.rows.len() as u64,
        }
    }

    /// Rows set aside by class over every file (`"3 unparseable_timestamp"`), for messages.
    pub fn class_counts(&self) -> Vec<String> {
        let mut by_class: BTreeMap<RejectClass, u64> = BTreeMap::new();
        for t in self.files.values() {
            for (c, n) in &t.rejected {
                *by_class.entry(*c).or_default() += n;
            }
        }
        by_class
            .iter()
            .map(|(c, n)| format!("{n} {}", c.name()))
            .collect()
    }

    /// Lines for the log, each with whether it needs action (rows were lost): those are
    /// warnings; duplicates set aside and file findings (CR LF line ends, a byte-order
    /// mark) are information. One line per file, or one for all when many files have
    /// something to say (an hourly export would otherwise print a line per hour).
    pub fn describe(&self) -> Vec<(bool, String)> {
        const PER_FILE: usize = 3;
        let noted: Vec<(&String, &FileTally)> = self
            .files
            .iter()
            .filter(|(_, t)| t.total() > 0 || !t.findings.is_empty())
            .collect();
        let line = |f: &str, t: &FileTally| {
            let mut parts: Vec<String> = t
                .rejected
                .iter()
                .map(|(c, n)| format!("{n} {}", c.name()))
                .collect();
            parts.extend(t.findings.iter().map(|(k, n)| match k {
                Finding::ByteOrderMark if *n > 1 => format!("byte-order mark removed in {n} files"),
                Finding::ByteOrderMark => "byte-order mark removed".to_string(),
                Finding::CrlfLineEnds => format!("{n} CRLF line ends read as line ends"),
                Finding::NoRows if *n > 1 => format!("{n} files without rows skipped"),
                Finding::NoRows => "no rows: skipped".to_string(),
                Finding::CutShort => {
                    "its last row stops without a line end: the file may be cut short".to_string()
                }
            }));
            (
                t.lost() > 0,
                format!(
                    "{f}: {} of {} rows set aside ({})",
                    t.total(),
                    t.rows_read,
                    parts.join(", ")
                ),
            )
        };
        if noted.len() <= PER_FILE {
            return noted.into_iter().map(|(f, t)| line(f, t)).collect();
        }
        let mut all = FileTally::default();
        for t in self.files.values() {
            all.rows_read += t.rows_read;
            for (c, n) in &t.rejected {
                *all.rejected.entry(*c).or_default() += n;
            }
            for (k, n) in &t.findings {
                *all.findings.entry(*k).or_default() += match k {
                    Finding::ByteOrderMark | Finding::NoRows | Finding::CutShort => 1,
                    Finding::CrlfLineEnds => *n,
                };
            }
        }
        vec![line(&format!("{} files", self.files.len()), &all)]
    }

    /// Fails when a file lost rows in strict mode, or more than the allowed share.
    pub fn enforce(&self, policy: &ReadPolicy) -> Result<()> {
        for (file, t) in &self.files {
            let lost = t.lost();
            let share = lost as f64 / t.rows_read.max(1) as f64;
            let refused = if policy.strict && lost > 0 {
                Some(RejectLimit::Strict)
            } else if share > policy.max_reject_fraction {
                Some(RejectLimit::MaxShare(policy.max_reject_fraction))
            } else {
                None
            };
            if let Some(limit) = refused {
                let classes = t
                    .rejected
                    .iter()
                    .filter(|(c, _)| c.is_loss())
                    .map(|(c, n)| (c.name().to_string(), *n))
                    .collect();
                let first = self
                    .rows
                    .iter()
                    .filter(|r| &r.file == file && r.class.is_loss())
                    .min_by_key(|r| r.line)
                    .map(|r| {
                        Box::new(FirstReject {
                            line: r.line,
                            class: r.class.name().to_string(),
                            detail: r.detail.clone(),
                        })
                    });
                return Err(Error::Rejected {
                    file: file.to_string(),
                    rejected: lost,
                    rows_read: t.rows_read,
                    limit,
                    classes,
                    first,
                });
            }
        }
        Ok(())
    }

    /// Writes the reject file (`file,line,class,detail,raw`, by file and line), atomically;
    /// text cells that a spreadsheet would run as a formula are neutralized like the
    /// ranked list's.
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        use crate::base::csv_cells::{neutralize, write_table};
        let mut rows: Vec<&Reject> = self.rows.iter().collect();
        rows.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        write_table(
            path,
            &["file", "line", "class", "detail", "raw"],
            rows.into_iter().map(|r| {
                [
                    neutralize(&r.file),
                    r.line.to_string(),
                    r.class.name().to_string(),
                    neutralize(&r.detail),
                    neutralize(&r.raw),
                ]
            }),
        )
    }
}

/// At most `max` bytes of `s`, cut at a character boundary, with `…` when cut.
pub fn shorten(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appended_rejects_equal_the_same_rejects_recorded_in_turn() {
        let (e, u) = (Path::new("events.csv"), Path::new("users.csv"));
        let record_events = |r: &mut Rejects| {
            r.rows_read(e, 10);
            r.add(
                e,
                3,
                RejectClass::MissingValue,
                "`user_id` \"\": empty".into(),
                "x",
            );
            r.finding(e, Finding::CrlfLineEnds, 2);
        };
        let record_users = |r: &mut Rejects| {
            r.rows_read(u, 4);
            r.add(
                u,
                2,
                RejectClass::MissingValue,
                "`user_id` \"\": empty".into(),
                "y",
            );
            r.add(
                u,
                5,
                RejectClass::MissingValue,
                "`user_id` \"\": empty".into(),
                "z",
            );
        };
        let mut in_turn = Rejects::default();
        record_events(&mut in_turn);
        record_users(&mut in_turn);

        let mut appended = Rejects::default();
        record_events(&mut appended);
        let mut users = Rejects::default();
        record_users(&mut users);
        appended.append(users);
        assert_eq!(appended, in_turn);
        assert_eq!(
            appended.rows.iter().map(|r| r.line).collect::<Vec<_>>(),
            [3, 2, 5]
        );

        // The kept rows stop at MAX_KEPT; the tallies still count every row.
        let mut full = Rejects {
            rows: vec![appended.rows[0].clone(); MAX_KEPT - 1],
            ..Default::default()
        };
        let mut more = Rejects::default();
        record_users(&mut more);
        full.append(more);
        assert_eq!(full.rows.len(), MAX_KEPT);
        assert_eq!(full.rows[MAX_KEPT - 1].line, 2);
        assert_eq!(full.files["users.csv"].total(), 2);
    }

    #[test]
    fn duplicates_never_crowd_lost_rows_out_of_the_reject_file() {
        let n = MAX_DUPLICATES_KEPT as u64 + 5;
        let mut r = tally(n + 10, &[(RejectClass::DuplicateEvent, n)]);
        let mut later = tally(3, &[(RejectClass::MissingValue, 3)]);
        later.add(
            Path::new("e.csv"),
            9,
            RejectClass::DuplicateEvent,
            "copy".into(),
            "a",
        );
        r.append(later);
        let dup = r.rows.iter().filter(|x| !x.class.is_loss()).count();
        let lost = r.rows.iter().filter(|x| x.class.is_loss()).count();
        assert_eq!((dup, lost), (MAX_DUPLICATES_KEPT, 3));
        // The counts go on past what is kept.
        assert_eq!(
            r.files["e.csv"].rejected[&RejectClass::DuplicateEvent],
            n + 1
        );
    }

    fn tally(rows: u64, bad: &[(RejectClass, u64)]) -> Rejects {
        let mut r = Rejects::default();
        let p = Path::new("e.csv");
        r.rows_read(p, rows);
        for &(c, n) in bad {
            for i in 0..n {
                r.add(p, i + 2, c, "why".into(), "a,b");
            }
        }
        r
    }

    #[test]
    fn enforce_counts_loss_against_the_limit_and_ignores_duplicates() {
        let policy = ReadPolicy::new(0);
        assert!(tally(1000, &[(RejectClass::MalformedRow, 10)])
            .enforce(&policy)
            .is_ok());
        let err = tally(1000, &[(RejectClass::MalformedRow, 11)])
            .enforce(&policy)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("11 of 1000 rows rejected (1.1%; the limit is 1%, `[validation] max_reject_fraction`")
                && err.contains("first: line 2: malformed_row"),
            "{err}"
        );
        // Duplicates lose nothing: never refused, even in strict mode.
        let strict = ReadPolicy {
            strict: true,
            ..policy.clone()
        };
        assert!(tally(10, &[(RejectClass::DuplicateEvent, 5)])
            .enforce(&strict)
            .is_ok());
        assert!(tally(1000, &[(RejectClass::UnknownEvent, 1)])
            .enforce(&strict)
            .unwrap_err()
            .to_string()
            .contains("strict mode"));
    }

    #[test]
    fn a_refusal_carries_its_counts_limit_and_first_row() {
        let err = tally(1000, &[(RejectClass::MalformedRow, 11)])
            .enforce(&ReadPolicy::new(0))
            .unwrap_err();
        let Error::Rejected {
            file,
            rejected,
            rows_read,
            limit,
            classes,
            first,
        } = err
        else {
            panic!("{err}");
        };
        assert_eq!((file.as_str(), rejected, rows_read), ("e.csv", 11, 1000));
        assert_eq!(limit, RejectLimit::MaxShare(0.01));
        assert_eq!(classes, vec![("malformed_row".to_string(), 11)]);
        assert_eq!(first.map(|f| (f.line, f.detail)), Some((2, "why".into())));
    }

    #[test]
    fn reject_file_neutralizes_formulas_and_keeps_counts_past_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Rejects::default();
        r.add(
            Path::new("e.csv"),
            3,
            RejectClass::UnknownEvent,
            "event \"=cmd\"".into(),
            "=cmd,1",
        );
        let p = dir.path().join("rejects.csv");
        r.write_csv(&p).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(
            text,
            "file,line,class,detail,raw\r\ne.csv,3,unknown_event,\"event \"\"=cmd\"\"\",'=cmd,1\r\n"
                .replace("'=cmd,1", "\"'=cmd,1\"")
        );
        assert_eq!(r.summary(None).total, 1);
        assert!(!r.summary(None).truncated);
    }

    #[test]
    fn shorten_cuts_at_a_character_boundary() {
        assert_eq!(shorten("abc", 5), "abc");
        assert_eq!(shorten("ééé", 3), "é…");
    }
}
