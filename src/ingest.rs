//! Files → canonical, checked frames: events, users, subscriptions.
//!
//! Everything downstream sees one schema and never re-checks it:
//! events are `user_id: str, ts: i64 (epoch ms, UTC), event: str, value: f64?, session_id: str`.
//! This stage reads and validates; it never filters by date (that is the features' and
//! labels' job) and never prints.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use polars::prelude::*;

use crate::error::{Error, Result};

/// Milliseconds in a day: all windows are whole days.
pub const DAY_MS: i64 = 86_400_000;

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
}

impl Events {
    /// Number of events.
    pub fn rows(&self) -> usize {
        self.df.height()
    }
}

/// Optional per-user facts: signup time and CRM identifiers.
#[derive(Debug, Clone)]
pub struct Users {
    /// `user_id: str, signup_ts: i64?, email, crm_id, account, plan: str?`.
    pub df: DataFrame,
}

/// Optional subscriptions: `user_id: str, start_ts: i64, end_ts: i64?`.
#[derive(Debug, Clone)]
pub struct Subscriptions {
    pub df: DataFrame,
}

/// The CRM columns carried from the users table to the ranked list, in output order.
pub const CRM_COLUMNS: [&str; 4] = ["email", "crm_id", "account", "plan"];

/// Reads an event log (CSV, CSV.gz or Parquet) and checks it.
pub fn load_events(path: &Path) -> Result<Events> {
    let (lf, schema) = scan(path, &["user_id", "timestamp", "event", "session_id"])?;
    for column in ["user_id", "timestamp", "event"] {
        require_column(path, &schema, column)?;
    }
    let ts = timestamp_expr(path, &schema, "timestamp")?;
    let value = if schema.contains("value") {
        col("value").cast(DataType::Float64)
    } else {
        lit(NULL).cast(DataType::Float64)
    };
    let session = if schema.contains("session_id") {
        col("session_id").cast(DataType::String)
    } else {
        lit(NULL).cast(DataType::String)
    };
    let df = lf
        .select([
            col("user_id").cast(DataType::String).alias("user_id"),
            ts.alias("ts"),
            col("event").cast(DataType::String).alias("event"),
            value.alias("value"),
            session.alias("session_id"),
            col("timestamp").cast(DataType::String).alias("ts_raw"),
        ])
        .collect()?;
    if df.height() == 0 {
        return Err(Error::EmptyInput { path: path.into() });
    }
    check_timestamps(path, &df, "ts", "ts_raw", "timestamp", false)?;
    check_not_empty(path, &df, "user_id")?;
    check_not_empty(path, &df, "event")?;
    let mut df = df.drop("ts_raw")?;

    let sessions_derived = df.column("session_id")?.null_count() > 0;
    if sessions_derived {
        df = derive_sessions(df)?;
    }
    let ts = df.column("ts")?.i64()?;
    let (min_ts, max_ts) = (ts.min().unwrap_or(0), ts.max().unwrap_or(0));
    Ok(Events {
        df,
        path: path.into(),
        min_ts,
        max_ts,
        sessions_derived,
    })
}

/// Reads the users table: `user_id` and `signup_at` required, CRM columns optional.
pub fn load_users(path: &Path) -> Result<Users> {
    let mut as_text = vec!["user_id", "signup_at"];
    as_text.extend(CRM_COLUMNS);
    let (lf, schema) = scan(path, &as_text)?;
    require_column(path, &schema, "user_id")?;
    require_column(path, &schema, "signup_at")?;
    let mut exprs = vec![
        col("user_id").cast(DataType::String).alias("user_id"),
        timestamp_expr(path, &schema, "signup_at")?.alias("signup_ts"),
        col("signup_at").cast(DataType::String).alias("ts_raw"),
    ];
    for name in CRM_COLUMNS {
        exprs.push(if schema.contains(name) {
            col(name).cast(DataType::String).alias(name)
        } else {
            lit(NULL).cast(DataType::String).alias(name)
        });
    }
    let df = lf.select(exprs).collect()?;
    if df.height() == 0 {
        return Err(Error::EmptyInput { path: path.into() });
    }
    check_timestamps(path, &df, "signup_ts", "ts_raw", "signup_at", false)?;
    check_not_empty(path, &df, "user_id")?;
    let df = df
        .drop("ts_raw")?
        .lazy()
        .unique_stable(Some(cols(["user_id"])), UniqueKeepStrategy::First)
        .collect()?;
    Ok(Users { df })
}

/// Reads the subscriptions table: `user_id`, `start_date`, `end_date` (empty while active).
pub fn load_subscriptions(path: &Path) -> Result<Subscriptions> {
    let (lf, schema) = scan(path, &["user_id", "start_date", "end_date"])?;
    for column in ["user_id", "start_date", "end_date"] {
        require_column(path, &schema, column)?;
    }
    let df = lf
        .select([
            col("user_id").cast(DataType::String).alias("user_id"),
            timestamp_expr(path, &schema, "start_date")?.alias("start_ts"),
            col("start_date").cast(DataType::String).alias("start_raw"),
            timestamp_expr(path, &schema, "end_date")?.alias("end_ts"),
            col("end_date").cast(DataType::String).alias("end_raw"),
        ])
        .collect()?;
    if df.height() == 0 {
        return Err(Error::EmptyInput { path: path.into() });
    }
    check_timestamps(path, &df, "start_ts", "start_raw", "start_date", false)?;
    // An empty end date means "still active"; anything else must parse.
    check_timestamps(path, &df, "end_ts", "end_raw", "end_date", true)?;
    check_not_empty(path, &df, "user_id")?;
    Ok(Subscriptions {
        df: df.drop_many(["start_raw", "end_raw"]),
    })
}

/// Parses one timestamp: ISO-8601 date-time with or without offset (none means UTC),
/// a bare ISO date (midnight UTC), or integer epoch seconds / milliseconds
/// (|n| ≥ 10^11 is read as milliseconds). Returns epoch milliseconds.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let s = text.trim();
    if s.is_empty() {
        return None;
    }
    if s.bytes()
        .enumerate()
        .all(|(i, b)| b.is_ascii_digit() || (i == 0 && b == b'-'))
    {
        return s.parse::<i64>().ok().map(epoch_to_ms);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.timestamp_millis());
    }
    const WITH_OFFSET: [&str; 2] = ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z"];
    for fmt in WITH_OFFSET {
        if let Ok(dt) = DateTime::parse_from_str(s, fmt) {
            return Some(dt.timestamp_millis());
        }
    }
    const NAIVE: [&str; 4] = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ];
    for fmt in NAIVE {
        if let Ok(dt) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(dt.and_utc().timestamp_millis());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|dt| dt.and_utc().timestamp_millis())
}

/// Parses an as-of date given on the command line: `YYYY-MM-DD` (midnight UTC) or a full
/// ISO-8601 date-time. Returns epoch milliseconds.
pub fn parse_as_of(text: &str) -> Result<i64> {
    parse_timestamp(text)
        .filter(|_| !text.trim().bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| Error::InvalidArgument {
            name: "--as-of".into(),
            message: format!("{text:?} is not a date (expected YYYY-MM-DD or ISO-8601 date-time)"),
        })
}

/// Formats epoch milliseconds as an ISO date (`YYYY-MM-DD`, UTC).
pub fn format_date(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| ms.to_string())
}

fn epoch_to_ms(n: i64) -> i64 {
    if n.unsigned_abs() >= 100_000_000_000 {
        n
    } else {
        n.saturating_mul(1000)
    }
}

/// Opens a file lazily; `text_columns` present in a CSV are read as strings so that ids
/// and timestamps are never guessed into numbers.
fn scan(path: &Path, text_columns: &[&str]) -> Result<(LazyFrame, Schema)> {
    if !path.is_file() {
        return Err(Error::MissingFile { path: path.into() });
    }
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.len() == 0 {
        return Err(Error::EmptyInput { path: path.into() });
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let pl_path = PlRefPath::try_from_path(path)?;
    if name.ends_with(".parquet") {
        let mut lf = LazyFrame::scan_parquet(pl_path, ScanArgsParquet::default())?;
        let schema = lf.collect_schema()?.as_ref().clone();
        return Ok((lf, schema));
    }
    if !(name.ends_with(".csv") || name.ends_with(".csv.gz")) {
        return Err(Error::UnknownFormat { path: path.into() });
    }
    let reader = || {
        LazyCsvReader::new(pl_path.clone())
            .with_has_header(true)
            .with_infer_schema_length(Some(10_000))
    };
    let header = reader().finish()?.collect_schema()?;
    let overwrite: Schema = text_columns
        .iter()
        .filter(|c| header.contains(c))
        .map(|c| Field::new((*c).into(), DataType::String))
        .collect();
    let mut lf = reader()
        .with_dtype_overwrite(Some(Arc::new(overwrite)))
        .finish()?;
    let schema = lf.collect_schema()?.as_ref().clone();
    Ok((lf, schema))
}

fn require_column(path: &Path, schema: &Schema, column: &str) -> Result<()> {
    if schema.contains(column) {
        return Ok(());
    }
    Err(Error::MissingColumn {
        path: path.into(),
        column: column.into(),
        found: schema
            .iter_names()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// An expression turning `column` into epoch milliseconds, whatever its type.
fn timestamp_expr(path: &Path, schema: &Schema, column: &str) -> Result<Expr> {
    let dtype = schema.get(column).cloned().unwrap_or(DataType::String);
    Ok(match dtype {
        DataType::String => col(column).map(parse_timestamp_column, |_: &Schema, f: &Field| {
            Ok(Field::new(f.name().clone(), DataType::Int64))
        }),
        DataType::Datetime(_, _) | DataType::Date => col(column)
            .cast(DataType::Datetime(TimeUnit::Milliseconds, None))
            .cast(DataType::Int64),
        d if d.is_integer() => {
            let n = col(column).cast(DataType::Int64);
            when(
                n.clone()
                    .gt_eq(lit(100_000_000_000i64))
                    .or(n.clone().lt_eq(lit(-100_000_000_000i64))),
            )
            .then(n.clone())
            .otherwise(n * lit(1000i64))
        }
        d if d.is_float() => {
            let n = col(column).cast(DataType::Float64);
            when(n.clone().gt_eq(lit(1e11)).or(n.clone().lt_eq(lit(-1e11))))
                .then(n.clone())
                .otherwise(n * lit(1000.0))
                .cast(DataType::Int64)
        }
        other => {
            return Err(Error::BadColumnType {
                path: path.into(),
                column: column.into(),
                dtype: other.to_string(),
                expected: "ISO-8601 text, epoch seconds/milliseconds or a datetime".into(),
            })
        }
    })
}

fn parse_timestamp_column(c: Column) -> PolarsResult<Column> {
    let text = c.str()?;
    let out: Int64Chunked = text.iter().map(|v| v.and_then(parse_timestamp)).collect();
    Ok(out.with_name(c.name().clone()).into_column())
}

/// Fails on the first row whose timestamp text did not parse. With `optional`, an empty
/// cell is allowed (it means "none", like a running subscription's end date).
fn check_timestamps(
    path: &Path,
    df: &DataFrame,
    parsed: &str,
    raw: &str,
    column: &str,
    optional: bool,
) -> Result<()> {
    let parsed = df.column(parsed)?.i64()?;
    let raw = df.column(raw)?.str()?;
    for (row, (p, r)) in parsed.iter().zip(raw.iter()).enumerate() {
        let blank = r.is_none_or(|s| s.trim().is_empty());
        if p.is_none() && !(optional && blank) {
            return Err(Error::BadTimestamp {
                path: path.into(),
                column: column.into(),
                row: row + 1,
                value: r.unwrap_or_default().to_string(),
            });
        }
    }
    Ok(())
}

fn check_not_empty(path: &Path, df: &DataFrame, column: &str) -> Result<()> {
    let values = df.column(column)?.str()?;
    if let Some(row) = values
        .iter()
        .position(|v| v.is_none_or(|s| s.trim().is_empty()))
    {
        return Err(Error::EmptyValue {
            path: path.into(),
            column: column.into(),
            row: row + 1,
        });
    }
    Ok(())
}

/// Numbers each user's sessions by the 30-minute inactivity rule (`g1`, `g2`, …).
fn derive_sessions(df: DataFrame) -> Result<DataFrame> {
    let mut df = df.sort(["user_id", "ts"], SortMultipleOptions::default())?;
    let users = df.column("user_id")?.str()?;
    let ts = df.column("ts")?.i64()?;
    let mut ids: Vec<String> = Vec::with_capacity(df.height());
    let mut prev: Option<(&str, i64)> = None;
    let mut n = 0u64;
    for (u, t) in users.iter().zip(ts.iter()) {
        let (u, t) = (u.unwrap_or(""), t.unwrap_or(0));
        match prev {
            Some((pu, pt)) if pu == u && t - pt <= SESSION_GAP_MS => {}
            Some((pu, _)) if pu == u => n += 1,
            _ => n = 1,
        }
        ids.push(format!("g{n}"));
        prev = Some((u, t));
    }
    df.with_column(Column::new("session_id".into(), ids))?;
    Ok(df)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn parses_every_timestamp_form() {
        let base = 1_767_225_600_000; // 2026-01-01T00:00:00Z
        assert_eq!(parse_timestamp("2026-01-01T00:00:00Z"), Some(base));
        assert_eq!(parse_timestamp("2026-01-01T00:00:00"), Some(base));
        assert_eq!(parse_timestamp("2026-01-01 00:00:00.000"), Some(base));
        assert_eq!(parse_timestamp("2026-01-01T01:00:00+01:00"), Some(base));
        assert_eq!(parse_timestamp("2026-01-01T01:00:00+0100"), Some(base));
        assert_eq!(parse_timestamp("2026-01-01"), Some(base));
        assert_eq!(parse_timestamp("1767225600"), Some(base));
        assert_eq!(parse_timestamp("1767225600000"), Some(base));
        assert_eq!(
            parse_timestamp("2026-01-01T00:00:00.250Z"),
            Some(base + 250)
        );
        assert_eq!(parse_timestamp("yesterday"), None);
        assert_eq!(parse_timestamp(""), None);
    }

    #[test]
    fn loads_csv_with_integer_ids_and_mixed_timestamps() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "e.csv",
            "user_id,timestamp,event\n7,2026-01-01T00:10:00Z,login\n7,1767226200,login\n8,2026-01-01 02:00:00,login\n",
        );
        let ev = load_events(&p).unwrap();
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
        let err = load_events(&p).unwrap_err();
        assert!(
            matches!(err, Error::MissingColumn { ref column, .. } if column == "timestamp"),
            "{err}"
        );
    }

    #[test]
    fn rejects_unparseable_timestamp_with_its_row() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "e.csv",
            "user_id,timestamp,event\n1,2026-01-01,login\n1,soon,login\n",
        );
        let err = load_events(&p).unwrap_err();
        assert!(
            matches!(err, Error::BadTimestamp { row: 2, ref value, .. } if value == "soon"),
            "{err}"
        );
    }

    #[test]
    fn rejects_empty_and_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let empty = write(dir.path(), "e.csv", "");
        assert!(matches!(
            load_events(&empty).unwrap_err(),
            Error::EmptyInput { .. }
        ));
        let header_only = write(dir.path(), "h.csv", "user_id,timestamp,event\n");
        assert!(matches!(
            load_events(&header_only).unwrap_err(),
            Error::EmptyInput { .. }
        ));
        let missing = dir.path().join("nope.csv");
        assert!(matches!(
            load_events(&missing).unwrap_err(),
            Error::MissingFile { .. }
        ));
        let odd = write(dir.path(), "e.xlsx", "x");
        assert!(matches!(
            load_events(&odd).unwrap_err(),
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
        let ev = load_events(&p).unwrap();
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
    fn subscriptions_allow_an_empty_end_but_not_a_bad_one() {
        let dir = tempfile::tempdir().unwrap();
        let ok = write(
            dir.path(),
            "s.csv",
            "user_id,start_date,end_date\n1,2026-01-01,\n2,2026-01-01,2026-02-01\n",
        );
        let subs = load_subscriptions(&ok).unwrap();
        assert_eq!(subs.df.column("end_ts").unwrap().null_count(), 1);
        let bad = write(
            dir.path(),
            "b.csv",
            "user_id,start_date,end_date\n1,2026-01-01,never\n",
        );
        let err = load_subscriptions(&bad).unwrap_err();
        assert!(
            matches!(err, Error::BadTimestamp { row: 1, ref column, .. } if column == "end_date"),
            "{err}"
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
        let ev = load_events(&p).unwrap();
        assert_eq!(ev.rows(), 1);
        assert!(!ev.sessions_derived);
    }
}
