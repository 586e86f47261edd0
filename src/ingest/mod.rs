//! Files → canonical, checked frames: events, users, subscriptions.
//!
//! Everything downstream sees one schema and never re-checks it:
//! events are `user_id: str, ts: i64 (epoch ms, UTC), event: str, value: f64?, session_id: str`.
//! This stage reads and validates; it never filters by date (that is the features' and
//! labels' job) and never prints.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chrono::DateTime;
use polars::prelude::*;
use rayon::prelude::*;

use crate::error::{Error, Result};

pub mod blocks;
pub mod group;
pub mod keys;
pub mod mapping;
pub mod ndjson;
pub mod reader;
pub mod rejects;
pub mod shard;
pub mod timestamp;

pub use group::Groups;
pub use mapping::{ColumnMap, ColumnOverrides, Preset, TimestampUnit};
use ndjson::{is_ndjson, read_ndjson_checked};
use reader::read_csv_checked;
pub use reader::LINE;
pub use rejects::{ReadPolicy, RejectClass, Rejects};
pub use shard::Shard;
use timestamp::parse_timestamp_column;
pub use timestamp::{parse_timestamp, parse_timestamp_in};

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
    /// The rows of `df` grouped by user in time order (`None` for a frame made by hand;
    /// the features then group it themselves).
    pub groups: Option<Arc<Groups>>,
    /// The distinct event names of `df`, kept the first time they are asked for
    /// (`features::event_names`): a run asks twice, to check the feature file against
    /// the log and to number the events. Leave it empty when making a log by hand.
    pub names: OnceLock<BTreeSet<String>>,
}

impl Events {
    /// Number of events.
    pub fn rows(&self) -> usize {
        self.df.height()
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
        }
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

/// How to read an event log: where each canonical field comes from, and which user-hash
/// shard to keep (all users when `None`).
#[derive(Debug, Clone, Default)]
pub struct EventsRead {
    pub map: ColumnMap,
    pub shard: Option<Shard>,
}

/// Reads an event log with the canonical column names (see [`load_events_with`]).
pub fn load_events(path: &Path, policy: &ReadPolicy, rejects: &mut Rejects) -> Result<Events> {
    load_events_with(path, &EventsRead::default(), policy, rejects)
}

/// Reads an event log — CSV, CSV.gz, NDJSON, NDJSON.gz or Parquet; one file, a folder of
/// them or a glob — and checks it: rows that break the input contract go to `rejects`
/// (see [`rejects::RejectClass`]), the rest become the canonical frame. Exact duplicates,
/// and rows repeating a user's `event_id`, keep their first copy.
///
/// With a shard, only that shard's users are kept. A Parquet log is then filtered while
/// it is scanned (polars' streaming engine), so memory holds one shard, not the log; the
/// log's first and last event times are still those of the whole log.
pub fn load_events_with(
    path: &Path,
    how: &EventsRead,
    policy: &ReadPolicy,
    rejects: &mut Rejects,
) -> Result<Events> {
    let clock = std::time::Instant::now();
    let map = &how.map;
    let wanted = map.sources();
    // A field with one source must be in a CSV header (which also tells a wrong delimiter).
    let mut required = vec![map.timestamp.as_str()];
    for sources in [&map.user_id, &map.event] {
        if let [only] = sources.as_slice() {
            required.push(only.as_str());
        }
    }
    let (lf, schema, format, files) = open_events(path, &wanted, &required, policy, rejects)?;
    let origin = Origin {
        path,
        files: &files,
    };
    tracing::debug!("{}: read in {:?}", path.display(), clock.elapsed());
    let present = |sources: &[String]| -> Vec<String> {
        sources
            .iter()
            .filter(|s| schema.contains(s))
            .cloned()
            .collect()
    };
    for sources in [&map.user_id, &map.event] {
        if present(sources).is_empty() {
            return Err(missing_source(path, &schema, sources, map));
        }
    }
    if !schema.contains(&map.timestamp) {
        let sources = std::slice::from_ref(&map.timestamp);
        return Err(missing_source(path, &schema, sources, map));
    }
    let value = map.value.as_deref().filter(|v| schema.contains(v));
    let session = present(&map.session_id);
    let event_id = present(&map.event_id);
    let mut exprs = vec![
        first_text(path, &schema, &present(&map.user_id))?.alias("user_id"),
        first_text(path, &schema, &present(&map.event))?.alias("event"),
        timestamp_expr(path, &schema, &map.timestamp, map.timestamp_unit)?.alias("ts"),
        col(map.timestamp.as_str()).alias("timestamp"),
        match value {
            Some(v) => col(v).cast(DataType::Float64).alias("value"),
            None => lit(NULL).cast(DataType::Float64).alias("value"),
        },
        if session.is_empty() {
            lit(NULL).cast(DataType::String).alias("session_id")
        } else {
            first_text(path, &schema, &session)?.alias("session_id")
        },
        col(LINE),
    ];
    let mut raw = vec!["user_id", "timestamp", "event"];
    // A value column read as text may hold cells that are not numbers: its text is kept
    // to quote them. A numeric column (Parquet) cannot, and is quoted as it is.
    let value_text =
        value.is_some_and(|v| schema.get(v).is_some_and(|d| !d.is_primitive_numeric()));
    if let Some(v) = value {
        if value_text {
            exprs.push(col(v).cast(DataType::String).alias("value_raw"));
            raw.push("value_raw");
        } else {
            raw.push("value");
        }
    }
    if !session.is_empty() {
        raw.push("session_id");
    }
    if !event_id.is_empty() {
        exprs.push(first_text(path, &schema, &event_id)?.alias("event_id"));
        raw.push("event_id");
    }
    let has_event_id = !event_id.is_empty();

    let mut checks = vec![
        Check::missing("user_id"),
        Check::missing("event"),
        Check::empty("timestamp"),
        Check::new(
            col("ts").is_null(),
            RejectClass::UnparseableTimestamp,
            "timestamp",
            "not ISO-8601 or an epoch number",
        ),
        Check::new(
            col("ts").lt(lit(0i64)),
            RejectClass::Before1970,
            "timestamp",
            "before 1970-01-01",
        ),
        Check::new(
            col("ts").gt(lit(policy.now_ms + policy.clock_skew_ms)),
            RejectClass::FutureTimestamp,
            "timestamp",
            "later than the time of this run",
        ),
    ];
    if value_text {
        checks.push(Check::new(
            col("value_raw").is_not_null().and(col("value").is_null()),
            RejectClass::UnparseableValue,
            "value_raw",
            "not a number",
        ));
    }
    if let Some(known) = &policy.known_events {
        let known = Arc::new(known.clone());
        checks.push(Check::new(
            col("event").map(
                move |c: Column| {
                    let unknown: BooleanChunked = c
                        .str()?
                        .iter()
                        .map(|e| e.is_some_and(|e| !known.contains(e)))
                        .collect();
                    Ok(unknown.into_column())
                },
                |_: &Schema, f: &Field| Ok(Field::new(f.name().clone(), DataType::Boolean)),
            ),
            RejectClass::UnknownEvent,
            "event",
            "not in [validation] known_events",
        ));
    }
    let streaming = format == Format::Parquet;
    let mut lf = lf.select(exprs);
    let mut span = None;
    if let Some(shard) = how.shard {
        // The whole log's first and last valid event, before keeping one shard.
        let valid = checks.iter().fold(lit(true), |acc, c| {
            acc.and(c.mask.clone().fill_null(lit(false)).not())
        });
        let df = collect(
            lf.clone()
                .filter(valid)
                .select([col("ts").min().alias("min"), col("ts").max().alias("max")]),
            streaming,
        )?;
        let get = |c: &str| -> Result<Option<i64>> { Ok(df.column(c)?.i64()?.get(0)) };
        span = get("min")?.zip(get("max")?);
        lf = lf.filter(shard.mask(col("user_id")));
    }
    let df = collect(lf, streaming)?;
    if df.height() == 0 && how.shard.is_none() {
        return Err(Error::EmptyInput { path: path.into() });
    }
    if format == Format::Parquet {
        rejects.rows_read(path, df.height() as u64);
    }
    tracing::debug!("{}: values parsed in {:?}", path.display(), clock.elapsed());
    let mut df = set_aside(df, origin, &checks, &raw, rejects)?;
    let lines = Lines::take(&mut df)?;
    tracing::debug!("{}: rows checked in {:?}", path.display(), clock.elapsed());
    let mut groups = Groups::build(df.column("user_id")?.str()?, df.column("ts")?.i64()?)?;
    tracing::trace!(
        "{}: grouped by user by {:?}",
        path.display(),
        clock.elapsed()
    );
    let keep = find_repeats(&df, &lines, &groups, has_event_id, origin, &raw, rejects)?;
    tracing::trace!("{}: repeats found by {:?}", path.display(), clock.elapsed());
    let canonical = df.select(["user_id", "ts", "event", "value", "session_id"])?;
    drop(df);
    let mut df = canonical;
    tracing::trace!(
        "{}: canonical columns by {:?}",
        path.display(),
        clock.elapsed()
    );
    if let Some(keep) = keep {
        df = without_rows(df, &keep)?;
        tracing::trace!("{}: rows dropped by {:?}", path.display(), clock.elapsed());
        groups.retain(&keep);
    }
    tracing::debug!(
        "{}: duplicates found in {:?}",
        path.display(),
        clock.elapsed()
    );
    if df.height() == 0 {
        return Err(Error::Rejected {
            message: match how.shard {
                Some(s) => format!("{}: shard {s} holds no valid events", path.display()),
                None => format!("{}: every row was rejected", path.display()),
            },
        });
    }

    let sessions_derived = df.column("session_id")?.null_count() > 0;
    if sessions_derived {
        df = derive_sessions(df, &groups)?;
    }
    let (min_ts, max_ts) = span.or_else(|| groups.span()).unwrap_or((0, 0));
    Ok(Events {
        df,
        path: path.into(),
        min_ts,
        max_ts,
        sessions_derived,
        groups: Some(Arc::new(groups)),
        names: OnceLock::new(),
    })
}

/// Reads the users table: `user_id` and `signup_at` required, CRM columns optional. A
/// second row for a user is set aside (the first is kept).
pub fn load_users(path: &Path, policy: &ReadPolicy, rejects: &mut Rejects) -> Result<Users> {
    let mut wanted = vec!["user_id", "signup_at"];
    wanted.extend(CRM_COLUMNS);
    let (lf, schema) = open(path, &wanted, &["user_id", "signup_at"], policy, rejects)?;
    let mut exprs = vec![
        text(path, &schema, "user_id")?,
        timestamp_expr(path, &schema, "signup_at", TimestampUnit::Auto)?.alias("signup_ts"),
        col("signup_at"),
        col(LINE),
    ];
    let mut raw = vec!["user_id", "signup_at"];
    for name in CRM_COLUMNS {
        if schema.contains(name) {
            exprs.push(text(path, &schema, name)?);
            raw.push(name);
        } else {
            exprs.push(lit(NULL).cast(DataType::String).alias(name));
        }
    }
    let df = select_rows(lf, exprs, path, rejects)?;
    let mut checks = vec![Check::missing("user_id"), Check::empty("signup_at")];
    checks.extend(time_checks("signup_ts", "signup_at", policy));
    let df = set_aside(df, Origin::single(path), &checks, &raw, rejects)?;
    let df = drop_repeats(
        df,
        Origin::single(path),
        &["user_id"],
        RejectClass::DuplicateUser,
        "same user_id as line",
        &raw,
        rejects,
    )?;
    let mut keep = vec!["user_id", "signup_ts"];
    keep.extend(CRM_COLUMNS);
    Ok(Users {
        df: df.select(keep)?,
    })
}

/// Reads the subscriptions table: `user_id`, `start_date`, `end_date` (empty while active).
pub fn load_subscriptions(
    path: &Path,
    policy: &ReadPolicy,
    rejects: &mut Rejects,
) -> Result<Subscriptions> {
    let required = ["user_id", "start_date", "end_date"];
    let (lf, schema) = open(path, &required, &required, policy, rejects)?;
    let exprs = vec![
        text(path, &schema, "user_id")?,
        timestamp_expr(path, &schema, "start_date", TimestampUnit::Auto)?.alias("start_ts"),
        col("start_date"),
        timestamp_expr(path, &schema, "end_date", TimestampUnit::Auto)?.alias("end_ts"),
        col("end_date"),
        col(LINE),
    ];
    let df = select_rows(lf, exprs, path, rejects)?;
    let mut checks = vec![Check::missing("user_id"), Check::empty("start_date")];
    checks.extend(time_checks("start_ts", "start_date", policy));
    // An empty end date means "still active"; anything else must parse.
    checks.push(Check::new(
        col("end_date").is_not_null().and(col("end_ts").is_null()),
        RejectClass::UnparseableTimestamp,
        "end_date",
        "not ISO-8601 or epoch seconds/milliseconds",
    ));
    checks.push(Check::new(
        col("end_ts").lt(lit(0i64)),
        RejectClass::Before1970,
        "end_date",
        "before 1970-01-01",
    ));
    let df = set_aside(df, Origin::single(path), &checks, &required, rejects)?;
    Ok(Subscriptions {
        df: df.select(["user_id", "start_ts", "end_ts"])?,
    })
}

/// Evaluates `exprs` over the opened file; fails on a file without rows and records the
/// rows read of a Parquet file (the CSV reader records its own).
fn select_rows(
    lf: LazyFrame,
    exprs: Vec<Expr>,
    path: &Path,
    rejects: &mut Rejects,
) -> Result<DataFrame> {
    let df = lf.select(exprs).collect()?;
    if df.height() == 0 {
        return Err(Error::EmptyInput { path: path.into() });
    }
    if !is_csv(path) {
        rejects.rows_read(path, df.height() as u64);
    }
    Ok(df)
}

/// A rule that sets a row aside: where `mask` is true, the row is a `class` reject, and
/// the detail quotes `column` with `what` is wrong with it.
struct Check {
    mask: Expr,
    class: RejectClass,
    column: &'static str,
    what: &'static str,
}

impl Check {
    fn new(mask: Expr, class: RejectClass, column: &'static str, what: &'static str) -> Self {
        Check {
            mask,
            class,
            column,
            what,
        }
    }

    /// A null cell (an empty CSV field).
    fn empty(column: &'static str) -> Self {
        Check::new(
            col(column).is_null(),
            RejectClass::MissingValue,
            column,
            "empty",
        )
    }

    /// An empty or absent text value.
    fn missing(column: &'static str) -> Self {
        Check::new(
            // Compared as a text (a view's length), not measured into a column of lengths.
            col(column).is_null().or(col(column).eq(lit(""))),
            RejectClass::MissingValue,
            column,
            "empty",
        )
    }
}

/// The checks of a parsed timestamp column (`parsed`) read from `column`.
fn time_checks(parsed: &str, column: &'static str, policy: &ReadPolicy) -> Vec<Check> {
    vec![
        Check::new(
            col(parsed).is_null(),
            RejectClass::UnparseableTimestamp,
            column,
            "not ISO-8601 or epoch seconds/milliseconds",
        ),
        Check::new(
            col(parsed).lt(lit(0i64)),
            RejectClass::Before1970,
            column,
            "before 1970-01-01",
        ),
        Check::new(
            col(parsed).gt(lit(policy.now_ms + policy.clock_skew_ms)),
            RejectClass::FutureTimestamp,
            column,
            "later than the time of this run",
        ),
    ]
}

/// Moves the rows any check flags (the first matching check names the class) from `df`
/// to `rejects`; returns the rest, in order.
fn set_aside(
    df: DataFrame,
    origin: Origin<'_>,
    checks: &[Check],
    raw: &[&str],
    rejects: &mut Rejects,
) -> Result<DataFrame> {
    // Each check's mask is its own expression of one `select`, which polars evaluates
    // side by side on its threads; their union flags the rows failing any check.
    let names: Vec<String> = (0..checks.len()).map(|i| format!("__check{i}")).collect();
    let masks: Vec<Expr> = checks
        .iter()
        .zip(&names)
        .map(|(c, n)| c.mask.clone().fill_null(lit(false)).alias(n.as_str()))
        .collect();
    let all_masks = df.clone().lazy().select(masks).collect()?;
    let mut any = BooleanChunked::full("__failed".into(), false, df.height());
    for n in &names {
        any = &any | all_masks.column(n)?.bool()?;
    }
    if !any.any() {
        return Ok(df);
    }
    let bad = df.filter(&any)?;
    let bad_masks = all_masks.filter(&any)?;
    drop(all_masks);
    let masks = names
        .iter()
        .map(|n| bad_masks.column(n).and_then(|c| c.bool().cloned()))
        .collect::<PolarsResult<Vec<_>>>()?;
    let texts = RowTexts::new(&bad, raw)?;
    let all: Vec<IdxSize> = (0..bad.height() as IdxSize).collect();
    let lines = lines_of(&bad, &all)?;
    for (i, &source_line) in lines.iter().enumerate() {
        let Some(k) = masks.iter().position(|m| m.get(i) == Some(true)) else {
            continue;
        };
        let c = &checks[k];
        let value = texts.get(c.column, i);
        let column = c.column.trim_end_matches("_raw");
        let (file, line) = origin.locate(source_line);
        rejects.add(
            file,
            line,
            c.class,
            format!("`{column}` {value:?}: {}", c.what),
            &texts.row(i),
        );
    }
    Ok(df.filter(&!&any)?)
}

/// Moves every row whose `keys` columns repeat an earlier row's to `rejects` (rows are
/// in source order). Rows with a null first key are never repeats.
///
/// One pass hashes each row's keys; only rows sharing a hash are compared value by
/// value, so a hash collision never drops a row and the cost stays one hash per row.
fn drop_repeats(
    df: DataFrame,
    origin: Origin<'_>,
    keys: &[&str],
    class: RejectClass,
    what: &str,
    raw: &[&str],
    rejects: &mut Rejects,
) -> Result<DataFrame> {
    let n = df.height();
    let key_columns: Vec<Column> = keys
        .iter()
        .map(|k| {
            let c = df.column(k)?;
            match c.dtype() {
                DataType::Int64 | DataType::Float64 => Ok(c.clone()),
                _ => c.cast(&DataType::String),
            }
        })
        .collect::<PolarsResult<_>>()?;
    // Rows in blocks over the threads: each block hashes its slice of every key column.
    const BLOCK: usize = 1 << 16;
    let mut hashes = vec![0u64; n];
    let mut null_first = vec![false; n];
    hashes
        .par_chunks_mut(BLOCK)
        .zip(null_first.par_chunks_mut(BLOCK))
        .enumerate()
        .try_for_each(|(b, (hashes, null_first))| -> PolarsResult<()> {
            for (k, c) in key_columns.iter().enumerate() {
                let part = c.slice((b * BLOCK) as i64, hashes.len());
                let mut mix = |i: usize, h: Option<u64>| {
                    // A null hashes apart from every value.
                    let h = h.map_or(0x51_7C_C1_B7_27_22_0A_95, |h| h ^ 1);
                    hashes[i] = (hashes[i].rotate_left(23) ^ h).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                    if k == 0 && h == 0x51_7C_C1_B7_27_22_0A_95 {
                        null_first[i] = true;
                    }
                };
                match part.dtype() {
                    DataType::Int64 => {
                        for (i, v) in part.i64()?.iter().enumerate() {
                            mix(i, v.map(|v| fnv1a(&v.to_le_bytes())));
                        }
                    }
                    DataType::Float64 => {
                        for (i, v) in part.f64()?.iter().enumerate() {
                            mix(i, v.map(|v| fnv1a(&v.to_bits().to_le_bytes())));
                        }
                    }
                    _ => {
                        for (i, v) in part.str()?.iter().enumerate() {
                            mix(i, v.map(|v| fnv1a(v.as_bytes())));
                        }
                    }
                }
            }
            Ok(())
        })?;
    let clock = std::time::Instant::now();
    // (hash, row) pairs sorted: equal hashes side by side, each run in source order.
    // Bucketed by the hash's top 16 bits first (one counting pass, rows in order), then
    // each small bucket sorted on its own: about a third of a full sort's time on 10M rows.
    const BITS: u32 = 16;
    let bucket = |h: u64| (h >> (64 - BITS)) as usize;
    let mut starts = vec![0usize; (1 << BITS) + 1];
    for (h, _) in hashes.iter().zip(&null_first).filter(|(_, &null)| !null) {
        starts[bucket(*h) + 1] += 1;
    }
    for b in 1..starts.len() {
        starts[b] += starts[b - 1];
    }
    let mut order = vec![(0u64, 0u32); starts[1 << BITS]];
    for (i, (&h, _)) in hashes
        .iter()
        .zip(&null_first)
        .enumerate()
        .filter(|(_, (_, &null))| !null)
    {
        let slot = &mut starts[bucket(h)];
        order[*slot] = (h, i as u32);
        *slot += 1;
    }
    drop(hashes);
    order
        .par_chunk_by_mut(|a, b| bucket(a.0) == bucket(b.0))
        .for_each(|run| run.sort_unstable());
    tracing::trace!("sorted {} row hashes in {:?}", n, clock.elapsed());
    let columns: Vec<&Column> = keys
        .iter()
        .map(|k| df.column(k))
        .collect::<PolarsResult<_>>()?;
    let same = |a: usize, b: usize| -> PolarsResult<bool> {
        for c in &columns {
            if c.get(a)? != c.get(b)? {
                return Ok(false);
            }
        }
        Ok(true)
    };
    // Row → the first row it repeats.
    let mut repeats: Vec<(usize, usize)> = Vec::new();
    for group in order.chunk_by(|a, b| a.0 == b.0).filter(|g| g.len() > 1) {
        for (j, &(_, row)) in group.iter().enumerate().skip(1) {
            // The group is in source order: the first equal row is the first copy.
            for &(_, earlier) in &group[..j] {
                if same(earlier as usize, row as usize)? {
                    repeats.push((row as usize, earlier as usize));
                    break;
                }
            }
        }
    }
    tracing::trace!("compared candidates in {:?}", clock.elapsed());
    if repeats.is_empty() {
        return Ok(df);
    }
    repeats.sort_unstable();
    let lines = df.column(LINE)?.i64()?;
    let idx = IdxCa::from_vec(
        "idx".into(),
        repeats.iter().map(|&(r, _)| r as IdxSize).collect(),
    );
    let bad = df.take(&idx)?;
    let texts = RowTexts::new(&bad, raw)?;
    for (i, &(row, first)) in repeats.iter().enumerate() {
        let (file, line) = origin.locate(lines.get(row).unwrap_or(0));
        let (first_file, first_line) = origin.locate(lines.get(first).unwrap_or(0));
        let at = if first_file == file {
            first_line.to_string()
        } else {
            format!("{first_line} of {}", first_file.display())
        };
        rejects.add(file, line, class, format!("{what} {at}"), &texts.row(i));
    }
    let mut keep = vec![true; n];
    for &(row, _) in &repeats {
        keep[row] = false;
    }
    let mask: BooleanChunked = keep.into_iter().collect();
    Ok(df.filter(&mask)?)
}

/// FNV-1a: a fast, well-spread hash for short keys (equality is always checked after).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The rejected rows' cells as text, for the reject file.
struct RowTexts {
    columns: Vec<(String, StringChunked)>,
}

impl RowTexts {
    fn new(df: &DataFrame, raw: &[&str]) -> Result<Self> {
        let mut columns = Vec::with_capacity(raw.len());
        for name in raw {
            let c = df.column(name)?;
            let c = match c.dtype() {
                // Datetimes (with or without a time zone) as UTC ISO text.
                DataType::Datetime(unit, _) => {
                    let per_ms = match unit {
                        TimeUnit::Nanoseconds => 1_000_000,
                        TimeUnit::Microseconds => 1_000,
                        TimeUnit::Milliseconds => 1,
                    };
                    let text: StringChunked = c
                        .to_physical_repr()
                        .i64()?
                        .iter()
                        .map(|v| {
                            v.and_then(|v| DateTime::from_timestamp_millis(v.div_euclid(per_ms)))
                                .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
                        })
                        .collect();
                    text.into_column()
                }
                _ => c.cast(&DataType::String)?,
            };
            columns.push((name.to_string(), c.str()?.clone()));
        }
        Ok(RowTexts { columns })
    }

    fn get(&self, name: &str, row: usize) -> String {
        self.columns
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, c)| c.get(row))
            .unwrap_or_default()
            .to_string()
    }

    fn row(&self, row: usize) -> String {
        self.columns
            .iter()
            .map(|(_, c)| c.get(row).unwrap_or_default())
            .collect::<Vec<_>>()
            .join(",")
    }
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

fn is_csv(path: &Path) -> bool {
    let name = path.to_string_lossy().to_lowercase();
    name.ends_with(".csv") || name.ends_with(".csv.gz")
}

/// Opens an input: CSV and CSV.gz through the checked reader (text columns), Parquet
/// lazily with its own types. Either way the frame carries [`LINE`].
fn open(
    path: &Path,
    wanted: &[&str],
    required: &[&str],
    policy: &ReadPolicy,
    rejects: &mut Rejects,
) -> Result<(LazyFrame, Schema)> {
    if !path.is_file() {
        return Err(Error::MissingFile { path: path.into() });
    }
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.len() == 0 {
        return Err(Error::EmptyInput { path: path.into() });
    }
    let name = path.to_string_lossy().to_lowercase();
    if name.ends_with(".parquet") {
        let pl_path = PlRefPath::try_from_path(path)?;
        let mut lf = LazyFrame::scan_parquet(pl_path, ScanArgsParquet::default())?;
        let schema = lf.collect_schema()?.as_ref().clone();
        for column in required {
            require_column(path, &schema, column)?;
        }
        let lf = lf
            .with_row_index(LINE, Some(1))
            .with_column(col(LINE).cast(DataType::Int64));
        return Ok((lf, schema));
    }
    if !is_csv(path) {
        return Err(Error::UnknownFormat { path: path.into() });
    }
    let df = read_csv_checked(path, wanted, required, policy, rejects)?;
    let schema = df.schema().as_ref().clone();
    Ok((df.lazy(), schema))
}

/// A text column under its own name, whatever its stored type (ids may be integers).
fn text(path: &Path, schema: &Schema, column: &str) -> Result<Expr> {
    match schema.get(column) {
        Some(d) if d.is_primitive() || d.is_string() => {
            Ok(col(column).cast(DataType::String).alias(column))
        }
        Some(other) => Err(Error::BadColumnType {
            path: path.into(),
            column: column.into(),
            dtype: other.to_string(),
            expected: "text or integer".into(),
        }),
        None => Ok(lit(NULL).cast(DataType::String).alias(column)),
    }
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
fn timestamp_expr(path: &Path, schema: &Schema, column: &str, unit: TimestampUnit) -> Result<Expr> {
    let dtype = schema.get(column).cloned().unwrap_or(DataType::String);
    Ok(match dtype {
        DataType::String => col(column).map(
            move |c: Column| parse_timestamp_column(c, unit),
            |_: &Schema, f: &Field| Ok(Field::new(f.name().clone(), DataType::Int64)),
        ),
        DataType::Datetime(_, _) | DataType::Date => col(column)
            .cast(DataType::Datetime(TimeUnit::Milliseconds, None))
            .cast(DataType::Int64),
        d if d.is_integer() && unit != TimestampUnit::Auto => {
            let n = col(column).cast(DataType::Int64);
            match unit {
                TimestampUnit::S => n * lit(1000i64),
                TimestampUnit::Us => n / lit(1000i64),
                TimestampUnit::Ns => n / lit(1_000_000i64),
                _ => n,
            }
        }
        d if d.is_float() && unit != TimestampUnit::Auto => {
            let factor = unit.to_ms(1.0);
            (col(column).cast(DataType::Float64) * lit(factor)).cast(DataType::Int64)
        }
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

/// The kinds of event files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Ndjson,
    Parquet,
}

fn format_of(path: &Path) -> Option<Format> {
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

/// The files an input path names: the file itself, every event file under a folder
/// (recursively, as hive partitions are laid out; names starting with `.` or `_`, such as
/// `_SUCCESS`, are skipped), or the files a glob matches; sorted by path.
fn input_files(path: &Path) -> Result<Vec<PathBuf>> {
    let text = path.to_string_lossy();
    let mut files = Vec::new();
    if text.contains(['*', '?', '[']) {
        let paths = glob::glob(&text).map_err(|e| Error::BadInputSet {
            path: path.into(),
            message: format!("not a valid glob pattern: {e}"),
        })?;
        files.extend(paths.filter_map(|p| p.ok()).filter(|p| p.is_file()));
        if files.is_empty() {
            return Err(Error::BadInputSet {
                path: path.into(),
                message: "no file matches this pattern".into(),
            });
        }
    } else if path.is_dir() {
        let mut stack = vec![path.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
                let p = entry.map_err(|e| Error::io(&dir, e))?.path();
                let hidden = p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(['.', '_']));
                if hidden {
                    continue;
                }
                if p.is_dir() {
                    stack.push(p);
                } else if format_of(&p).is_some() {
                    files.push(p);
                }
            }
        }
        if files.is_empty() {
            return Err(Error::BadInputSet {
                path: path.into(),
                message: "the folder holds no .csv, .csv.gz, .ndjson, .jsonl or .parquet file"
                    .into(),
            });
        }
    } else if path.is_file() {
        files.push(path.to_path_buf());
    } else {
        return Err(Error::MissingFile { path: path.into() });
    }
    files.sort();
    Ok(files)
}

/// Bits of [`LINE`] holding the line within a file when a log has several files: the
/// file's index is above them.
const FILE_SHIFT: u32 = 40;

/// Where a row's [`LINE`] value points: the file (of a multi-file text input) and line.
#[derive(Debug, Clone, Copy)]
struct Origin<'a> {
    path: &'a Path,
    files: &'a [PathBuf],
}

impl<'a> Origin<'a> {
    fn single(path: &'a Path) -> Self {
        Origin { path, files: &[] }
    }

    fn locate(&self, line: i64) -> (&'a Path, u64) {
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
/// read as columns). Returns the files read (text inputs) for [`Origin`].
fn open_events(
    path: &Path,
    wanted: &[&str],
    required: &[&str],
    policy: &ReadPolicy,
    rejects: &mut Rejects,
) -> Result<(LazyFrame, Schema, Format, Vec<PathBuf>)> {
    let files = input_files(path)?;
    let formats: BTreeSet<_> = files
        .iter()
        .map(|f| format_of(f).map(|k| format!("{k:?}")))
        .collect();
    let format = match format_of(&files[0]) {
        Some(f) if formats.len() == 1 => f,
        None => {
            return Err(Error::UnknownFormat {
                path: files[0].clone(),
            })
        }
        Some(_) => {
            return Err(Error::BadInputSet {
                path: path.into(),
                message: "the files are of several formats; give one format at a time".into(),
            })
        }
    };
    for f in &files {
        let meta = std::fs::metadata(f).map_err(|e| Error::io(f, e))?;
        if meta.len() == 0 {
            return Err(Error::EmptyInput { path: f.clone() });
        }
    }
    if format == Format::Parquet {
        let pl_path = PlRefPath::try_from_path(path)?;
        let mut args = ScanArgsParquet::default();
        if !path.is_file() {
            args.hive_options.enabled = Some(true);
        }
        let mut lf = LazyFrame::scan_parquet(pl_path, args)?;
        let schema = lf.collect_schema()?.as_ref().clone();
        // Row numbers as polars' index type: see `lines_of`.
        let lf = lf.with_row_index(LINE, Some(1));
        return Ok((lf, schema, format, Vec::new()));
    }
    let mut frames = Vec::with_capacity(files.len());
    for (i, f) in files.iter().enumerate() {
        let mut df = match format {
            Format::Csv => read_csv_checked(f, wanted, required, policy, rejects)?,
            _ => read_ndjson_checked(f, wanted, policy, rejects)?,
        };
        if files.len() > 1 {
            let lines = df.column(LINE)?.i64()? + ((i as i64) << FILE_SHIFT);
            df.with_column(lines.with_name(LINE.into()).into_column())?;
        }
        frames.push(df);
    }
    // Files may lack some wanted columns: give every frame the union, nulls where absent.
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
    let df = stacked.ok_or_else(|| Error::EmptyInput { path: path.into() })?;
    let schema = df.schema().as_ref().clone();
    Ok((df.lazy(), schema, format, files))
}

/// Collects `lf`, with polars' streaming engine when `streaming` (a scan that must not be
/// held in memory whole).
fn collect(lf: LazyFrame, streaming: bool) -> Result<DataFrame> {
    Ok(if streaming {
        lf.collect_with_engine(Engine::Streaming)?.unwrap_single()
    } else {
        lf.collect()?
    })
}

/// The first non-empty of several text columns, row by row.
fn first_text(path: &Path, schema: &Schema, sources: &[String]) -> Result<Expr> {
    let mut exprs = sources
        .iter()
        .map(|s| text(path, schema, s))
        .collect::<Result<Vec<_>>>()?;
    let Some(mut out) = exprs.pop() else {
        return Ok(lit(NULL).cast(DataType::String));
    };
    while let Some(e) = exprs.pop() {
        let filled = e
            .clone()
            .is_not_null()
            .and(e.clone().str().len_bytes().gt(lit(0u32)));
        out = when(filled).then(e).otherwise(out);
    }
    Ok(out)
}

/// No source of a required field is in the file: names every accepted source.
fn missing_source(path: &Path, schema: &Schema, sources: &[String], map: &ColumnMap) -> Error {
    // Quoted by the message as `a` or `b`[ of preset `p`].
    let mut column = sources.join("` or `");
    if let Some(p) = map.preset {
        column = format!("{column}` of preset `{}", p.name());
    }
    Error::MissingColumn {
        path: path.into(),
        column,
        found: schema
            .iter_names()
            .filter(|n| n.as_str() != LINE)
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// Numbers each user's sessions by the 30-minute inactivity rule (`g1`, `g2`, …).
fn derive_sessions(mut df: DataFrame, groups: &Groups) -> Result<DataFrame> {
    // Session numbers user by user in time order, written back at each row's place.
    let mut number = vec![0u32; df.height()];
    for (rows, ts) in groups.per_user_with_times() {
        let mut n = 0u32;
        let mut prev = None;
        for (&row, &t) in rows.iter().zip(ts) {
            match prev {
                Some(pt) if t - pt <= SESSION_GAP_MS => {}
                _ => n += 1,
            }
            number[row as usize] = n;
            prev = Some(t);
        }
    }
    // Each id's text made once (`g1` … up to the most sessions one user has).
    let most = number.iter().copied().max().unwrap_or(0) as usize;
    let names: Vec<String> = (0..=most).map(|n| format!("g{n}")).collect();
    let ids: StringChunked = number
        .iter()
        .map(|&n| Some(names[n as usize].as_str()))
        .collect();
    df.with_column(ids.with_name("session_id".into()).into_column())?;
    Ok(df)
}

/// `df` without the rows where `keep` is false. A few dropped rows (the usual case: some
/// repeated events) leave the frame as slices of its own columns, with nothing copied;
/// many are filtered out column by column, each old column freed as its copy is made.
fn without_rows(df: DataFrame, keep: &[bool]) -> Result<DataFrame> {
    let runs: Vec<(usize, usize)> = keep
        .chunk_by(|a, b| a == b)
        .scan(0, |start, run| {
            let at = *start;
            *start += run.len();
            Some((at, run.len(), run[0]))
        })
        .filter(|&(_, _, kept)| kept)
        .map(|(at, len, _)| (at, len))
        .collect();
    if runs.len() <= 1024 {
        let mut out = df.clear();
        for (at, len) in runs {
            out.vstack_mut(&df.slice(at as i64, len))?;
        }
        return Ok(out);
    }
    let mask: BooleanChunked = keep.iter().copied().collect();
    let height = keep.iter().filter(|&&k| k).count();
    let mut columns = Vec::with_capacity(df.width());
    for c in df.into_columns() {
        columns.push(c.filter(&mask)?);
    }
    Ok(DataFrame::new(height, columns)?)
}

/// Finds the repeated events of a checked log and moves them to `rejects`: rows equal to
/// an earlier row in user, time, event, value and session, then (with an `event_id`
/// column) rows repeating an earlier row's user and `event_id`. The first copy, in source
/// order, stays. Returns which rows to keep, or `None` when every row stays.
///
/// An exact repeat has its original's user and time, so within the user's rows in time
/// order it sits in the same run of equal times: only rows of such runs are compared. An
/// `event_id` repeat is searched among the user's rows by a hash of the id, and the ids
/// are compared before a row is dropped, so a hash collision never drops one.
fn find_repeats(
    df: &DataFrame,
    lines: &Lines,
    groups: &Groups,
    event_id: bool,
    origin: Origin<'_>,
    raw: &[&str],
    rejects: &mut Rejects,
) -> Result<Option<Vec<bool>>> {
    let clock = std::time::Instant::now();
    // Only rows of equal user and time are compared, which are few: cells are read where
    // they are, without copying the columns into one piece.
    let event = df.column("event")?.str()?;
    let value = df.column("value")?.f64()?;
    let session = df.column("session_id")?.str()?;
    let same = |a: usize, b: usize| {
        event.get(a) == event.get(b)
            && value.get(a).map(f64::to_bits) == value.get(b).map(f64::to_bits)
            && session.get(a) == session.get(b)
    };
    let per_user = groups.per_user_with_times();
    // (repeat, first copy) pairs of each user: within each run of equal times.
    let mut exact: Vec<(u32, u32)> = per_user
        .par_iter()
        .flat_map_iter(|&(rows, ts)| {
            let mut found = Vec::new();
            let mut start = 0;
            for run in ts.chunk_by(|a, b| a == b) {
                let end = start + run.len();
                if run.len() > 1 {
                    first_copies(
                        &rows[start..end],
                        |a, b| same(a as usize, b as usize),
                        &mut found,
                    );
                }
                start = end;
            }
            found
        })
        .collect();
    exact.sort_unstable();
    tracing::trace!("exact repeats searched in {:?}", clock.elapsed());
    let mut keep = vec![true; df.height()];
    for &(row, _) in &exact {
        keep[row as usize] = false;
    }
    let mut by_id = Vec::new();
    if event_id {
        let ids = df.column("event_id")?.str()?;
        let state = foldhash::fast::FixedState::with_seed(3);
        use std::hash::BuildHasher;
        // Hashed in log order, then read user by user; a null id is never a repeat.
        let hashes: Vec<Option<u64>> = ids
            .par_iter()
            .map(|id| id.map(|id| state.hash_one(id)))
            .collect();
        let hash = |row: u32| hashes[row as usize];
        let kept = &keep;
        by_id = per_user
            .par_iter()
            .flat_map_iter(|&(rows, _)| {
                let mut keyed: Vec<(u64, u32)> = rows
                    .iter()
                    .filter(|&&row| kept[row as usize])
                    .filter_map(|&row| hash(row).map(|h| (h, row)))
                    .collect();
                keyed.sort_unstable();
                let mut found = Vec::new();
                for run in keyed.chunk_by(|a, b| a.0 == b.0) {
                    let rows: Vec<u32> = run.iter().map(|&(_, row)| row).collect();
                    first_copies(
                        &rows,
                        |a, b| ids.get(a as usize) == ids.get(b as usize),
                        &mut found,
                    );
                }
                found
            })
            .collect();
        by_id.sort_unstable();
        for &(row, _) in &by_id {
            keep[row as usize] = false;
        }
        tracing::trace!("event_id repeats searched in {:?}", clock.elapsed());
    }
    if exact.is_empty() && by_id.is_empty() {
        return Ok(None);
    }
    for (found, class, what) in [
        (
            &exact,
            RejectClass::DuplicateEvent,
            "same user, time, event, value and session as line",
        ),
        (
            &by_id,
            RejectClass::DuplicateEventId,
            "same user and event_id as line",
        ),
    ] {
        if found.is_empty() {
            continue;
        }
        let idx = IdxCa::from_vec(
            "idx".into(),
            found.iter().map(|&(r, _)| r as IdxSize).collect(),
        );
        let texts = RowTexts::new(&df.take(&idx)?, raw)?;
        // The lines of each repeat and its first copy, side by side.
        let pairs: Vec<IdxSize> = found.iter().flat_map(|&(r, f)| [r, f]).collect();
        let lines = lines.of(df, &pairs)?;
        for i in 0..found.len() {
            let (file, line) = origin.locate(lines[2 * i]);
            let (first_file, first_line) = origin.locate(lines[2 * i + 1]);
            let at = if first_file == file {
                first_line.to_string()
            } else {
                format!("{first_line} of {}", first_file.display())
            };
            rejects.add(file, line, class, format!("{what} {at}"), &texts.row(i));
        }
    }
    Ok(Some(keep))
}

/// The [`LINE`] of each of `rows` of `df`. A Parquet log numbers its rows in the index
/// type polars gives them (4 bytes a row, not the text readers' 8): only the rows a reject
/// names are widened.
fn lines_of(df: &DataFrame, rows: &[IdxSize]) -> Result<Vec<i64>> {
    let lines = df.column(LINE)?.take_slice(rows)?.cast(&DataType::Int64)?;
    Ok(lines.i64()?.iter().map(|l| l.unwrap_or(0)).collect())
}

/// The runs of a [`LINE`] column read in row order (see [`Lines::take`]).
struct RunsBuilder {
    starts: Vec<IdxSize>,
    lines: Vec<i64>,
    /// The line that continues the current run.
    next: Option<i64>,
    /// More runs than this and the column is kept instead.
    most: usize,
}

impl RunsBuilder {
    /// Reads the column's chunks in order; false once the runs are too many. A chunk
    /// of consecutive lines (a Parquet file's, or a CSV file's without set-aside rows)
    /// is one run, found by one comparison per row without a branch per row.
    fn chunks<'a, T: Copy + 'a>(
        &mut self,
        chunks: impl Iterator<Item = &'a [T]>,
        line: impl Fn(T) -> i64,
    ) -> bool {
        let mut row = 0;
        for values in chunks {
            let consecutive = values
                .windows(2)
                .fold(true, |ok, w| ok & (line(w[1]) == line(w[0]) + 1));
            if let (true, Some(&first)) = (consecutive, values.first()) {
                if !self.push(row, line(first)) {
                    return false;
                }
                self.next = Some(line(first) + values.len() as i64);
            } else {
                for (i, &v) in values.iter().enumerate() {
                    if !self.push(row + i, line(v)) {
                        return false;
                    }
                }
            }
            row += values.len();
        }
        true
    }

    /// Row `row` is line `line`: a new run unless it continues the current one.
    fn push(&mut self, row: usize, line: i64) -> bool {
        if self.next != Some(line) {
            self.starts.push(row as IdxSize);
            self.lines.push(line);
        }
        self.next = Some(line + 1);
        self.starts.len() <= self.most
    }
}

/// The [`LINE`] of a checked frame's rows, as runs of consecutive lines when they are few
/// (the column itself is then dropped from the frame). A log's rows mostly come in long
/// runs: a Parquet file's rows are numbered 1, 2, 3 …, a CSV file's lines likewise, and
/// only set-aside rows, blank lines or the next file break a run. So the column's 4 or 8
/// bytes a row, the size of a text id's whole share of the frame, shrink to a few runs.
enum Lines {
    /// Row `starts[k] + j` is line `lines[k] + j`, up to the next run's start.
    Runs {
        starts: Vec<IdxSize>,
        lines: Vec<i64>,
    },
    /// Too many runs (a shard's rows are scattered through the log): the frame keeps it.
    Column,
}

impl Lines {
    /// The runs of `df`'s [`LINE`] column, dropped from `df`, when there is at most one
    /// per 64 rows; otherwise the column stays.
    fn take(df: &mut DataFrame) -> Result<Self> {
        let mut runs = RunsBuilder {
            starts: Vec::new(),
            lines: Vec::new(),
            next: None,
            most: df.height() / 64 + 1,
        };
        let column = df.column(LINE)?;
        let few = if column.null_count() > 0 {
            false
        } else if let Ok(ca) = column.i64() {
            runs.chunks(ca.downcast_iter().map(|a| a.values().as_slice()), |l| l)
        } else {
            let ca = column.idx()?;
            runs.chunks(ca.downcast_iter().map(|a| a.values().as_slice()), i64::from)
        };
        if !few {
            return Ok(Lines::Column);
        }
        df.drop_in_place(LINE)?;
        Ok(Lines::Runs {
            starts: runs.starts,
            lines: runs.lines,
        })
    }

    /// The line of each of `rows` of `df` (the frame this was taken from).
    fn of(&self, df: &DataFrame, rows: &[IdxSize]) -> Result<Vec<i64>> {
        match self {
            Lines::Column => lines_of(df, rows),
            Lines::Runs { starts, lines } => Ok(rows
                .iter()
                .map(|&row| {
                    let k = starts.partition_point(|&s| s <= row).saturating_sub(1);
                    lines.get(k).map_or(0, |l| l + i64::from(row - starts[k]))
                })
                .collect()),
        }
    }
}

/// Within `run` (candidate rows in source order), each row equal to an earlier one, as
/// (row, the first row it equals).
fn first_copies(run: &[u32], same: impl Fn(u32, u32) -> bool, found: &mut Vec<(u32, u32)>) {
    for (j, &row) in run.iter().enumerate().skip(1) {
        if let Some(&first) = run[..j].iter().find(|&&earlier| same(earlier, row)) {
            found.push((row, first));
        }
    }
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
             u,2026-01-05T10:00:00Z,save,2.50,s1,x4\n\
             u,2026-01-05T10:00:00Z,save,,s1,x5\n\
             u,2026-01-06T08:00:00Z,login,,s3,x2\n\
             u,2026-01-05T10:00:00Z,save,2.5,s1,x6\n\
             w,2026-01-07T08:00:00Z,login,,s9,\n\
             w,2026-01-07T08:00:00Z,login,,s9,\n\
             w,2026-01-07T09:00:00Z,save,,s9,\n",
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
        // repeats line 3's event id a day later.
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
        assert_eq!(ev.rows(), 7);
        let groups = ev.groups.as_ref().unwrap();
        assert_eq!(groups.order.len(), 7);
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
        assert_eq!(groups.rows(groups.users["u"] as usize).len(), 4);
        // Each row's time sits beside it.
        for (k, &row) in groups.order.iter().enumerate() {
            assert_eq!(ts.get(row as usize), Some(groups.ts[k]));
        }
    }

    #[test]
    fn lines_kept_as_runs_read_as_the_column_does() {
        // Two gaps (set-aside rows) and a jump (the next file): three runs in 300 rows.
        let lines: Vec<i64> = (2..102).chain(105..205).chain(300..400).collect();
        let rows: Vec<IdxSize> = vec![0, 99, 100, 101, 199, 200, 299, 150, 0];
        let wide = df!(LINE => &lines, "x" => vec![0i32; 300]).unwrap();
        let narrow = df!(
            LINE => lines.iter().map(|&l| l as IdxSize).collect::<Vec<_>>(),
            "x" => vec![0i32; 300]
        )
        .unwrap();
        for df in [wide, narrow] {
            let mut taken = df.clone();
            let runs = Lines::take(&mut taken).unwrap();
            assert!(matches!(&runs, Lines::Runs { starts, .. } if starts == &[0, 100, 200]));
            assert!(taken.column(LINE).is_err(), "the column is dropped");
            let expected = lines_of(&df, &rows).unwrap();
            assert_eq!(expected, [2, 101, 105, 106, 204, 300, 399, 155, 2]);
            assert_eq!(runs.of(&taken, &rows).unwrap(), expected);
        }
        // One run per row (a shard's rows): the frame keeps its column.
        let scattered: Vec<i64> = (0..300).map(|i| 2 * i + 1).collect();
        let df = df!(LINE => &scattered).unwrap();
        let mut taken = df.clone();
        let kept = Lines::take(&mut taken).unwrap();
        assert!(matches!(kept, Lines::Column));
        assert_eq!(
            kept.of(&taken, &rows).unwrap(),
            lines_of(&df, &rows).unwrap()
        );
    }

    #[test]
    fn users_keep_the_first_row_per_user() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "u.csv",
            "user_id,signup_at,email\n1,2026-01-01,a@x.io\n1,2026-01-02,b@x.io\n2,never,c@x.io\n",
        );
        let mut rejects = Rejects::default();
        let users = load_users(&p, &policy(), &mut rejects).unwrap();
        assert_eq!(users.df.height(), 1);
        assert_eq!(
            users.df.column("email").unwrap().str().unwrap().get(0),
            Some("a@x.io")
        );
        let found: Vec<_> = rejects
            .rows
            .iter()
            .map(|r| (r.line, r.class.name()))
            .collect();
        assert_eq!(found, [(4, "unparseable_timestamp"), (3, "duplicate_user")]);
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
    fn subscriptions_allow_an_empty_end_but_not_a_bad_one() {
        let dir = tempfile::tempdir().unwrap();
        let ok = write(
            dir.path(),
            "s.csv",
            "user_id,start_date,end_date\n1,2026-01-01,\n2,2026-01-01,2026-02-01\n",
        );
        let subs = load_subscriptions(&ok, &policy(), &mut Rejects::default()).unwrap();
        assert_eq!(subs.df.column("end_ts").unwrap().null_count(), 1);
        let bad = write(
            dir.path(),
            "b.csv",
            "user_id,start_date,end_date\n1,2026-01-01,never\n2,2026-01-01,\n",
        );
        let mut rejects = Rejects::default();
        let subs = load_subscriptions(&bad, &policy(), &mut rejects).unwrap();
        assert_eq!(subs.df.height(), 1);
        assert_eq!(rejects.rows[0].class, RejectClass::UnparseableTimestamp);
        assert!(rejects.rows[0].detail.contains("`end_date` \"never\""));
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
