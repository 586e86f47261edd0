//! The library's error type: every variant says what went wrong and where.
//! Stages return `crate::error::Result`; only `cmd/` adds file context with anyhow and only
//! `main` maps an error to an exit code.

use std::path::PathBuf;

/// Everything a churnrisk stage can refuse or fail on.
/// [`Error::CorruptFile`]'s usual cause.
pub const CORRUPT: &str = "a damaged or truncated file?";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading an input failed (permissions, a folder where a file goes, a device error):
    /// bad input, exit 3. Writing has [`Error::Write`].
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Writing an output failed (permissions, a full disk, a file where a folder goes).
    #[error("{}: cannot write: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An input file does not exist.
    #[error("{}: no such file", path.display())]
    MissingFile { path: PathBuf },
    /// An input file has no data rows.
    #[error("{}: the file has no rows", path.display())]
    EmptyInput { path: PathBuf },
    /// The file's extension does not name a format churnrisk reads.
    #[error(
        "{}: unknown file format (expected .csv, .csv.gz, .ndjson, .jsonl, .ndjson.gz or .parquet)",
        path.display()
    )]
    UnknownFormat { path: PathBuf },
    /// An Avro object container (Heap Connect's S3 sync, Kafka and Spark writes).
    #[error(
        "{}: an Avro file, which churnrisk does not read: convert the export to Parquet or JSON lines first (Spark, DuckDB's avro extension or Python's fastavro do it)",
        path.display()
    )]
    Avro { path: PathBuf },
    /// A folder, glob, archive or set of shard parts that does not make one input: no
    /// readable file, files of several formats, a damaged archive, parts of different runs.
    #[error("{}: {problem}", path.display())]
    BadInputSet {
        path: PathBuf,
        problem: InputSetProblem,
    },
    /// A required column is absent.
    #[error("{}: missing required column{} `{column}` (found: {found}{})", path.display(),
        if column.contains("`, `") { "s" } else { "" },
        preset_setting.as_ref().map(|s| format!("; an analytics export is read with a preset ({s}): segment, amplitude, mixpanel, snowplow, ga4 or posthog; any other file's columns are named with `[inputs.columns]` in a config or `--column FIELD=COLUMN` on the command line")).unwrap_or_default())]
    MissingColumn {
        path: PathBuf,
        /// The missing column, or several: `a`, `b` (quoted by the message).
        column: String,
        found: String,
        /// Where the log was read without a preset that could have named its columns: the
        /// setting that chooses one, as the caller names it (the library: its config key;
        /// the binary adds its flag).
        preset_setting: Option<String>,
    },
    /// An input file that its reader cannot decode (a damaged Parquet footer, say).
    /// `message` is the third-party reader's own words (or its panic): there is nothing
    /// more structured to give.
    #[error("{}: cannot be read: {message} ({hint})", path.display())]
    CorruptFile {
        path: PathBuf,
        message: String,
        /// The likely cause, for the reader: [`CORRUPT`] unless the message says more.
        hint: &'static str,
    },
    /// A users table without a column it must have, under its name or a mapping's.
    #[error("{}: the users table has no `{field}` column (found: {found}); name the table's column with `--user-column {field}=COLUMN` or `[inputs.user_columns]`", path.display())]
    MissingUsersColumn {
        path: PathBuf,
        field: &'static str,
        found: String,
    },
    /// A subscriptions table without a column for a field it must have.
    #[error("{}: no column for the subscriptions' `{field}` (looked for: {looked_for}; found: {found}); name it with `--subscription-column {field}=COLUMN` or `[inputs.subscription_columns]`", path.display())]
    MissingSubscriptionColumn {
        path: PathBuf,
        field: &'static str,
        looked_for: String,
        found: String,
    },
    /// The model was trained with a subscriptions field tonight's table has no column for.
    #[error("{}: the model was trained with the subscriptions' `{field}`, which this table has no column for: its features would be 0 for every subscriber; restore the column (or name it with `--subscription-column {field}=COLUMN`), or retrain without it (`churnrisk train`, or `churnrisk run --retrain`)", path.display())]
    SubscriptionFieldGone { path: PathBuf, field: String },
    /// A column named in a mapping (`--column`, `[inputs.columns]`) is not in the log.
    #[error("{}: the column mapping names `{column}`, which is not in the file (found: {found}); fix the mapping or the export", path.display())]
    MappedColumnMissing {
        path: PathBuf,
        column: String,
        found: String,
    },
    /// A column has a type churnrisk cannot use for its role.
    #[error("{}: column `{column}` has type {dtype}, expected {expected}", path.display())]
    BadColumnType {
        path: PathBuf,
        column: String,
        dtype: String,
        expected: String,
    },
    /// A timestamp could not be parsed.
    #[error("{}: row {row}: cannot parse timestamp {value:?} in column `{column}` (expected ISO-8601 date-time or epoch seconds/milliseconds)", path.display())]
    BadTimestamp {
        path: PathBuf,
        column: String,
        row: usize,
        value: String,
    },
    /// A row holds an empty user id or event name.
    #[error("{}: row {row}: empty `{column}`", path.display())]
    EmptyValue {
        path: PathBuf,
        column: String,
        row: usize,
    },
    /// The CSV header reads as one column that another separator would split.
    #[error("{}: the header is one column ({header:?}); the file looks {found}-separated, not {expected}-separated. If that is right, set the delimiter to \"{found_text}\" (or \"auto\"): {setting}", path.display())]
    WrongDelimiter {
        path: PathBuf,
        header: String,
        found: &'static str,
        found_text: &'static str,
        expected: &'static str,
        /// Where the delimiter is set: the config key by default; the binary names its
        /// flag for the event log.
        setting: &'static str,
    },
    /// The previous run's list state (or publish journal) in the output folder is unreadable.
    #[error("{}: {problem} (the previous run's list state; move it away to start the comparison afresh)", path.display())]
    BadState {
        path: PathBuf,
        problem: StateProblem,
    },
    /// Too many of a file's rows were rejected (or any, in strict mode).
    #[error("{file}: {rejected} of {rows_read} rows rejected ({}; {limit}): {}{}",
        percent(*rejected as f64 / (*rows_read).max(1) as f64),
        classes.iter().map(|(class, n)| format!("{n} {class}")).collect::<Vec<_>>().join(", "),
        first.as_ref().map(|r| format!("; first: line {}: {} ({}){}", r.line, r.class, r.detail, reject_hint(r))).unwrap_or_default())]
    Rejected {
        /// The file as the reject file names it.
        file: String,
        /// Rows lost (rejected, not merely set aside as repeats).
        rejected: u64,
        rows_read: u64,
        /// The limit the file broke.
        limit: RejectLimit,
        /// Rows lost per reject class, by class name.
        classes: Vec<(String, u64)>,
        /// The first row lost.
        first: Option<Box<FirstReject>>,
    },
    /// Every event row of the log was set aside: nothing is left to score.
    #[error("{}: no event is left to score ({}{})", path.display(),
        if why.is_empty() { "no rows".to_string() } else { why.join(", ") },
        first.as_ref().map(|r| format!("; first: line {}: {} ({}){}", r.line, r.class, r.detail, reject_hint(r))).unwrap_or_default())]
    NoEventsLeft {
        path: PathBuf,
        /// What took the rows: reject classes with their counts, anonymous rows, identity calls.
        why: Vec<String>,
        /// The first row lost, if any was.
        first: Option<Box<FirstReject>>,
    },
    /// No subscriber of the subscriptions table has an event in the log: the table's ids
    /// are another system's (a billing system's customer ids).
    #[error("{}: none of its {subscribers} subscribers has an event in the log — its user ids (`{column}`, e.g. {example:?}) are not the log's (e.g. {log_example:?}); name the column that holds the log's user id with `--subscription-column user_id=COLUMN` or `[inputs.subscription_columns]` (a Stripe export has one per metadata key, such as `user_id (metadata)`)", path.display())]
    SubscribersNotInLog {
        path: PathBuf,
        subscribers: usize,
        column: String,
        example: String,
        log_example: String,
    },
    /// A shard of the log holds no valid event.
    #[error("{}: shard {shard} holds no valid events", path.display())]
    EmptyShard { path: PathBuf, shard: String },
    /// The feature-definition file breaks one of its rules.
    #[error("feature definitions {}: {problem}", path.display())]
    FeatureSpec { path: PathBuf, problem: SpecProblem },
    /// The feature definitions name events that never occur in the log.
    #[error("feature definitions name events that never occur in the log, none of their value actions among them: {}; write feature definitions for this product's events (README, \"Feature definitions\"; `churnrisk check -v` lists the log's event types) and give them with `--features` or `[inputs] features`", names.join(", "))]
    UnknownEvents { names: Vec<String> },
    /// The run's configuration file (or a list or contacts file given to `report`) breaks
    /// one of its rules.
    #[error("configuration {}: {problem}", path.display())]
    Config {
        path: PathBuf,
        problem: ConfigProblem,
    },
    /// Another run holds the lock on the output folder.
    #[error("another churnrisk run{} is using {}; wait for it to finish (a lock left by a dead process is taken over automatically)",
        pid.map(|p| format!(" (pid {p})")).unwrap_or_default(), path.display())]
    Locked {
        path: PathBuf,
        /// The holder's process id, when it has written it yet (a run that took the lock
        /// a moment ago may not have).
        pid: Option<u32>,
    },
    /// A command-line or configuration value is out of range. `name` is the setting as the
    /// caller names it: the library's words, or the binary's flag.
    #[error("invalid {name}: {message}")]
    InvalidArgument { name: String, message: String },
    /// More events than one process groups (row numbers are 32-bit): the log must be
    /// scored in user-hash shards.
    #[error("invalid {shard_setting}: {events} events are more than one process groups ({max}); score the log in user-hash shards ({shard_setting} i/n, then merge)")]
    TooManyEvents {
        events: usize,
        max: u32,
        /// The shard setting as the caller names it (the library: `shard`; the binary: its flag).
        shard_setting: String,
    },
    /// The log ends more than a week before the as-of date: days without data would read
    /// as churn.
    #[error("not enough data: the event log ends on {log_ends} but the as-of date is {as_of}: days without data would read as churn; give an earlier as-of date")]
    LogEndsBeforeAsOf { log_ends: String, as_of: String },
    /// No panel date has the features' recent window and a full horizon inside the log.
    #[error("not enough data: no panel date has both {recent_days} days of history (the features' recent window) and a full {horizon_days}-day horizon before {as_of}: that takes {} days of log, and the log covers {covered_days} ({first} to {last}). To train on it, shorten the horizon (`horizon_days`, now {horizon_days}) or the recent window (`[windows] recent_days` in the feature file, now {recent_days}) until they add up to {covered_days} days at most, or give a longer log", recent_days + horizon_days)]
    LogTooShort {
        recent_days: u32,
        horizon_days: u32,
        as_of: String,
        /// Days from the log's first event to the as-of date (or its last event, if earlier).
        covered_days: i64,
        first: String,
        last: String,
    },
    /// Only one panel date fits in the log; a time-based validation needs two.
    #[error("not enough data: only one panel date ({date}) fits in the log; a time-based validation needs at least two: use a longer log or a smaller panel step (panel_step_days)")]
    OnePanelDate { date: String },
    /// Without a date given, the night would be older than the one already published:
    /// usually a log cut short.
    #[error("not enough data: the log ends on {log_ends}, so this night would be {night}, before the night already published ({published}): is the log cut short? {how_to_run_it}")]
    LogBehindList {
        log_ends: String,
        night: String,
        published: String,
        /// How the caller runs that night on purpose (the binary names its flag).
        how_to_run_it: String,
    },
    /// The log has no event on more of the days right before the night than
    /// `[inputs] max_missing_days` allows: a late or cut export.
    #[error("late log: the log's last event is on {last_event}, so {missing} before this night ({night}) {have} no event: is the export late or cut short? {advice}")]
    LogLate {
        last_event: String,
        night: String,
        /// "the 2 days (2026-12-03 to 2026-12-04)"
        missing: String,
        have: &'static str,
        /// What became of the night (a refused `run` published nothing), and how a product
        /// with days without events allows them (the binary names its key).
        advice: String,
    },
    /// The eligibility gate: too few churned or retained users where a model is fitted or
    /// judged (a model fitted on a handful of churners is noise).
    #[error("not enough data: on {what}, {churned} churned and {retained} retained users; the minimums are {min_churned} churned and {min_retained} retained ({settings}; lower them only if you accept a noisier model){hint}")]
    TooFewLabels {
        what: String,
        /// What else would give more users ("; …"), or empty.
        hint: String,
        churned: usize,
        retained: usize,
        min_churned: usize,
        min_retained: usize,
        /// Where the minimums are set: the config keys; the binary names its flags.
        settings: &'static str,
    },
    /// The population at T is much smaller than the one the model was validated on:
    /// usually a log cut short or a wrong as-of date.
    #[error("not enough data: only {scored} users are active at the as-of date, against {validated} on the model's validation date ({validation_date}); below the {:.0}% minimum. Is the event log complete up to the as-of date?", min_share * 100.0)]
    PopulationTooSmall {
        scored: usize,
        validated: usize,
        validation_date: String,
        min_share: f64,
    },
    /// A model computes other features, or in another order, than this build does from
    /// the feature definitions.
    #[error("{}", feature_mismatch(expected, found))]
    FeatureMismatch {
        /// The model's features, in order.
        expected: Vec<String>,
        /// The features computed from the definitions, in order.
        found: Vec<String>,
    },
    /// A model was trained with other feature definitions (their SHA-256 differs).
    #[error("model does not match the feature definitions: the model was trained with feature definitions {}…, but {} is {}…; retrain with `churnrisk train`", &trained_with[..12.min(trained_with.len())], file.display(), &fingerprint[..12.min(fingerprint.len())])]
    FeatureFileChanged {
        /// The fingerprint the model was trained with.
        trained_with: String,
        /// The feature file given, and its fingerprint.
        file: PathBuf,
        fingerprint: String,
    },
    /// The feature frame lacks a numeric column the model scores.
    #[error("model does not match the feature definitions: the feature frame has no numeric column `{column}`")]
    NoFeatureColumn { column: String },
    /// A model file is unreadable, of an unknown format version, or holds a parameter
    /// that cannot score.
    #[error("model file {}: {problem}", path.display())]
    BadModel {
        path: PathBuf,
        problem: ModelProblem,
    },
    /// A feature matrix holds a null, NaN or infinite value.
    #[error("feature `{feature}` has a missing or non-finite value for row {row}")]
    NonFinite { feature: String, row: usize },
    /// The logistic solver failed.
    #[error("model fit failed: {source}")]
    Fit {
        #[source]
        source: linfa_logistic::error::Error,
    },
    /// A matrix for the solver could not be shaped (a defect).
    #[error("model fit failed: {source}")]
    FitShape {
        #[source]
        source: ndarray::ShapeError,
    },
    /// The feature catalog lacks the baseline feature (a defect).
    #[error("model fit failed: the catalog has no {feature}")]
    NoBaseline { feature: String },
    /// polars reported an error.
    #[error("data engine: {0}")]
    Polars(#[from] polars::error::PolarsError),
}

/// Result alias for the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A TOML parse error as a person reads it: where (line and column, from 1) and what.
/// What differs between a model's features and this build's: the names on one side only
/// (at most eight of each, then how many more), or that only the order differs.
fn feature_mismatch(model: &[String], build: &[String]) -> String {
    let list = |names: Vec<&String>| {
        let shown: Vec<&str> = names.iter().take(8).map(|n| n.as_str()).collect();
        let more = names.len().saturating_sub(8);
        let tail = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        format!("{}{tail}", shown.join(", "))
    };
    let only_model: Vec<&String> = model.iter().filter(|n| !build.contains(n)).collect();
    let only_build: Vec<&String> = build.iter().filter(|n| !model.contains(n)).collect();
    let mut parts = Vec::new();
    if !only_build.is_empty() {
        parts.push(format!(
            "{} feature(s) this churnrisk computes are not in the model ({})",
            only_build.len(),
            list(only_build)
        ));
    }
    if !only_model.is_empty() {
        parts.push(format!(
            "{} of the model's feature(s) are not computed from these definitions ({})",
            only_model.len(),
            list(only_model)
        ));
    }
    if parts.is_empty() {
        parts.push("the same features in another order".into());
    }
    format!(
        "model does not match the feature definitions: {}; it was trained by another churnrisk version or with other definitions: retrain it",
        parts.join("; ")
    )
}

pub fn toml_message(text: &str, e: &toml::de::Error) -> String {
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
            let text_line = text.lines().nth(line - 1).unwrap_or("").trim();
            format!(
                "line {line}, column {column} (`{text_line}`): {}",
                e.message().trim_end()
            )
        }
        None => e.message().trim_end().to_string(),
    }
}

impl Error {
    /// Wraps an I/O error of writing an output.
    pub fn write(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Write {
            path: path.into(),
            source,
        }
    }

    /// Wraps an I/O error of reading an input.
    pub fn read(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Read {
            path: path.into(),
            source,
        }
    }

    /// A short stable name of the failure, for the manifest and log shippers.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Read { .. } => "read_failed",
            Error::Write { .. } => "write_failed",
            Error::MissingFile { .. } => "missing_file",
            Error::EmptyInput { .. } => "empty_file",
            Error::UnknownFormat { .. } | Error::Avro { .. } => "unknown_format",
            Error::BadInputSet { .. } => "bad_input_set",
            Error::MissingColumn { .. }
            | Error::MissingSubscriptionColumn { .. }
            | Error::SubscriptionFieldGone { .. }
            | Error::MissingUsersColumn { .. } => "missing_column",
            Error::MappedColumnMissing { .. } => "mapped_column_missing",
            Error::CorruptFile { .. } => "corrupt_file",
            Error::BadColumnType { .. } => "bad_column_type",
            Error::BadTimestamp { .. } => "unparseable_timestamp",
            Error::EmptyValue { .. } => "missing_value",
            Error::WrongDelimiter { .. } => "wrong_delimiter",
            Error::Rejected { .. } | Error::NoEventsLeft { .. } | Error::EmptyShard { .. } => {
                "too_many_rejects"
            }
            Error::SubscribersNotInLog { .. } => "subscribers_not_in_log",
            Error::BadState { .. } => "bad_list_state",
            Error::FeatureSpec { .. } => "feature_definitions",
            Error::UnknownEvents { .. } => "unknown_events_in_features",
            Error::Config { .. } => "config",
            Error::Locked { .. } => "locked",
            Error::InvalidArgument { .. } | Error::TooManyEvents { .. } => "invalid_argument",
            Error::LogEndsBeforeAsOf { .. }
            | Error::LogTooShort { .. }
            | Error::OnePanelDate { .. } => "gate_refused",
            Error::LogLate { .. } | Error::LogBehindList { .. } => "log_late",
            Error::TooFewLabels { .. } => "gate_refused",
            Error::PopulationTooSmall { .. } => "gate_refused",
            Error::FeatureMismatch { .. }
            | Error::FeatureFileChanged { .. }
            | Error::NoFeatureColumn { .. } => "feature_mismatch",
            Error::BadModel { .. } => "bad_model",
            Error::NonFinite { .. } => "non_finite_feature",
            Error::Fit { .. } | Error::FitShape { .. } | Error::NoBaseline { .. } => "fit",
            Error::Polars(_) => "engine",
        }
    }

    /// What kind of failure this is, for exit codes.
    pub fn category(&self) -> Category {
        match self {
            Error::Read { .. }
            | Error::MissingFile { .. }
            | Error::EmptyInput { .. }
            | Error::UnknownFormat { .. }
            | Error::Avro { .. }
            | Error::BadInputSet { .. }
            | Error::MissingColumn { .. }
            | Error::MissingSubscriptionColumn { .. }
            | Error::SubscriptionFieldGone { .. }
            | Error::MissingUsersColumn { .. }
            | Error::CorruptFile { .. }
            | Error::BadColumnType { .. }
            | Error::BadTimestamp { .. }
            | Error::EmptyValue { .. }
            | Error::WrongDelimiter { .. }
            | Error::Rejected { .. }
            | Error::NoEventsLeft { .. }
            | Error::EmptyShard { .. }
            | Error::SubscribersNotInLog { .. }
            | Error::BadState { .. }
            | Error::NonFinite { .. } => Category::Data,
            Error::FeatureSpec { .. }
            | Error::Config { .. }
            | Error::UnknownEvents { .. }
            | Error::InvalidArgument { .. }
            | Error::TooManyEvents { .. }
            | Error::MappedColumnMissing { .. }
            | Error::FeatureMismatch { .. }
            | Error::FeatureFileChanged { .. }
            | Error::NoFeatureColumn { .. }
            | Error::BadModel { .. } => Category::Config,
            Error::LogEndsBeforeAsOf { .. }
            | Error::LogTooShort { .. }
            | Error::OnePanelDate { .. }
            | Error::LogBehindList { .. }
            | Error::LogLate { .. }
            | Error::TooFewLabels { .. }
            | Error::PopulationTooSmall { .. } => Category::Refused,
            Error::Locked { .. } => Category::Busy,
            Error::Write { .. } => Category::Output,
            Error::Fit { .. }
            | Error::FitShape { .. }
            | Error::NoBaseline { .. }
            | Error::Polars(_) => Category::Internal,
        }
    }
}

/// The kinds of failure an operator must tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// The input data is unreadable or breaks the input contract.
    Data,
    /// Configuration, arguments, feature definitions or model file are wrong.
    Config,
    /// The data is valid but too little to train or score responsibly.
    Refused,
    /// Another run is in progress.
    Busy,
    /// An output could not be written.
    Output,
    /// A defect or an engine failure.
    Internal,
}

/// Why a set of inputs is not one input ([`Error::BadInputSet`]).
#[derive(Debug, thiserror::Error)]
pub enum InputSetProblem {
    /// `message` is the glob crate's own words.
    #[error("not a valid glob pattern: {message}")]
    BadGlob { message: String },
    #[error("no file matches this pattern")]
    NoMatch,
    #[error("the folder holds no event file (CSV, TSV, NDJSON or Parquet, plain or gzipped, or a zip of them)")]
    NoEventFile,
    #[error("the archive holds no event file")]
    EmptyArchive,
    /// One file of each format found, to name.
    #[error("the files are of several formats ({}); give one format at a time",
        formats.iter().map(|(f, p)| format!("{f} such as {}", p.display())).collect::<Vec<_>>().join(", "))]
    MixedFormats { formats: Vec<(String, PathBuf)> },
    /// A Delta Lake table whose log says what churnrisk cannot honour, or is broken.
    #[error("a Delta Lake table churnrisk cannot read as it stands: {problem}")]
    DeltaLog { problem: String },
    #[error("Parquet files in a zip archive: unpack it and give the folder")]
    ParquetInZip,
    /// The zip reader's own words on the archive or one of its entries (`entry` names it).
    #[error("{}{message}", entry.as_ref().map(|e| format!("entry {e}: ")).unwrap_or_else(|| "not a readable zip archive: ".into()))]
    BadArchive {
        entry: Option<String>,
        message: String,
    },
    #[error("entry {entry:?} has an unsafe path")]
    UnsafeEntry { entry: String },
    #[error("unpacks to more than {gib} GiB")]
    ArchiveTooLarge { gib: u64 },
    /// An archive entry's own error, its message without the temporary path.
    #[error("{message}")]
    InArchive {
        message: String,
        #[source]
        source: Box<Error>,
    },
    /// `how_to_write_one`: how the caller writes a part, when it can say (the binary does).
    #[error("not a shard part{}", how_to_write_one.as_ref().map(|h| format!(" (write parts with {h})")).unwrap_or_default())]
    NotAPart { how_to_write_one: Option<String> },
    /// Two parts disagree on `what` (shard count, as-of date, model, feature file, users table).
    #[error("its {what} ({}) differs from {}'s ({}): these parts are not one run", short(this), other_file.display(), short(other))]
    PartsDiffer {
        what: &'static str,
        this: String,
        other_file: PathBuf,
        other: String,
    },
    #[error("shard {index} of {count}?")]
    ShardOutOfRange { index: u32, count: u32 },
    #[error("shard {index}/{count} is also {}", other_file.display())]
    ShardTwice {
        index: u32,
        count: u32,
        other_file: PathBuf,
    },
    /// `message` is the JSON parser's own words.
    #[error("line {line}: {message}")]
    BadPartRow { line: usize, message: String },
    #[error("user {user:?} is in two parts: these parts are not one run")]
    UserInTwoParts { user: String },
    #[error("holds {found} users, its header says {header}: the file is cut short")]
    PartCutShort { found: usize, header: usize },
    /// The missing shards as `i/n`.
    #[error("the set lacks shard {}", missing.join(", "))]
    MissingShards { missing: Vec<String> },
}

/// A long hash shown by its first 12 characters.
fn short(s: &str) -> &str {
    s.get(..12).unwrap_or(s)
}

/// Why the previous run's state is unreadable ([`Error::BadState`]).
#[derive(Debug, thiserror::Error)]
pub enum StateProblem {
    /// `message` is the CSV or JSON library's own words.
    #[error("{message}")]
    Unreadable { message: String },
    #[error("expected 5 fields, found {found}")]
    FieldCount { found: usize },
    #[error("{value:?} is not a tier")]
    Tier { value: String },
    #[error("bad probability {value:?}")]
    Probability { value: String },
    /// `message` is the JSON parser's own words.
    #[error("unreadable publish journal: {message}")]
    Journal { message: String },
}

/// The limit a file's rejected rows broke ([`Error::Rejected`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RejectLimit {
    /// Strict mode: no row may be rejected.
    Strict,
    /// At most this share of a file's rows.
    MaxShare(f64),
}

impl std::fmt::Display for RejectLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RejectLimit::Strict => write!(f, "strict mode allows none"),
            RejectLimit::MaxShare(share) => write!(
                f,
                "the limit is {}%, `[validation] max_reject_fraction` (`--max-reject-fraction`)",
                trim_float(share * 100.0, 3)
            ),
        }
    }
}

/// What to do about the first row a file lost, when the reject says: a row without a
/// user id is a guest's or a visitor's in many exports, which an anonymous id column
/// turns into anonymous traffic (counted, never scored) instead of a lost row.
fn reject_hint(first: &FirstReject) -> &'static str {
    if first.class == "missing_value" && first.detail.starts_with("`user_id`") {
        ". Rows without a user id: if the export has another id for them (a guest's order, \
         a visitor's device), name it as the anonymous id (`[inputs.columns] anonymous_id`, \
         `--column anonymous_id=COLUMN`) and they are counted as anonymous traffic instead"
    } else if first.class == "unparseable_timestamp" && first.detail.contains('/') {
        ". A date with slashes (01/31/2020, 31/01/2020) is not read, as its day and month \
         cannot be told apart: export ISO-8601 (2020-01-31T21:54:00Z, 2020-01-31 21:54:00+01:00) \
         or epoch numbers"
    } else {
        ""
    }
}

/// The first row a file lost ([`Error::Rejected`]).
#[derive(Debug, Clone, PartialEq)]
pub struct FirstReject {
    pub line: u64,
    /// The reject class's name.
    pub class: String,
    pub detail: String,
}

/// A share as a percentage with up to 3 decimals (`<0.001%` for a tiny one that is not 0).
pub fn percent(share: f64) -> String {
    let p = trim_float(share * 100.0, 3);
    if p == "0" && share > 0.0 {
        "<0.001%".into()
    } else {
        format!("{p}%")
    }
}

/// `x` with at most `decimals` decimals and no trailing zeros.
pub fn trim_float(x: f64, decimals: usize) -> String {
    let s = format!("{x:.decimals$}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Which rule of the feature file is broken ([`Error::FeatureSpec`]).
#[derive(Debug, thiserror::Error)]
pub enum SpecProblem {
    /// The definitions are configuration: a missing file is a configuration error.
    #[error("{}", if *folder { "a folder, not a feature definitions file" } else { "no such file" })]
    NotAFile { folder: bool },
    /// `message` is the TOML parser's words with the line and column ([`toml_message`]).
    #[error("{message}")]
    Syntax { message: String },
    #[error("[events] value must name at least one event")]
    NoValueEvent,
    #[error("[events] {role} holds an empty event name {name:?}")]
    EmptyEventName { role: String, name: String },
    #[error("[events] {role} lists an event twice")]
    EventTwice { role: String },
    #[error("[events] ignore lists {name:?}, which is also a {role} event: an event is product use or not")]
    IgnoredInRole { role: String, name: String },
    #[error("[windows] every window must be at least 1 day")]
    ZeroWindow,
    #[error("[windows] a window is at most 3650 days")]
    WindowTooLong,
    #[error("[windows] long_days ({long}) must be at least recent_days ({recent})")]
    LongBeforeRecent { long: u32, recent: u32 },
    /// `kind` is `funnel` or `ratio`.
    #[error("{kind} name {name:?} must be lowercase letters, digits and _")]
    BadName { kind: &'static str, name: String },
    #[error("{kind} {name:?} is defined twice")]
    DefinedTwice { kind: &'static str, name: String },
    #[error("funnel {name:?} needs at least two steps")]
    ShortFunnel { name: String },
    #[error("ratio {name:?} divides an event by itself")]
    SelfRatio { name: String },
    /// The definitions could not be serialized for their fingerprint (a defect); `message`
    /// is serde_json's.
    #[error("{message}")]
    Fingerprint { message: String },
}

/// Which rule of the configuration (or of a list or contacts file) is broken ([`Error::Config`]).
#[derive(Debug, thiserror::Error)]
pub enum ConfigProblem {
    #[error("{}", if *folder { "a folder, not a config file" } else { "no such file" })]
    NotAFile { folder: bool },
    /// `message` is the TOML parser's words with the line and column ([`toml_message`]).
    #[error("{message}")]
    Syntax { message: String },
    /// A list or contacts file the CSV reader cannot read; `message` is its own words.
    #[error("{message}")]
    Unreadable { message: String },
    #[error("[labels] horizon_days and active_days must be at least 1")]
    ZeroDays,
    /// The tier settings' own error.
    #[error("[output] {source}")]
    Tiers {
        #[source]
        source: Box<Error>,
    },
    /// `key` as `[section] key`.
    #[error("{key} must be between {min} and {max}, not {value}")]
    OutOfRange {
        key: &'static str,
        value: f64,
        min: f64,
        max: f64,
    },
    #[error("[output] rows per CRM file must be at least 1")]
    ZeroCrmRows,
    #[error("[validation] delimiter must be one character such as \",\", \";\" or \"\\t\", or \"auto\", not {value:?}")]
    Delimiter { value: String },
    /// `[inputs] delimiter`'s own error.
    #[error("{source}")]
    InputsDelimiter {
        #[source]
        source: Box<Error>,
    },
    #[error("[drift] need 0 < warn ({warn}) ≤ act ({act})")]
    Drift { warn: f64, act: f64 },
    /// A list or contacts file lacks a column; `expected` says what the file should be.
    #[error("no `{column}` column{expected}")]
    NoColumn {
        column: String,
        expected: &'static str,
    },
    #[error("row {row}: cannot parse contacted_at {value:?}")]
    ContactedAt { row: usize, value: String },
    #[error("the list has no rows")]
    EmptyList,
}

/// What is wrong with a model file ([`Error::BadModel`]).
#[derive(Debug, thiserror::Error)]
pub enum ModelProblem {
    /// `message` is serde_json's own words (not JSON, a field missing or of the wrong type).
    #[error("{message}")]
    Json { message: String },
    #[error("format version {found}, this build reads {reads}: retrain it with `churnrisk train` (`run` retrains an older one by itself)")]
    Version { found: u64, reads: u32 },
    #[error("no format_version: not a churnrisk model")]
    NoVersion,
    #[error("feature `{feature}` has scale (std) {std:e}: it must be at least {min:e}")]
    Scale { feature: String, std: f64, min: f64 },
    #[error("feature `{feature}` has mean {mean:e}")]
    Mean { feature: String, mean: f64 },
    #[error("feature `{feature}` has coefficient {value}: not a fitted log-odds")]
    Coefficient { feature: String, value: f64 },
    #[error("intercept {value}: not a fitted log-odds")]
    Intercept { value: f64 },
    #[error("windows {recent} / {prior} / {long} days: each must be 1 to 3650 days and the long one at least the recent one")]
    Windows { recent: u32, prior: u32, long: u32 },
    #[error(
        "bgnbd {params}: every parameter must be a positive number and the horizon at least 1 day"
    )]
    BgNbd { params: String },
    #[error("typical_value_gap_days {days}: must be 0 to 3650 days")]
    ValueGap { days: f64 },
    #[error("no validation date in the model's panel")]
    NoValidationDate,
    #[error("the validation date {value:?} is not a date")]
    ValidationDate { value: String },
    #[error("training date {value:?} is not a date")]
    TrainingDate { value: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model from another version names what differs, never both full lists.
    #[test]
    fn a_feature_mismatch_names_the_difference() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let many: Vec<String> = (0..12).map(|i| format!("old_{i}")).collect();
        let mut model = names(&["a", "b"]);
        model.extend(many);
        let msg = feature_mismatch(&model, &names(&["a", "b", "new"]));
        assert!(
            msg.contains("1 feature(s) this churnrisk computes are not in the model (new)"),
            "{msg}"
        );
        assert!(
            msg.contains("12 of the model's feature(s) are not computed from these definitions (old_0, old_1, old_2, old_3, old_4, old_5, old_6, old_7 and 4 more)"),
            "{msg}"
        );
        assert!(!msg.contains("a, b"), "{msg}");
        let msg = feature_mismatch(&names(&["a", "b"]), &names(&["b", "a"]));
        assert!(
            msg.contains(": the same features in another order;"),
            "{msg}"
        );
    }

    #[test]
    fn a_refusal_of_rejects_reads_as_before() {
        let err = Error::Rejected {
            file: "e.csv".into(),
            rejected: 11,
            rows_read: 1000,
            limit: RejectLimit::MaxShare(0.01),
            classes: vec![("malformed_row".into(), 11)],
            first: Some(Box::new(FirstReject {
                line: 2,
                class: "malformed_row".into(),
                detail: "3 fields".into(),
            })),
        };
        assert_eq!(
            err.to_string(),
            "e.csv: 11 of 1000 rows rejected (1.1%; the limit is 1%, `[validation] max_reject_fraction` (`--max-reject-fraction`)): 11 malformed_row; first: line 2: malformed_row (3 fields)"
        );
        // Rows without a user id: the hint that may keep them as anonymous traffic.
        let err = Error::Rejected {
            file: "payments.csv".into(),
            rejected: 3797,
            rows_read: 85095,
            limit: RejectLimit::MaxShare(0.01),
            classes: vec![("missing_value".into(), 3797)],
            first: Some(Box::new(FirstReject {
                line: 28,
                class: "missing_value".into(),
                detail: "`user_id` \"\": empty".into(),
            })),
        };
        assert!(err.to_string().ends_with(
            "first: line 28: missing_value (`user_id` \"\": empty). Rows without a user id: if the export has another id for them (a guest's order, a visitor's device), name it as the anonymous id (`[inputs.columns] anonymous_id`, `--column anonymous_id=COLUMN`) and they are counted as anonymous traffic instead"
        ), "{err}");
        assert_eq!(
            (err.kind(), err.category()),
            ("too_many_rejects", Category::Data)
        );
        assert_eq!(RejectLimit::Strict.to_string(), "strict mode allows none");
        assert_eq!(percent(1e-6), "<0.001%");
    }

    #[test]
    fn shortages_of_data_keep_their_numbers_and_one_kind() {
        let err = Error::LogTooShort {
            recent_days: 14,
            horizon_days: 28,
            as_of: "2026-03-01".into(),
            covered_days: 30,
            first: "2026-01-30".into(),
            last: "2026-02-28".into(),
        };
        assert!(err
            .to_string()
            .contains("that takes 42 days of log, and the log covers 30"));
        let err2 = Error::OnePanelDate {
            date: "2026-02-01".into(),
        };
        let err3 = Error::LogBehindList {
            log_ends: "2026-05-30".into(),
            night: "2026-05-31".into(),
            published: "2026-06-01".into(),
            how_to_run_it: "Run it anyway.".into(),
        };
        assert!(err3
            .to_string()
            .ends_with("is the log cut short? Run it anyway."));
        for e in [&err, &err2] {
            assert_eq!(
                (e.kind(), e.category()),
                ("gate_refused", Category::Refused)
            );
        }
        // A log that ends too early for the night is a late log, as a nightly run's is.
        assert_eq!(
            (err3.kind(), err3.category()),
            ("log_late", Category::Refused)
        );
    }

    #[test]
    fn model_and_feature_mismatches_name_what_differs() {
        let err = Error::FeatureMismatch {
            expected: vec!["a".into(), "b".into()],
            found: vec!["a".into()],
        };
        assert_eq!(
            err.to_string(),
            "model does not match the feature definitions: 1 of the model's feature(s) are not computed from these definitions (b); it was trained by another churnrisk version or with other definitions: retrain it"
        );
        let err = Error::FeatureFileChanged {
            trained_with: "0123456789abcdef".into(),
            file: "f.toml".into(),
            fingerprint: "fedcba9876543210".into(),
        };
        assert!(err
            .to_string()
            .contains("0123456789ab…, but f.toml is fedcba987654…"));
        assert_eq!(err.kind(), "feature_mismatch");
        let err = Error::BadModel {
            path: "m.json".into(),
            problem: ModelProblem::Coefficient {
                feature: "x".into(),
                value: 1e308,
            },
        };
        assert!(matches!(
            err,
            Error::BadModel { problem: ModelProblem::Coefficient { value, .. }, .. } if value == 1e308
        ));
        assert_eq!(err.category(), Category::Config);
    }

    #[test]
    fn input_sets_say_which_formats_they_mix() {
        let err = Error::BadInputSet {
            path: "logs".into(),
            problem: InputSetProblem::MixedFormats {
                formats: vec![
                    ("csv".into(), "logs/a.csv".into()),
                    ("parquet".into(), "logs/b.parquet".into()),
                ],
            },
        };
        assert_eq!(
            err.to_string(),
            "logs: the files are of several formats (csv such as logs/a.csv, parquet such as logs/b.parquet); give one format at a time"
        );
        let err = Error::BadInputSet {
            path: "p.jsonl".into(),
            problem: InputSetProblem::PartsDiffer {
                what: "model",
                this: "a".repeat(64),
                other_file: "q.jsonl".into(),
                other: "b".repeat(64),
            },
        };
        assert!(err
            .to_string()
            .contains("its model (aaaaaaaaaaaa) differs from q.jsonl's (bbbbbbbbbbbb)"));
    }
}
