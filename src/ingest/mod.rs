//! Files → canonical, checked frames: events, users, subscriptions.
//!
//! Everything downstream sees one schema and never re-checks it:
//! events are `user_id: str, ts: i64 (epoch ms, UTC), event: str, value: f64?, session_id: str`.
//! This stage reads and validates; it never filters by date (that is the features' and
//! labels' job) and never prints.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use polars::prelude::*;

use crate::error::{Error, Result};

mod archive;
pub mod billing;
pub mod blocks;
mod checks;
mod columns;
mod dedup;
mod delta;
mod events;
mod files;
pub mod group;
pub mod identity;
pub mod keys;
mod lines;
pub mod mapping;
pub mod ndjson;
mod parquet;
pub mod progress;
pub mod reader;
pub mod rejects;
pub mod shard;
mod tables;
pub mod timestamp;

pub use billing::SubscriptionColumns;
pub use blocks::LINE;
pub use events::{load_events, load_events_with, EventsRead};
pub use files::in_guarded_reader;
use files::{guarded, Format};
pub use group::Groups;
pub use identity::IdentitySummary;
pub use mapping::{ColumnMap, ColumnOverrides, Preset, TimestampUnit};
pub use rejects::{ReadPolicy, RejectClass, Rejects};
pub use shard::Shard;
pub use tables::{
    load_subscriptions, load_users, Cycle, Overlap, Renewals, UserColumns, RENEWAL_GAP_DAYS,
};
pub use timestamp::parse_timestamp_in;

/// The largest `value` magnitude read as an amount (larger ones are rejects).
pub const MAX_VALUE: f64 = 1e12;

/// A session ends after this long without an event when the log has no `session_id`.
pub const SESSION_GAP_MS: i64 = 30 * 60 * 1000;

/// A checked event log.
#[derive(Debug, Clone)]
pub struct Events {
    /// `user_id, ts, event, value, session_id`.
    pub df: DataFrame,
    /// The file the events came from.
    pub path: PathBuf,
    /// Earliest and latest event time (epoch ms).
    pub min_ts: i64,
    pub max_ts: i64,
    /// True when `session_id` was derived from the 30-minute inactivity rule.
    pub sessions_derived: bool,
    /// The rows of `df` grouped by user in time order (`None` for a frame made by hand;
    /// the features then group it themselves).
    pub groups: Option<Arc<Groups>>,
    /// The distinct event names of `df`, kept the first time they are asked for
    /// (`features::event_names`): a run asks twice, to check the feature file against
    /// the log and to number the events. Leave it empty when making a log by hand.
    pub names: OnceLock<BTreeSet<String>>,
    /// The files the input names (one for a single file; every file of a folder or glob;
    /// an archive as itself, not its entries).
    pub files: Vec<PathBuf>,
    /// Anonymous traffic, stitched visits and identity calls (all zero for the canonical
    /// layout, which has no anonymous id).
    pub identity: IdentitySummary,
}

impl Events {
    /// Number of events.
    pub fn rows(&self) -> usize {
        self.df.height()
    }

    /// Email user ids that are another id in other letter case ("Ann@x.io" beside
    /// "ann@x.io"): one person scored as several. Returns how many ids are such twins and
    /// the first pair (in id order), or `None`.
    pub fn case_twins(&self) -> Result<Option<(usize, String, String)>> {
        // The grouping holds each id once; a frame made by hand is read whole.
        let unique;
        let ids: Vec<&str> = match &self.groups {
            Some(g) => g.users.keys().map(String::as_str).collect(),
            None => {
                unique = self.df.column("user_id")?.str()?.unique()?;
                unique.iter().flatten().collect()
            }
        };
        let mut by_lower: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for id in ids.into_iter().filter(|id| id.contains('@')) {
            by_lower.entry(id.to_lowercase()).or_default().push(id);
        }
        let mut twins = 0;
        let mut first: Option<(String, String)> = None;
        for group in by_lower.values_mut().filter(|g| g.len() > 1) {
            group.sort_unstable();
            twins += group.len();
            if first.is_none() {
                first = Some((group[0].to_string(), group[1].to_string()));
            }
        }
        Ok(first.map(|(a, b)| (twins, a, b)))
    }

    /// Moves the rows and their grouping out, leaving this log's path and span without
    /// rows: for a caller that gives the rows to the features' index (which frees them
    /// as it reads them) and reads the log no more.
    pub fn take_rows(&mut self) -> Events {
        Events {
            df: std::mem::replace(&mut self.df, DataFrame::empty()),
            path: self.path.clone(),
            min_ts: self.min_ts,
            max_ts: self.max_ts,
            sessions_derived: self.sessions_derived,
            groups: self.groups.take(),
            names: self.names.clone(),
            files: self.files.clone(),
            identity: self.identity,
        }
    }
}

/// Optional per-user facts: signup time and CRM identifiers.
#[derive(Debug, Clone)]
pub struct Users {
    /// `user_id: str, signup_ts: i64?, email, crm_id, account, plan: str?`.
    pub df: DataFrame,
    /// How signup dates were read when not ISO-8601 (a CRM report's own order), to say.
    pub dates_read: Option<String>,
}

/// Optional subscriptions, as active periods: `user_id: str, start_ts: i64, end_ts: i64?`
/// (null = still running), sorted by user and start. A billing export's one row per period
/// (a monthly plan's row per month) is joined into one period while each row starts within
/// [`RENEWAL_GAP_DAYS`] of the end of the one before ([`Subscriptions::from_rows`]).
#[derive(Debug, Clone)]
pub struct Subscriptions {
    pub df: DataFrame,
    /// Rows the table held (after rows set aside), before renewals were joined.
    pub rows: usize,
    /// When each subscription renews next ([`Renewals::next_after`]).
    pub renewals: Renewals,
    /// Rows left out because their status says the subscription never started.
    pub never_started: usize,
    /// Optional cells that did not read (their rows are kept without them), per field.
    pub unread: Vec<Unread>,
    /// The table's column of each field (churnrisk's own names for a table made by hand).
    pub columns: billing::Resolved,
    /// The file the table was read from (empty for one built in memory).
    pub path: std::path::PathBuf,
    /// The latest date the table holds (a start, an end or a cancellation; epoch ms): a
    /// snapshot exported days before the night reads those who left since as running.
    pub latest_ts: Option<i64>,
}

/// Cells of an optional subscriptions field that hold something unreadable (a
/// `trial_end` that is not a date): their rows are read without the field.
#[derive(Debug, Clone, PartialEq)]
pub struct Unread {
    pub field: &'static str,
    /// The table's column for the field.
    pub column: String,
    pub rows: usize,
    /// The first such cell, as written.
    pub example: String,
}

/// The CRM columns carried from the users table to the ranked list, in output order.
pub const CRM_COLUMNS: [&str; 4] = ["email", "crm_id", "account", "plan"];

/// Whether `path` is a Parquet file (by its name or its first bytes).
pub fn is_parquet(path: &Path) -> bool {
    matches!(
        files::content_of(path),
        Ok(Some(files::Content::Events(Format::Parquet)))
    )
}

/// The rows of a Parquet file, from its footer.
pub fn parquet_rows(path: &Path) -> Result<usize> {
    let file = std::fs::File::open(path).map_err(|e| Error::read(path, e))?;
    guarded(path, || Ok(ParquetReader::new(file).num_rows()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> ReadPolicy {
        ReadPolicy::new(chrono::Utc::now().timestamp_millis())
    }

    fn events(p: &Path) -> Result<Events> {
        load_events(p, &policy(), &mut Rejects::default())
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn loads_csv_with_integer_ids_and_mixed_timestamps() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "e.csv",
            "user_id,timestamp,event\n7,2026-01-01T00:10:00Z,login\n7,1767226200,view\n8,2026-01-01 02:00:00,login\n",
        );
        let ev = events(&p).unwrap();
        assert_eq!(ev.rows(), 3);
        assert!(ev.sessions_derived);
        let ts = ev.df.column("ts").unwrap().i64().unwrap();
        assert_eq!(ts.get(0), Some(1_767_225_600_000 + 600_000));
        // 00:10 and 00:10 again are one session; user 8 has its own.
        let s: Vec<_> = ev
            .df
            .column("session_id")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .flatten()
            .map(String::from)
            .collect();
        assert_eq!(s, ["g1", "g1", "g1"]);
    }

    #[test]
    fn rejects_missing_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "e.csv",
            "user_id,time,event\n1,2026-01-01,login\n",
        );
        let err = events(&p).unwrap_err();
        assert!(
            matches!(err, Error::MissingColumn { ref column, .. } if column == "timestamp"),
            "{err}"
        );
    }

    #[test]
    fn sets_aside_bad_rows_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "e.csv",
            "user_id,timestamp,event,value,event_id\n\
             1,2026-01-01,login,,a\n\
             1,soon,login,,b\n\
             ,2026-01-01,login,,c\n\
             1,1960-01-01,login,,d\n\
             1,2099-01-01,login,,e\n\
             1,2026-01-02,purchase,ten,f\n\
             1,2026-01-02,purchase,10,g\n\
             1,2026-01-02,purchase,10,g\n\
             1,2026-01-03,login,,a\n\
             2,2026-01-03,teleport,,h\n\
             2,2026-01-04,login,,a\n",
        );
        let policy = ReadPolicy {
            known_events: Some(["login", "purchase"].map(String::from).into()),
            ..policy()
        };
        let mut rejects = Rejects::default();
        let ev = load_events(&p, &policy, &mut rejects).unwrap();
        // Line 12 repeats line 2's event id, but for another user: not a retry.
        assert_eq!(ev.rows(), 3);
        let found: Vec<_> = rejects
            .rows
            .iter()
            .map(|r| (r.line, r.class.name()))
            .collect();
        assert_eq!(
            found,
            [
                (3, "unparseable_timestamp"),
                (4, "missing_value"),
                (5, "before_1970"),
                (6, "future_timestamp"),
                (7, "unparseable_value"),
                (11, "unknown_event"),
                (9, "duplicate_event"),
                (10, "duplicate_event_id"),
            ]
        );
        assert_eq!(
            rejects.rows[0].detail,
            "`timestamp` \"soon\": not ISO-8601 or an epoch number"
        );
        assert_eq!(rejects.rows[4].raw, "1,2026-01-02,purchase,ten,f");
        assert_eq!(
            rejects.rows[6].detail,
            "same user, time, event, value and session as line 8"
        );
        let t = &rejects.files[&p.display().to_string()];
        assert_eq!((t.rows_read, t.total(), t.lost()), (11, 8, 6));
    }

    /// Deterministic byte mutations of `good`: flips, CSV/JSON specials, line ends,
    /// invalid UTF-8, cuts and repeats.
    fn mutants(good: &[u8], n: usize, seed: u64) -> Vec<Vec<u8>> {
        let mut x = seed;
        let mut next = move |m: usize| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as usize % m.max(1)
        };
        const SPECIAL: &[u8] = b"\"\n\r,;{}[]:\\\t\xff\xc3\x00 0e9-";
        (0..n)
            .map(|_| {
                let mut b = good.to_vec();
                for _ in 0..1 + next(6) {
                    let at = next(b.len() + 1);
                    match next(5) {
                        0 if at < b.len() => b[at] ^= 1 << next(8),
                        1 => b.insert(at, SPECIAL[next(SPECIAL.len())]),
                        2 if at < b.len() => {
                            b.remove(at);
                        }
                        3 => b.truncate(at),
                        _ => {
                            let end = (at + next(40)).min(b.len());
                            let piece = b[at..end].to_vec();
                            b.splice(at..at, piece);
                        }
                    }
                }
                b
            })
            .collect()
    }

    #[test]
    fn every_text_reader_survives_mutated_files() {
        let dir = tempfile::tempdir().unwrap();
        let csv = "user_id,timestamp,event,value,session_id,event_id\n\
                   1,2026-01-05T10:00:00Z,login,,s1,a\n\
                   1,2026-01-05T10:05:00.250Z,purchase,12.5,s1,b\n\
                   \"2\",\"2026-01-06 08:00:00\",\"report, shared\",,s2,c\n\
                   3,1767600000,login,,s3,d\n";
        let ndjson = "{\"user_id\": \"1\", \"timestamp\": \"2026-01-05T10:00:00Z\", \"event\": \"login\", \"value\": 1.5}\n\
                      {\"user_id\": 2, \"timestamp\": 1767600000123, \"event\": \"purchase\", \"extra\": {\"a\": [1, 2]}}\n\
                      {\"user_id\": \"3\", \"timestamp\": \"2026-01-06\", \"event\": \"l\\u00e9\"}\n";
        let users = "user_id,signup_at,email,crm_id,account,plan\n\
                     1,2026-01-01,a@x.com,003A,acme,pro\n2,2026-01-02,,,,\n";
        let subs = "user_id,start_date,end_date\n1,2026-01-01,\n2,2026-01-01,2026-02-01\n";
        let stripe =
            include_str!("../../tests/fixtures/billing/stripe_dashboard_subscriptions.csv");
        let cases: [(&str, &str); 5] = [
            ("e.csv", csv),
            ("e.ndjson", ndjson),
            ("u.csv", users),
            ("s.csv", subs),
            ("stripe.csv", stripe),
        ];
        let mut outcomes = [0usize; 2];
        for (k, (name, good)) in cases.into_iter().enumerate() {
            for (i, bytes) in mutants(good.as_bytes(), 300, k as u64 + 1)
                .into_iter()
                .enumerate()
            {
                let p = dir.path().join(format!("{i}-{name}"));
                std::fs::write(&p, &bytes).unwrap();
                let mut rejects = Rejects::default();
                let result = match name {
                    "u.csv" => {
                        load_users(&p, &UserColumns::default(), &policy(), &mut rejects).map(|_| ())
                    }
                    "s.csv" | "stripe.csv" => {
                        load_subscriptions(&p, &Default::default(), &policy(), &mut rejects)
                            .map(|_| ())
                    }
                    _ => load_events(&p, &policy(), &mut rejects).map(|_| ()),
                };
                // A panic fails this test; an error must be about the input, not a defect.
                match result {
                    Ok(()) => outcomes[0] += 1,
                    Err(e) => {
                        outcomes[1] += 1;
                        assert_ne!(
                            e.category(),
                            crate::error::Category::Internal,
                            "{name} mutant {i}: {e}\n{}",
                            String::from_utf8_lossy(&bytes)
                        );
                    }
                }
            }
        }
        // Both kinds of outcome occur: the mutations reach the readers' checks.
        assert!(outcomes[0] > 100 && outcomes[1] > 100, "{outcomes:?}");
    }

    #[test]
    fn a_damaged_parquet_file_is_an_input_error_never_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/exports/ga4/event_date=20260701");
        let source = std::fs::read_dir(&fixture)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "parquet"))
            .unwrap();
        let good = std::fs::read(&source).unwrap();
        let map = ColumnMap::preset(Preset::Ga4);
        let how = EventsRead { map, shard: None };
        let p = dir.path().join("e.parquet");
        // Every bit of the footer's last 64 bytes, and 400 bits spread over the file.
        let n = good.len();
        let mut flips: Vec<usize> = (n.saturating_sub(64) * 8..n * 8).collect();
        let mut x: u64 = 7;
        for _ in 0..400 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            flips.push((x >> 33) as usize % (n * 8));
        }
        let mut refused = 0;
        for bit in flips {
            let mut bytes = good.clone();
            bytes[bit / 8] ^= 1 << (bit % 8);
            std::fs::write(&p, &bytes).unwrap();
            match load_events_with(&p, &how, &policy(), &mut Rejects::default()) {
                Ok(_) => {}
                Err(e) => {
                    refused += 1;
                    assert_ne!(
                        e.category(),
                        crate::error::Category::Internal,
                        "bit {bit}: {e}"
                    );
                }
            }
        }
        assert!(refused > 64, "{refused}");
    }

    #[test]
    fn values_that_are_not_finite_numbers_are_rejects_with_their_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "e.csv",
            "user_id,timestamp,event,value\n\
             u,2026-01-05T10:00:00Z,purchase,inf\n\
             u,2026-01-05T10:01:00Z,purchase,-Infinity\n\
             u,2026-01-05T10:02:00Z,purchase,1e309\n\
             u,2026-01-05T10:03:00Z,purchase,NaN\n\
             u,2026-01-05T10:04:00Z,purchase,1e308\n\
             u,2026-01-05T10:05:00Z,purchase,12.5\n",
        );
        let mut rejects = Rejects::default();
        let ev = load_events(&p, &policy(), &mut rejects).unwrap();
        assert_eq!(ev.rows(), 1);
        let found: Vec<(u64, &str, &str)> = rejects
            .rows
            .iter()
            .map(|r| (r.line, r.class.name(), r.detail.as_str()))
            .collect();
        assert_eq!(found.len(), 5, "{found:?}");
        for (k, (line, class, detail)) in found.into_iter().enumerate() {
            assert_eq!(line, k as u64 + 2);
            assert_eq!(class, "unparseable_value");
            let why = if k < 4 {
                "not a finite number"
            } else {
                "beyond ±10^12"
            };
            assert!(detail.contains(why), "{detail}");
        }
    }

    #[test]
    fn a_file_without_rows_in_a_folder_is_skipped_and_noted() {
        let dir = tempfile::tempdir().unwrap();
        let hours = dir.path().join("hours");
        std::fs::create_dir(&hours).unwrap();
        write(
            &hours,
            "h_1.jsonl",
            "{\"user_id\": \"u\", \"timestamp\": \"2026-01-05T10:00:00Z\", \"event\": \"login\"}\n",
        );
        write(&hours, "h_2.jsonl", "");
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::fs::write(hours.join("h_3.jsonl.gz"), gz.finish().unwrap()).unwrap();
        // 0 bytes, not even a gzip header.
        write(&hours, "h_4.jsonl.gz", "");
        let mut rejects = Rejects::default();
        let ev = load_events(&hours, &policy(), &mut rejects).unwrap();
        assert_eq!(ev.rows(), 1);
        assert_eq!(ev.files.len(), 4);
        let noted: Vec<&String> = rejects
            .files
            .iter()
            .filter(|(_, t)| t.findings.contains_key(&rejects::Finding::NoRows))
            .map(|(f, _)| f)
            .collect();
        assert_eq!(noted.len(), 3, "{:?}", rejects.files);
        // One file alone must hold rows.
        let only = write(dir.path(), "empty.jsonl", "");
        assert!(matches!(
            load_events(&only, &policy(), &mut Rejects::default()),
            Err(Error::EmptyInput { .. })
        ));
    }

    #[test]
    fn repeats_are_found_apart_and_out_of_time_order_and_the_first_copy_stays() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "e.csv",
            "user_id,timestamp,event,value,session_id,event_id\n\
             u,2026-01-05T10:00:00Z,save,2.5,s1,x1\n\
             u,2026-01-05T09:00:00Z,login,,s1,x2\n\
             v,2026-01-05T10:00:00Z,save,2.5,s1,x1\n\
             u,2026-01-05T10:00:00Z,save,2.5,s2,x3\n\
             u,2026-01-05T10:00:00Z,save,2.50,s1,x1\n\
             u,2026-01-05T10:00:00Z,save,,s1,x5\n\
             u,2026-01-06T08:00:00Z,login,,s3,x2\n\
             u,2026-01-05T10:00:00Z,save,2.5,s1,x1\n\
             w,2026-01-07T08:00:00Z,login,,s9,\n\
             w,2026-01-07T08:00:00Z,login,,s9,\n\
             w,2026-01-07T09:00:00Z,save,,s9,\n\
             u,2026-01-05T10:00:00Z,save,2.5,s1,x7\n",
        );
        let mut rejects = Rejects::default();
        let ev = load_events(&p, &policy(), &mut rejects).unwrap();
        let found: Vec<_> = rejects
            .rows
            .iter()
            .map(|r| (r.line, r.class.name(), r.detail.as_str()))
            .collect();
        // Line 6 (2.50) is the value 2.5 again: a repeat of line 2, as are lines 9 and 11.
        // Line 4 is another user's, line 5 another session, line 7 has no value. Line 8
        // repeats line 3's event id a day later. Line 13 is line 2 with an id of its own:
        // another event in the same second, kept.
        let exact = "same user, time, event, value and session as line";
        assert_eq!(
            found,
            [
                (6, "duplicate_event", format!("{exact} 2").as_str()),
                (9, "duplicate_event", format!("{exact} 2").as_str()),
                (11, "duplicate_event", format!("{exact} 10").as_str()),
                (8, "duplicate_event_id", "same user and event_id as line 3"),
            ]
        );
        assert_eq!(ev.rows(), 8);
        let groups = ev.groups.as_ref().unwrap();
        assert_eq!(groups.order.len(), 8);
        // The grouping is of the frame left: every user's rows in time order.
        let users = ev.df.column("user_id").unwrap().str().unwrap().clone();
        let ts = ev.df.column("ts").unwrap().i64().unwrap().clone();
        for (name, &u) in &groups.users {
            let rows = groups.rows(u as usize);
            assert!(rows
                .iter()
                .all(|&r| users.get(r as usize) == Some(name.as_str())));
            assert!(rows
                .windows(2)
                .all(|w| ts.get(w[0] as usize) <= ts.get(w[1] as usize)));
        }
        assert_eq!(groups.rows(groups.users["u"] as usize).len(), 5);
        // Each row's time sits beside it.
        for (k, &row) in groups.order.iter().enumerate() {
            assert_eq!(ts.get(row as usize), Some(groups.ts[k]));
        }
    }

    #[test]
    fn a_log_without_its_columns_says_how_to_name_them() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "e.csv",
            "Created at,Email,Financial Status\nx,y,z\n",
        );
        let err = events(&p).unwrap_err().to_string();
        assert!(err.contains("`--column FIELD=COLUMN`"), "{err}");
        // A table's columns are not an export's: no preset names them.
        let mut rejects = Rejects::default();
        let err = load_users(&p, &UserColumns::default(), &policy(), &mut rejects)
            .unwrap_err()
            .to_string();
        assert!(!err.contains("preset"), "{err}");
    }

    #[test]
    fn email_ids_in_two_letter_cases_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "e.csv",
            "user_id,timestamp,event\nAnn@X.io,2026-01-01,login\nann@x.io,2026-01-02,login\n\
             ANN@x.io,2026-01-03,login\nbob@x.io,2026-01-01,login\nBOB,2026-01-01,login\n\
             bob,2026-01-02,login\n",
        );
        let mut loaded = events(&p).unwrap();
        assert!(loaded.groups.is_some());
        // Three spellings of Ann's address; ids without an `@` are not emails.
        let found = Some((3, "ANN@x.io".to_string(), "Ann@X.io".to_string()));
        assert_eq!(loaded.case_twins().unwrap(), found);
        loaded.groups = None;
        assert_eq!(loaded.case_twins().unwrap(), found);
    }

    #[test]
    fn a_crm_reports_slash_dates_are_read_in_the_order_the_column_shows() {
        let dir = tempfile::tempdir().unwrap();
        let signups = |name: &str, text: &str| {
            let p = write(dir.path(), name, text);
            let mut rejects = Rejects::default();
            let users = load_users(&p, &UserColumns::default(), &policy(), &mut rejects).unwrap();
            let ts: Vec<Option<i64>> = users
                .df
                .column("signup_ts")
                .unwrap()
                .i64()
                .unwrap()
                .iter()
                .collect();
            (ts, users.dates_read, rejects.total())
        };
        let ms = |s: &str| crate::base::time::parse_timestamp(s);
        // Salesforce's US export: month first (28 > 12 in second place), 12-hour clock.
        let (ts, said, rejected) = signups(
            "us.csv",
            "user_id,signup_at\n1,12/28/2024 8:48 AM\n2,1/2/2025 2:17 PM\n3,2026-03-01\n4,3/4/2025\n",
        );
        assert_eq!(
            ts,
            [
                ms("2024-12-28T08:48:00"),
                ms("2025-01-02T14:17:00"),
                ms("2026-03-01"),
                ms("2025-03-04")
            ]
        );
        assert_eq!(rejected, 0);
        assert!(said.unwrap().contains("3 signup dates read month first"));
        // Day first where a first number passes 12.
        let (ts, _, _) = signups(
            "eu.csv",
            "user_id,signup_at\n1,28/12/2024 08:48\n2,01/02/2025\n",
        );
        assert_eq!(ts, [ms("2024-12-28T08:48:00"), ms("2025-02-01")]);
        // Neither shows: not guessed, the rows are set aside as before.
        let (ts, said, rejected) = signups(
            "both.csv",
            "user_id,signup_at\n1,01/02/2025\n2,2026-01-01\n",
        );
        assert_eq!((ts, said, rejected), (vec![ms("2026-01-01")], None, 1));
    }

    #[test]
    fn users_keep_the_first_row_per_user() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "u.csv",
            "user_id,signup_at,email\n1,2026-01-01,a@x.io\n1,2026-01-02,b@x.io\n2,never,c@x.io\n\
             3,2026-01-03,d@x.io\n3,2026-01-03,d@x.io\n",
        );
        let mut rejects = Rejects::default();
        let users = load_users(&p, &UserColumns::default(), &policy(), &mut rejects).unwrap();
        assert_eq!(users.df.height(), 2);
        assert_eq!(
            users.df.column("email").unwrap().str().unwrap().get(0),
            Some("a@x.io")
        );
        let found: Vec<_> = rejects
            .rows
            .iter()
            .map(|r| (r.line, r.class.name()))
            .collect();
        // A copy is a duplicate (nothing lost); a second row saying otherwise is a conflict.
        assert_eq!(
            found,
            [
                (4, "unparseable_timestamp"),
                (6, "duplicate_user"),
                (3, "conflicting_user")
            ]
        );
        assert_eq!(rejects.summary(None).lost, 2);
    }

    #[test]
    fn rejects_empty_and_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let empty = write(dir.path(), "e.csv", "");
        assert!(matches!(
            events(&empty).unwrap_err(),
            Error::EmptyInput { .. }
        ));
        let header_only = write(dir.path(), "h.csv", "user_id,timestamp,event\n");
        assert!(matches!(
            events(&header_only).unwrap_err(),
            Error::EmptyInput { .. }
        ));
        let missing = dir.path().join("nope.csv");
        assert!(matches!(
            events(&missing).unwrap_err(),
            Error::MissingFile { .. }
        ));
        let odd = write(dir.path(), "e.xlsx", "x");
        assert!(matches!(
            events(&odd).unwrap_err(),
            Error::UnknownFormat { .. }
        ));
    }

    #[test]
    fn reads_parquet_with_native_datetimes_and_integer_ids() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e.parquet");
        let base = 1_767_225_600_000i64; // 2026-01-01T00:00:00Z
        let ts = Series::new("timestamp".into(), [base, base + 90_000])
            .cast(&DataType::Datetime(TimeUnit::Milliseconds, None))
            .unwrap();
        let mut df = DataFrame::new(
            2,
            vec![
                Column::new("user_id".into(), [5i64, 6]),
                ts.into_column(),
                Column::new("event".into(), ["login", "purchase"]),
                Column::new("value".into(), [None, Some(9.5)]),
            ],
        )
        .unwrap();
        ParquetWriter::new(std::fs::File::create(&p).unwrap())
            .finish(&mut df)
            .unwrap();
        let ev = events(&p).unwrap();
        assert_eq!(ev.rows(), 2);
        assert_eq!((ev.min_ts, ev.max_ts), (base, base + 90_000));
        let ids: Vec<_> = ev
            .df
            .column("user_id")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .flatten()
            .collect();
        assert_eq!(ids, ["5", "6"]);
        assert_eq!(
            ev.df.column("value").unwrap().f64().unwrap().get(1),
            Some(9.5)
        );
    }

    #[test]
    fn a_subscriptions_export_with_another_delimiter_says_so_even_when_mapped() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "s.csv",
            "id;Customer ID;Start Date (UTC);Ended At (UTC);user_id (metadata)\n\
             sub_1;cus_1;2026-01-01 10:00;;u1\n",
        );
        let mapped = crate::ingest::SubscriptionColumns::default()
            .with_arguments(&["user_id=user_id (metadata)".into()])
            .unwrap();
        let err = load_subscriptions(&p, &mapped, &policy(), &mut Rejects::default()).unwrap_err();
        assert!(
            matches!(
                err,
                Error::WrongDelimiter {
                    found: "semicolon",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn subscriptions_allow_an_empty_end_but_not_a_bad_one() {
        let dir = tempfile::tempdir().unwrap();
        let ok = write(
            dir.path(),
            "s.csv",
            "user_id,start_date,end_date\n1,2026-01-01,\n2,2026-01-01,2026-02-01\n",
        );
        let subs = load_subscriptions(&ok, &Default::default(), &policy(), &mut Rejects::default())
            .unwrap();
        assert_eq!(subs.df.column("end_ts").unwrap().null_count(), 1);
        let bad = write(
            dir.path(),
            "b.csv",
            "user_id,start_date,end_date\n1,2026-01-01,never\n2,2026-01-01,\n\
             3,2026-03-01,2026-02-01\n",
        );
        let mut rejects = Rejects::default();
        let subs = load_subscriptions(&bad, &Default::default(), &policy(), &mut rejects).unwrap();
        assert_eq!(subs.df.height(), 1);
        assert_eq!(rejects.rows[0].class, RejectClass::UnparseableTimestamp);
        assert!(rejects.rows[0].detail.contains("`end_date` \"never\""));
        // Ending before it starts: set aside, not a user silently out of the population.
        assert_eq!(
            (rejects.rows[1].line, rejects.rows[1].class),
            (4, RejectClass::EndBeforeStart)
        );
    }

    #[test]
    fn reads_gzipped_csv() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e.csv.gz");
        let mut gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&p).unwrap(),
            flate2::Compression::fast(),
        );
        gz.write_all(b"user_id,timestamp,event,session_id\na,2026-01-01T00:00:00Z,login,s1\n")
            .unwrap();
        gz.finish().unwrap();
        let ev = events(&p).unwrap();
        assert_eq!(ev.rows(), 1);
        assert!(!ev.sessions_derived);
    }
}
