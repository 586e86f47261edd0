//! Reading the event log: the mapped columns, the row checks, shards, identities,
//! repeated events and sessions, into the canonical [`Events`].

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use polars::prelude::*;

use super::checks::{set_aside, Check};
use super::columns::{first_text, found_columns, missing_source, timestamp_expr};
use super::dedup::{find_repeats, without_rows};
use super::files::{open_events, Format, Origin, Rows};
use super::lines::Lines;
use super::{
    identity, ColumnMap, Events, Groups, IdentitySummary, ReadPolicy, RejectClass, Rejects, Shard,
    LINE, MAX_VALUE, SESSION_GAP_MS,
};
use crate::error::{Error, Result};

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
/// With a shard, only that shard's users are kept. A Parquet log is then filtered batch
/// by batch as it is read, so memory holds one shard and one batch, not the log; the
/// log's first and last event times are still those of the whole log.
pub fn load_events_with(
    path: &Path,
    how: &EventsRead,
    policy: &ReadPolicy,
    rejects: &mut Rejects,
) -> Result<Events> {
    let progress = Progress {
        path,
        clock: std::time::Instant::now(),
    };
    let map = &how.map;
    let wanted = map.sources();
    let required = required_columns(map);
    let (rows, schema, format, files, sources) =
        open_events(path, &wanted, &required, policy, rejects).map_err(|e| match e {
            // Without a preset, the setting that may name an export's columns.
            Error::MissingColumn {
                path,
                column,
                found,
                preset_setting: None,
            } if map.preset.is_none() => {
                // A column the mapping names is the mapping's fault (a typo), as
                // `check_mapping` says of any reader's.
                match column
                    .split("`, `")
                    .find(|c| map.named.iter().any(|n| n == c))
                {
                    Some(named) => Error::MappedColumnMissing {
                        path,
                        column: named.to_string(),
                        found,
                    },
                    None => Error::MissingColumn {
                        path,
                        column,
                        found,
                        preset_setting: Some("`[inputs] preset`".into()),
                    },
                }
            }
            e => e,
        })?;
    // Rows of text files carry their file in the line number; a Parquet dataset's are
    // numbered across it.
    let origin = Origin {
        path,
        files: if format == Format::Parquet {
            &[]
        } else {
            &files
        },
    };
    progress.debug("read in");
    check_mapping(path, map, &schema).map_err(|e| {
        // A CSV file is read for the columns looked for: the message shows its header.
        match (format, files.first()) {
            (Format::Csv, Some(first)) => with_header_of(e, first, policy),
            _ => e,
        }
    })?;
    let resolve_ids = identity::applies(map);
    let Projection {
        exprs,
        raw,
        value,
        value_text,
        has_event_id,
        anonymous,
    } = projection(path, map, &schema)?;

    let checks = row_checks(policy, value, value_text);
    // A Parquet dataset is decoded here, batch by batch, reading only the mapped columns.
    let columns: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|c| schema.contains(c))
        .collect();
    // The rows that make the log's span: valid ones, anonymous traffic included (a row with
    // an anonymous id only is an export reaching its time, though nobody is scored from
    // it; the late-log check read a PostHog log's last anonymous day as missing).
    let no_user = Check::missing("user_id").mask;
    let has_id = if anonymous {
        no_user.and(Check::missing(identity::ANON).mask).not()
    } else {
        no_user.not()
    };
    let valid = checks
        .iter()
        .filter(|c| !c.is_missing_id())
        .fold(has_id.fill_null(lit(false)), |acc, c| {
            acc.and(c.mask.clone().fill_null(lit(false)).not())
        });
    let query = Query {
        path,
        rows: &rows,
        columns: &columns,
        exprs: &exprs,
    };
    let (df, mut span) = read_rows(&query, how.shard, resolve_ids, &valid)?;
    let df = without_placeholder_ids(df)?;
    count_read(&df, path, how.shard, format == Format::Parquet, rejects)?;
    progress.debug("values parsed in");
    if resolve_ids && span.is_none() {
        span = valid_span(&df, valid)?;
    }
    let (df, summary) = if resolve_ids {
        resolve_identities(df, map, how.shard, progress)?
    } else {
        (df, IdentitySummary::default())
    };
    let df = set_aside(df, origin, &checks, &raw, rejects)?;
    let (df, groups) = drop_repeated(df, has_event_id, origin, &raw, rejects, progress)?;
    if df.height() == 0 {
        return Err(nothing_kept(path, how.shard, rejects, &summary));
    }
    with_sessions(df, groups, span, path, sources, summary)
}

/// Where the time of one read goes, in debug and trace lines of the log's path.
#[derive(Clone, Copy)]
struct Progress<'a> {
    path: &'a Path,
    clock: std::time::Instant,
}

impl Progress<'_> {
    fn debug(&self, what: &str) {
        tracing::debug!("{}: {what} {:?}", self.path.display(), self.clock.elapsed());
    }

    fn trace(&self, what: &str) {
        tracing::trace!("{}: {what} {:?}", self.path.display(), self.clock.elapsed());
    }
}

/// The columns a CSV header must have. A field with one source must be in it (which also
/// tells a wrong delimiter); the user id need not be when an anonymous id can stand in.
fn required_columns(map: &ColumnMap) -> Vec<&str> {
    let mut required = vec![map.timestamp.as_str()];
    let mut single = vec![&map.event];
    if map.anonymous_id.is_empty() {
        single.push(&map.user_id);
    }
    for sources in single {
        if let [only] = sources.as_slice() {
            required.push(only.as_str());
        }
    }
    required
}

/// The log's rows as opened, and how its canonical columns are made of them.
struct Query<'a> {
    path: &'a Path,
    rows: &'a Rows,
    /// The mapped columns the log has: only these are decoded.
    columns: &'a [&'a str],
    exprs: &'a [Expr],
}

impl Query<'_> {
    fn collect(&self, query: impl Fn(LazyFrame) -> LazyFrame) -> Result<DataFrame> {
        self.rows.collect(self.path, self.columns, query)
    }
}

/// Fails when an unsharded log gave no row; counts the rows of a Parquet dataset.
fn count_read(
    df: &DataFrame,
    path: &Path,
    shard: Option<Shard>,
    parquet: bool,
    rejects: &mut Rejects,
) -> Result<()> {
    if df.height() == 0 && shard.is_none() {
        // Rows were read but every one was set aside (a comma header over semicolon
        // rows): say why, not "no rows".
        if rejects.total() > 0 {
            return Err(no_events_left(path, rejects, &IdentitySummary::default()));
        }
        return Err(Error::EmptyInput { path: path.into() });
    }
    if parquet {
        rejects.rows_read(path, df.height() as u64);
    }
    Ok(())
}

/// Why no event is left once checked, linked and deduplicated: an empty shard, or (see
/// [`no_events_left`]) the whole log set aside.
fn nothing_kept(
    path: &Path,
    shard: Option<Shard>,
    rejects: &Rejects,
    identity: &IdentitySummary,
) -> Error {
    match shard {
        Some(s) => Error::EmptyShard {
            path: path.into(),
            shard: s.to_string(),
        },
        None => no_events_left(path, rejects, identity),
    }
}

/// The log's canonical rows — of the shard's users only, when a shard is asked for and a
/// row's user is known before identities are linked — and, with a shard, the first and
/// last time of the whole log's valid rows.
fn read_rows(
    query: &Query,
    shard: Option<Shard>,
    resolve_ids: bool,
    valid: &Expr,
) -> Result<(DataFrame, Option<(i64, i64)>)> {
    let mut span = None;
    let mut keep_shard = None;
    if let Some(shard) = shard {
        // The whole log's first and last valid event, before keeping one shard (of each
        // batch, then of those).
        let df = query.collect(|lf| {
            lf.select(query.exprs)
                .filter(valid.clone())
                .select([col("ts").min().alias("min"), col("ts").max().alias("max")])
        })?;
        span = df
            .column("min")?
            .i64()?
            .min()
            .zip(df.column("max")?.i64()?.max());
        // With anonymous ids a row's user is known only once ids are linked (below).
        if !resolve_ids {
            keep_shard = Some(shard.mask(col("user_id")));
        }
    }
    let df = query.collect(|lf| {
        let lf = lf.select(query.exprs);
        match &keep_shard {
            Some(mask) => lf.filter(mask.clone()),
            None => lf,
        }
    })?;
    Ok((df, span))
}

/// The first and last time of the valid rows, anonymous visits and identity calls
/// included, as a shard takes them: the log starts with its first row of any kind.
fn valid_span(df: &DataFrame, valid: Expr) -> Result<Option<(i64, i64)>> {
    let ends = df
        .clone()
        .lazy()
        .filter(valid)
        .select([col("ts").min().alias("min"), col("ts").max().alias("max")])
        .collect()?;
    let get = |c: &str| -> Result<Option<i64>> { Ok(ends.column(c)?.i64()?.get(0)) };
    Ok(get("min")?.zip(get("max")?))
}

/// Links anonymous ids to users (see [`identity::resolve`]), then keeps the shard's users.
fn resolve_identities(
    df: DataFrame,
    map: &ColumnMap,
    shard: Option<Shard>,
    progress: Progress,
) -> Result<(DataFrame, IdentitySummary)> {
    let (mut df, summary) = identity::resolve(df, map)?;
    if let Some(shard) = shard {
        let keep = df
            .column("user_id")?
            .str()?
            .iter()
            .map(|u| shard.holds(u))
            .collect();
        df = df.filter(&keep)?;
    }
    progress.debug("identities resolved in");
    Ok((df, summary))
}

/// The checked rows without their repeated events (see [`find_repeats`]), in the
/// canonical columns, and the rows grouped by user.
fn drop_repeated(
    mut df: DataFrame,
    has_event_id: bool,
    origin: Origin<'_>,
    raw: &[&str],
    rejects: &mut Rejects,
    progress: Progress,
) -> Result<(DataFrame, Groups)> {
    let lines = Lines::take(&mut df)?;
    progress.debug("rows checked in");
    let mut groups = Groups::build(df.column("user_id")?.str()?, df.column("ts")?.i64()?)?;
    progress.trace("grouped by user by");
    let keep = find_repeats(&df, &lines, &groups, has_event_id, origin, raw, rejects)?;
    progress.trace("repeats found by");
    let canonical = df.select(["user_id", "ts", "event", "value", "session_id"])?;
    drop(df);
    let mut df = canonical;
    progress.trace("canonical columns by");
    if let Some(keep) = keep {
        df = without_rows(df, &keep)?;
        progress.trace("rows dropped by");
        groups.retain(&keep);
    }
    progress.debug("duplicates found in");
    Ok((df, groups))
}

/// The canonical [`Events`]: sessions derived when the log lacks some, and the log's
/// span (`span`, else its rows').
fn with_sessions(
    mut df: DataFrame,
    groups: Groups,
    span: Option<(i64, i64)>,
    path: &Path,
    sources: Vec<PathBuf>,
    identity: IdentitySummary,
) -> Result<Events> {
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
        files: sources,
        identity,
    })
}

/// Why no event is left: the reject classes, and anonymous traffic or identity calls.
fn no_events_left(path: &Path, rejects: &Rejects, identity: &IdentitySummary) -> Error {
    let mut why: Vec<String> = rejects.class_counts();
    if identity.anonymous_rows > 0 {
        why.push(format!(
            "{} rows of anonymous visitors who never identified",
            identity.anonymous_rows
        ));
    }
    if identity.identity_calls > 0 {
        why.push(format!("{} identity calls", identity.identity_calls));
    }
    if identity.not_use > 0 {
        why.push(format!("{} rows not product use", identity.not_use));
    }
    let first = rejects.rows.iter().find(|r| r.class.is_loss()).map(|r| {
        Box::new(crate::error::FirstReject {
            line: r.line,
            class: r.class.name().to_string(),
            detail: r.detail.clone(),
        })
    });
    Error::NoEventsLeft {
        path: path.into(),
        why,
        first,
    }
}

/// Numbers each user's sessions by the 30-minute inactivity rule (`g1`, `g2`, …) for the
/// rows without a session id; rows with one keep it (an export where only some events
/// are in a session, such as Amplitude's server-side events with session -1).
fn derive_sessions(mut df: DataFrame, groups: &Groups) -> Result<DataFrame> {
    let given = df.column("session_id")?.str()?.rechunk().into_owned();
    let none_given = given.null_count() == given.len();
    // Session numbers user by user in time order, written back at each row's place.
    let mut number = vec![0u32; df.height()];
    for (rows, ts) in groups.per_user_with_times() {
        let mut n = 0u32;
        let mut prev = None;
        for (&row, &t) in rows.iter().zip(ts) {
            if !none_given && given.get(row as usize).is_some() {
                continue;
            }
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
    let ids: StringChunked = if none_given {
        number
            .iter()
            .map(|&n| Some(names[n as usize].as_str()))
            .collect()
    } else {
        number
            .iter()
            .zip(given.iter())
            .map(|(&n, g)| Some(g.unwrap_or(names[n as usize].as_str())))
            .collect()
    };
    df.with_column(ids.with_name("session_id".into()).into_column())?;
    Ok(df)
}

/// The mapped columns the log must have: every column a mapping names, a source for the
/// user (or anonymous) id and the event, and the timestamp.
fn check_mapping(path: &Path, map: &ColumnMap, schema: &Schema) -> Result<()> {
    for column in &map.named {
        if !schema.contains(column) {
            return Err(Error::MappedColumnMissing {
                path: path.into(),
                column: column.clone(),
                found: found_columns(schema),
            });
        }
    }
    let ids: Vec<String> = map
        .user_id
        .iter()
        .chain(&map.anonymous_id)
        .cloned()
        .collect();
    for sources in [&ids, &map.event] {
        if present(schema, sources).is_empty() {
            return Err(missing_source(path, schema, sources, map));
        }
    }
    if !schema.contains(&map.timestamp) {
        let sources = std::slice::from_ref(&map.timestamp);
        return Err(missing_source(path, schema, sources, map));
    }
    if let Some(line) = no_anonymous_id(path, map, schema) {
        tracing::warn!("{line}");
    }
    Ok(())
}

/// `e` about a missing column, its `found` list the whole header of CSV file `first` (the
/// columns read are only those looked for).
fn with_header_of(e: Error, first: &Path, policy: &ReadPolicy) -> Error {
    let read = ReadPolicy {
        delimiter: policy.events_delimiter_for(super::files::is_tsv(first)),
        ..policy.clone()
    };
    let header = match super::reader::csv_header(first, &read) {
        Ok(header) if policy.events_header.is_none() => header,
        _ => return e,
    };
    let found = super::rejects::shorten(&header.join(", "), 4000);
    match e {
        Error::MissingColumn {
            path,
            column,
            preset_setting,
            ..
        } => Error::MissingColumn {
            path,
            column,
            found,
            preset_setting,
        },
        Error::MappedColumnMissing { path, column, .. } => Error::MappedColumnMissing {
            path,
            column,
            found,
        },
        e => e,
    }
}

/// A preset's anonymous id missing from the log: its anonymous visitors would be scored as
/// users (a new user's PostHog Parquet export, whose `properties` is JSON text, scored 2,914
/// anonymous ids without a word).
fn no_anonymous_id(path: &Path, map: &ColumnMap, schema: &Schema) -> Option<String> {
    let preset = map.preset?;
    if map.anonymous_id.is_empty() || !present(schema, &map.anonymous_id).is_empty() {
        return None;
    }
    let text_parent = map.anonymous_id.iter().find_map(|s| {
        let (parent, _) = s.split_once('.')?;
        schema
            .get(parent)
            .filter(|d| d.is_string())
            .map(|_| parent.to_string())
    });
    // A field inside JSON text cannot be named with --column: the export must change.
    let (why, fix) = match text_parent {
        Some(p) => (
            format!(" (`{p}` is a text column: the fields inside JSON text are read from Parquet and JSON lines, not from CSV)"),
            "export JSON lines or Parquet instead",
        ),
        None => (String::new(), "name the column with `--column anonymous_id=…`"),
    };
    Some(format!(
        "{}: preset {}'s anonymous id ({}) is not in the log{why}: anonymous visitors cannot be told from identified users and are scored as users; {fix}",
        path.display(),
        preset.name(),
        map.anonymous_id.join(", ")
    ))
}

/// The columns read from the log, and the raw ones a reject quotes.
struct Projection<'m> {
    exprs: Vec<Expr>,
    raw: Vec<&'static str>,
    /// The value column, when the log has it.
    value: Option<&'m str>,
    /// Whether the value column is text (its cells may not be numbers).
    value_text: bool,
    has_event_id: bool,
    /// Whether the rows carry an anonymous id ([`identity::ANON`]).
    anonymous: bool,
}

/// The expressions that make the canonical columns of the log's own.
fn projection<'m>(path: &Path, map: &'m ColumnMap, schema: &Schema) -> Result<Projection<'m>> {
    let value = map.value.as_deref().filter(|v| schema.contains(v));
    let session = present(schema, &map.session_id);
    let event_id = present(schema, &map.event_id);
    let anonymous = present(schema, &map.anonymous_id);
    let user = first_text(path, schema, &present(schema, &map.user_id))?;
    // A row sent before the user was identified: its user id is an anonymous one.
    let unidentified = map
        .identified_flag
        .as_deref()
        .filter(|f| schema.contains(f))
        .map(|f| {
            col(f)
                .cast(DataType::String)
                .eq(lit("false"))
                .fill_null(lit(false))
        });
    let mut exprs = vec![
        match &unidentified {
            Some(flag) => when(flag.clone())
                .then(lit(NULL).cast(DataType::String))
                .otherwise(user.clone())
                .alias("user_id"),
            None => user.clone().alias("user_id"),
        },
        first_text(path, schema, &present(schema, &map.event))?.alias("event"),
        timestamp_expr(path, schema, &map.timestamp, map.timestamp_unit)?.alias("ts"),
        col(map.timestamp.as_str()).alias("timestamp"),
        match value {
            Some(v) => col(v).cast(DataType::Float64).alias("value"),
            None => lit(NULL).cast(DataType::Float64).alias("value"),
        },
        if session.is_empty() {
            lit(NULL).cast(DataType::String).alias("session_id")
        } else {
            let id = first_text(path, schema, &session)?;
            let none = map
                .no_session
                .iter()
                .map(|v| id.clone().eq(lit(v.clone())))
                .reduce(|a, b| a.or(b));
            match none {
                None => id.alias("session_id"),
                Some(none) => when(none.fill_null(lit(false)))
                    .then(lit(NULL).cast(DataType::String))
                    .otherwise(id)
                    .alias("session_id"),
            }
        },
        col(LINE),
    ];
    let anon = if anonymous.is_empty() {
        None
    } else {
        Some(first_text(path, schema, &anonymous)?)
    };
    let anonymous = unidentified.is_some() || anon.is_some();
    match (&unidentified, anon) {
        (Some(flag), anon) => exprs.push(
            when(flag.clone())
                .then(user)
                .otherwise(anon.unwrap_or_else(|| lit(NULL).cast(DataType::String)))
                .alias(identity::ANON),
        ),
        (None, Some(anon)) => exprs.push(anon.alias(identity::ANON)),
        (None, None) => {}
    }
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
        exprs.push(first_text(path, schema, &event_id)?.alias("event_id"));
        raw.push("event_id");
    }
    let has_event_id = !event_id.is_empty();
    Ok(Projection {
        exprs,
        raw,
        value,
        value_text,
        has_event_id,
        anonymous,
    })
}

/// What exports write for an id that is missing: SQL's NULL as text (`\N` in Snowflake's
/// and Redshift's unloads), JavaScript's `undefined` and `null`, Python's `None`. Read as a
/// name, one would be a single "user" made of every anonymous visitor.
const PLACEHOLDER_IDS: [&str; 11] = [
    "\\N",
    "null",
    "NULL",
    "Null",
    "None",
    "none",
    "undefined",
    "nil",
    "NaN",
    "nan",
    "(null)",
];

/// `df` with the user and anonymous ids that are [`PLACEHOLDER_IDS`] as no id. One pass
/// over each column's views ([`super::keys::holds_any`]), which is rebuilt only when it
/// holds one (a comparison with each placeholder in the query cost 15% of `check` on a
/// Parquet log).
fn without_placeholder_ids(mut df: DataFrame) -> Result<DataFrame> {
    let placeholder = |s: &str| PLACEHOLDER_IDS.contains(&s);
    for name in ["user_id", identity::ANON] {
        let Ok(column) = df.column(name) else {
            continue;
        };
        let ids = column.str()?;
        if !super::keys::holds_any(ids, &PLACEHOLDER_IDS) {
            continue;
        }
        let cleaned: StringChunked = ids.iter().map(|v| v.filter(|s| !placeholder(s))).collect();
        df.with_column(cleaned.with_name(name.into()).into_column())?;
    }
    Ok(df)
}

/// The sources of `sources` that `schema` has.
fn present(schema: &Schema, sources: &[String]) -> Vec<String> {
    sources
        .iter()
        .filter(|s| schema.contains(s))
        .cloned()
        .collect()
}

/// The row checks of an event log: ids, event and timestamp present and sane, values
/// finite amounts, events known when a list is kept.
fn row_checks(policy: &ReadPolicy, value: Option<&str>, value_text: bool) -> Vec<Check> {
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
    if value.is_some() {
        // `inf`, `NaN`, `1e309`: numbers no feature can sum; nor 1e308 twice, which
        // overflows a sum: an amount beyond ±10^12 is not one.
        checks.push(Check::new(
            col("value")
                .is_not_null()
                .and(col("value").is_finite().not()),
            RejectClass::UnparseableValue,
            if value_text { "value_raw" } else { "value" },
            "not a finite number",
        ));
        checks.push(Check::new(
            col("value")
                .gt(lit(MAX_VALUE))
                .or(col("value").lt(lit(-MAX_VALUE))),
            RejectClass::UnparseableValue,
            if value_text { "value_raw" } else { "value" },
            "beyond ±10^12: not an amount",
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
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::Preset;

    fn schema(columns: &[(&str, DataType)]) -> Schema {
        Schema::from_iter(
            columns
                .iter()
                .map(|(n, d)| Field::new((*n).into(), d.clone())),
        )
    }

    #[test]
    fn a_presets_missing_anonymous_id_is_said() {
        let map = ColumnMap::preset(Preset::Posthog);
        let path = Path::new("events/");
        // A CSV export whose `properties` is JSON text.
        let parquet = schema(&[
            ("distinct_id", DataType::String),
            ("properties", DataType::String),
        ]);
        let line = no_anonymous_id(path, &map, &parquet).unwrap();
        assert!(line.starts_with("events/: preset posthog's anonymous id (properties.$anon_distinct_id, properties.$device_id) is not in the log (`properties` is a text column"), "{line}");
        assert!(
            line.ends_with("; export JSON lines or Parquet instead"),
            "{line}"
        );
        // Neither the text hint without such a column, nor a word when one id is there.
        let flat = schema(&[("distinct_id", DataType::String)]);
        let line = no_anonymous_id(path, &map, &flat).unwrap();
        assert!(!line.contains("text column") && line.ends_with("`--column anonymous_id=…`"));
        let jsonl = schema(&[
            ("distinct_id", DataType::String),
            ("properties.$device_id", DataType::String),
        ]);
        assert_eq!(no_anonymous_id(path, &map, &jsonl), None);
        // Without a preset, no anonymous id is expected.
        assert_eq!(no_anonymous_id(path, &ColumnMap::default(), &flat), None);
    }
}
