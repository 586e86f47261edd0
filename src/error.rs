//! The library's error type: every variant says what went wrong and where.
//! Stages return `crate::error::Result`; only `cmd/` adds file context with anyhow and only
//! `main` maps an error to an exit code.

use std::path::PathBuf;

/// Everything a churnrisk stage can refuse or fail on.
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
    /// A folder or glob of inputs names no file churnrisk reads, or files of several formats.
    #[error("{}: {message}", path.display())]
    BadInputSet { path: PathBuf, message: String },
    /// A required column is absent.
    #[error("{}: missing required column `{column}` (found: {found})", path.display())]
    MissingColumn {
        path: PathBuf,
        column: String,
        found: String,
    },
    /// An input file that its reader cannot decode (a damaged Parquet footer, say).
    #[error("{}: cannot be read: {message} (a damaged or truncated file?)", path.display())]
    CorruptFile { path: PathBuf, message: String },
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
    #[error("{}: the header is one column ({header:?}); the file looks {found}-separated, not {expected}-separated. Set `[validation] delimiter = \"{found_text}\"` (or \"auto\") in the config if that is right", path.display())]
    WrongDelimiter {
        path: PathBuf,
        header: String,
        found: String,
        found_text: String,
        expected: String,
    },
    /// The previous run's list state in the output folder is unreadable.
    #[error("{}: {message} (the previous run's list state; move it away to start the comparison afresh)", path.display())]
    BadState { path: PathBuf, message: String },
    /// Too many rows were rejected (or any, in strict mode).
    #[error("{message}")]
    Rejected { message: String },
    /// The feature-definition file breaks one of its rules.
    #[error("feature definitions {}: {message}", path.display())]
    FeatureSpec { path: PathBuf, message: String },
    /// The feature definitions name events that never occur in the log.
    #[error("feature definitions name events that never occur in the log: {}", names.join(", "))]
    UnknownEvents { names: Vec<String> },
    /// The run's configuration file breaks one of its rules.
    #[error("configuration {}: {message}", path.display())]
    Config { path: PathBuf, message: String },
    /// Another run holds the lock on the output folder.
    #[error("another churnrisk run (pid {pid}) is using {}; wait for it to finish (a lock left by a dead process is taken over automatically)", path.display())]
    Locked { path: PathBuf, pid: u32 },
    /// A command-line or configuration value is out of range.
    #[error("invalid {name}: {message}")]
    InvalidArgument { name: String, message: String },
    /// Too little data to train or evaluate.
    #[error("not enough data: {message}")]
    NotEnoughData { message: String },
    /// The eligibility gate: too few churned or retained users where a model is fitted or
    /// judged (a model fitted on a handful of churners is noise).
    #[error("not enough data: {what} hold {churned} churned and {retained} retained users; the minimums are {min_churned} churned and {min_retained} retained (lower them only if you accept a noisier model)")]
    TooFewLabels {
        what: String,
        churned: usize,
        retained: usize,
        min_churned: usize,
        min_retained: usize,
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
    /// A model file cannot score these features.
    #[error("model does not match the feature definitions: {message}")]
    FeatureMismatch { message: String },
    /// A model file is unreadable or of an unknown format version.
    #[error("model file {}: {message}", path.display())]
    BadModel { path: PathBuf, message: String },
    /// A feature matrix holds a null, NaN or infinite value.
    #[error("feature `{feature}` has a missing or non-finite value for row {row}")]
    NonFinite { feature: String, row: usize },
    /// The logistic solver failed.
    #[error("model fit failed: {0}")]
    Fit(String),
    /// polars reported an error.
    #[error("data engine: {0}")]
    Polars(#[from] polars::error::PolarsError),
}

/// Result alias for the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A TOML parse error as a person reads it: where (line and column, from 1) and what.
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
            Error::UnknownFormat { .. } => "unknown_format",
            Error::BadInputSet { .. } => "bad_input_set",
            Error::MissingColumn { .. } => "missing_column",
            Error::MappedColumnMissing { .. } => "mapped_column_missing",
            Error::CorruptFile { .. } => "corrupt_file",
            Error::BadColumnType { .. } => "bad_column_type",
            Error::BadTimestamp { .. } => "unparseable_timestamp",
            Error::EmptyValue { .. } => "missing_value",
            Error::WrongDelimiter { .. } => "wrong_delimiter",
            Error::Rejected { .. } => "too_many_rejects",
            Error::BadState { .. } => "bad_list_state",
            Error::FeatureSpec { .. } => "feature_definitions",
            Error::UnknownEvents { .. } => "unknown_events_in_features",
            Error::Config { .. } => "config",
            Error::Locked { .. } => "locked",
            Error::InvalidArgument { .. } => "invalid_argument",
            Error::NotEnoughData { .. } => "gate_refused",
            Error::TooFewLabels { .. } => "gate_refused",
            Error::PopulationTooSmall { .. } => "gate_refused",
            Error::FeatureMismatch { .. } => "feature_mismatch",
            Error::BadModel { .. } => "bad_model",
            Error::NonFinite { .. } => "non_finite_feature",
            Error::Fit(_) => "fit",
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
            | Error::BadInputSet { .. }
            | Error::MissingColumn { .. }
            | Error::CorruptFile { .. }
            | Error::BadColumnType { .. }
            | Error::BadTimestamp { .. }
            | Error::EmptyValue { .. }
            | Error::WrongDelimiter { .. }
            | Error::Rejected { .. }
            | Error::BadState { .. }
            | Error::NonFinite { .. } => Category::Data,
            Error::FeatureSpec { .. }
            | Error::Config { .. }
            | Error::UnknownEvents { .. }
            | Error::InvalidArgument { .. }
            | Error::MappedColumnMissing { .. }
            | Error::FeatureMismatch { .. }
            | Error::BadModel { .. } => Category::Config,
            Error::NotEnoughData { .. }
            | Error::TooFewLabels { .. }
            | Error::PopulationTooSmall { .. } => Category::Refused,
            Error::Locked { .. } => Category::Busy,
            Error::Write { .. } => Category::Output,
            Error::Fit(_) | Error::Polars(_) => Category::Internal,
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
