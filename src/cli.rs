//! Command-line types (clap derive). Doc comments here are the `--help` text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use churnrisk::ingest::{ColumnOverrides, Preset, Shard, SubscriptionColumns, UserColumns};
use churnrisk::labels;
use churnrisk::model::train;
use churnrisk::run::config;

/// Exit codes, shown under `--help`.
pub const EXIT_CODES: &str = "Exit codes:
  0  success
  1  internal error (a defect: please report it)
  2  usage error (unknown flag, missing argument)
  3  bad input data (missing or unreadable file, missing column, wrong delimiter, empty
     log, or rejected rows above --max-reject-fraction / any in --strict mode)
  4  bad configuration (feature definitions, arguments, model file that does not match)
  5  refused: too little data to train or score responsibly, or a late log
  6  busy: another run holds the lock on the output folder
  7  an output could not be written (permissions, disk full, a file where a folder goes)";

/// Predicts which users are about to churn, from a product event log, and writes a ranked,
/// explained list of them with the re-engagement play that fits each.
#[derive(Debug, Parser)]
#[command(name = "churnrisk", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// Print only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// More detail on stderr: -v debug, -vv trace. Without it, progress and info lines
    /// appear only when stderr is a terminal; under cron only warnings and errors.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Log line format on stderr: `text`, or `json` (one object per line, for log shippers).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// `churnrisk: message` lines.
    Text,
    /// JSON lines with timestamp, level and message.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole job: load, (re)train when needed, score, write the ranked list.
    /// With no arguments it runs on the shipped sample in data/.
    Run(RunArgs),
    /// Train a model on a time-based observation panel and print its evaluation.
    Train(TrainArgs),
    /// Score users active at the as-of date with a trained model; write the ranked list.
    Score(ScoreArgs),
    /// Generate a realistic, seeded sample event log (events, users, subscriptions).
    Generate(GenerateArgs),
    /// Write the analyst's report: one self-contained HTML file (and the same figures as
    /// JSON) on the model, drift, the at-risk population, engagement and, given a past
    /// list, whether its plays worked.
    Report(ReportArgs),
    /// Put two models side by side on the same labelled date (the latest whose horizon
    /// has passed), to decide which to promote.
    Compare(CompareArgs),
    /// Combine the part files of `score --shard i/n` workers into the one ranked list an
    /// unsharded `score` writes.
    Merge(MergeArgs),
    /// Read and check an event log (any format, preset or column mapping) without
    /// scoring: print what was read and set aside, optionally write the canonical events.
    Check(CheckArgs),
}

impl Command {
    /// The input flags of a command that reads the log.
    pub fn input_mut(&mut self) -> Option<&mut InputArgs> {
        match self {
            Command::Train(a) => Some(&mut a.input),
            Command::Score(a) => Some(&mut a.input),
            Command::Report(a) => Some(&mut a.input),
            Command::Compare(a) => Some(&mut a.input),
            Command::Check(a) => Some(&mut a.input),
            Command::Run(_) | Command::Generate(_) | Command::Merge(_) => None,
        }
    }
}

impl InputArgs {
    /// The event log (given, or named by the `--config` applied before the command runs).
    pub fn events(&self) -> &std::path::Path {
        self.events.as_deref().unwrap_or(std::path::Path::new(""))
    }
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The part files (every shard of one run, any order).
    #[arg(required = true)]
    pub parts: Vec<PathBuf>,
    /// Where to write the ranked list: `.csv`, `.jsonl` or `.parquet`.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub list: ListArgs,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Write the canonical events (user_id, timestamp, event, value, session_id; sorted
    /// by user and time) to this CSV (`-`: to stdout, instead of the summary).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Check the log for a scheduled night of this date (YYYY-MM-DD), as a nightly `run`
    /// checks it: a log with no event on the days right before it (more than
    /// --max-missing-days) is a late export and is refused (exit 5, kind `log_late`). For an
    /// orchestrator's check step; not for a backfill of a past night.
    #[arg(long, value_name = "DATE")]
    pub night: Option<String>,
    /// Days right before --night that may have no event (default 0: the log must reach
    /// the day before the night).
    #[arg(long, requires = "night", default_value_t = 0)]
    pub max_missing_days: u32,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// The candidate model.
    #[arg(long)]
    pub model: PathBuf,
    /// The model to compare it with (e.g. the one in production).
    #[arg(long)]
    pub against: PathBuf,
    /// The as-of date; the labelled date is this minus the churn horizon. Default: the
    /// day after the log's last event.
    #[arg(long)]
    pub as_of: Option<String>,
    /// Also write the figures as JSON here.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// The model to report on; by default the shipped sample's (the bundle of data/ and
    /// models/sample.json), as `run` without a config.
    #[arg(long, default_value = config::SAMPLE_MODEL_PATH)]
    pub model: PathBuf,
    /// A previous model whose stored validation figures are shown beside.
    #[arg(long)]
    pub previous_model: Option<PathBuf>,
    /// The as-of date (YYYY-MM-DD); default: the day after the log's last event.
    #[arg(long)]
    pub as_of: Option<String>,
    /// Days before the as-of date over which the engagement metrics are computed.
    #[arg(long, default_value_t = 28)]
    pub window_days: u32,
    /// A past at_risk.csv (with its group column) to measure treatment against control.
    #[arg(long)]
    pub list: Option<PathBuf>,
    /// The CRM's contacts export for that list: user_id, contacted_at[, play].
    #[arg(long, requires = "list")]
    pub contacts: Option<PathBuf>,
    /// The HTML file to write; the JSON goes beside it (same name, .json).
    #[arg(long, default_value = "out/report.html")]
    pub out: PathBuf,
}

/// Where the data comes from.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// Read the inputs as a night's config file names them: its `[inputs]` (events, preset,
    /// delimiter, columns, users, subscriptions and their column mappings, features) and
    /// `[validation]`, so the log is read as the night reads it. Instead of those flags.
    #[arg(long, conflicts_with_all = [
        "events", "preset", "columns", "delimiter", "header", "users", "user_columns", "subscriptions",
        "subscription_columns", "features", "strict", "max_reject_fraction",
    ])]
    pub config: Option<PathBuf>,
    /// Event log: CSV/TSV, NDJSON or Parquet (plain or gzipped, or a zip of them) with
    /// user_id, timestamp, event [, value, session_id, event_id] (or the fields of
    /// --preset / --column); a file, a folder of files (hive-partitioned Parquet too) or a
    /// quoted glob.
    #[arg(long, required_unless_present = "config")]
    pub events: Option<PathBuf>,
    /// Read an analytics tool's export as it is: its identified user and anonymous ids
    /// (visits before sign-up count as the user's; anonymous-only traffic and identity
    /// calls are counted, not scored), event name, timestamp and event id fields.
    #[arg(long, value_enum)]
    pub preset: Option<Preset>,
    /// Map a field to the export's column: `user_id=uid`, `anonymous_id=anon`,
    /// `event=name`, `timestamp=ts`, `timestamp_unit=s|ms|us|ns`, `event_id=id`,
    /// `value=amount`, `session_id=sid`, `identity_events=$identify,$set` (repeat; overrides
    /// the preset). Fallbacks: `user_id=a,b`.
    #[arg(long = "column", value_name = "FIELD=COLUMN")]
    pub columns: Vec<String>,
    /// Keep only the users of shard i of n (stable user-id hash): run n workers, then
    /// `churnrisk merge` their outputs.
    #[arg(long, value_name = "i/n", value_parser = crate::cmd::flags::shard)]
    pub shard: Option<Shard>,
    /// Field separator of a CSV event log: one character (`;`, `|`, `\t` for tab) or
    /// `auto`. Default: tab for `.tsv` files and headerless Snowplow TSV, else `,`. The
    /// users and subscriptions tables keep their own (`[validation] delimiter`).
    #[arg(long, value_name = "CHAR")]
    pub delimiter: Option<String>,
    /// The column names of a CSV event log written without a header row, in order and
    /// separated by commas (Snowflake's and Redshift's unloads write none by default):
    /// every line of every file is then a row.
    #[arg(long, value_name = "NAME,NAME,…")]
    pub header: Option<String>,
    /// `[inputs.columns]` of a config file (never a flag).
    #[arg(skip)]
    pub column_overrides: ColumnOverrides,
    /// Users table: user_id, signup_at [, email, crm_id, account, plan].
    #[arg(long)]
    pub users: Option<PathBuf>,
    /// Map a users-table field to the table's column, e.g. `user_id=id`,
    /// `signup_at=created_at`, `account=company_name` (repeat).
    #[arg(long = "user-column", value_name = "FIELD=COLUMN")]
    pub user_columns: Vec<String>,
    /// `[inputs.user_columns]` of a config file (never a flag).
    #[arg(skip)]
    pub user_column_overrides: UserColumns,
    /// Subscriptions table (user_id, start_date, end_date [, interval, interval_count,
    /// status, trial_end]; Stripe's export columns are read as they are): switches to the
    /// subscription churn definition.
    #[arg(long)]
    pub subscriptions: Option<PathBuf>,
    /// Map a subscriptions field to the table's column, e.g. `user_id=user_id (metadata)`
    /// for a Stripe export whose customer ids are not the log's user ids (repeat).
    #[arg(long = "subscription-column", value_name = "FIELD=COLUMN")]
    pub subscription_columns: Vec<String>,
    /// `[inputs.subscription_columns]` of a config file (never a flag).
    #[arg(skip)]
    pub subscription_column_overrides: SubscriptionColumns,
    /// Feature definitions (TOML).
    #[arg(long, default_value = "features/default.toml")]
    pub features: PathBuf,
    #[command(flatten)]
    pub validation: ValidationArgs,
}

/// What to do with rows that break the input contract.
#[derive(Debug, Clone, Args)]
pub struct ValidationArgs {
    /// Fail on any rejected row (duplicates excepted: their first copy is kept).
    #[arg(long)]
    pub strict: bool,
    /// Fail when more than this share of a file's rows is rejected.
    #[arg(long, default_value_t = 0.01)]
    pub max_reject_fraction: f64,
    /// Write the rejected rows (file, line, class, detail, raw) to this CSV.
    #[arg(long)]
    pub rejects: Option<PathBuf>,
    /// A config file's `[validation]` (`--config`), which then sets the read policy.
    #[arg(skip)]
    pub from_config: Option<config::ValidationConfig>,
}

/// How churn is defined.
#[derive(Debug, Args)]
pub struct LabelArgs {
    /// Days after the as-of date in which churn is observed.
    #[arg(long, default_value_t = labels::HORIZON_DAYS)]
    pub horizon_days: u32,
    /// Days before the as-of date in which one event makes a user active.
    #[arg(long, default_value_t = labels::ACTIVE_DAYS)]
    pub active_days: u32,
    /// Under the inactivity definition, what counts as still using the product.
    #[arg(long, value_enum, default_value_t = SignalArg::ValueAction)]
    pub churn_signal: SignalArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SignalArg {
    /// A value action in the horizon.
    #[value(alias = "value_action")]
    ValueAction,
    /// Any event in the horizon.
    #[value(alias = "any_event")]
    AnyEvent,
}

impl From<SignalArg> for churnrisk::labels::Signal {
    fn from(s: SignalArg) -> Self {
        match s {
            SignalArg::ValueAction => Self::ValueAction,
            SignalArg::AnyEvent => Self::AnyEvent,
        }
    }
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub labels: LabelArgs,
    /// The as-of date T (YYYY-MM-DD, UTC): the panel ends at T minus the horizon.
    #[arg(long)]
    pub as_of: String,
    /// Where to write the model (JSON).
    #[arg(long, default_value = config::MODEL_PATH)]
    pub model: PathBuf,
    /// How many weekly as-of dates the observation panel may hold.
    #[arg(long, default_value_t = train::PANEL_DATES)]
    pub panel_dates: usize,
    /// Days between panel dates.
    #[arg(long, default_value_t = train::PANEL_STEP_DAYS)]
    pub panel_step_days: u32,
    /// Eligibility gate: fewest churned users on the training dates and on the validation date.
    #[arg(long, default_value_t = train::MIN_CHURNED)]
    pub min_churned: usize,
    /// Eligibility gate: fewest retained users on the training dates and on the validation date.
    #[arg(long, default_value_t = train::MIN_RETAINED)]
    pub min_retained: usize,
    /// L2 strength to try, per row (the penalty against the mean log loss, so it means the
    /// same on the refit over more rows; scikit-learn's C is 1 / (alpha × rows)); repeat
    /// for several. Default 0.001 0.01 0.1 1: the one with the lowest validation log
    /// loss wins. One value skips the search.
    #[arg(long = "alpha", value_name = "ALPHA")]
    pub alphas: Vec<f64>,
    /// Train and validate only on users who signed up on or after this date (needs
    /// --users with signup_at): a model for new cohorts.
    #[arg(long)]
    pub since: Option<String>,
    /// Train and validate only on the weekly signup cohort starting on this Monday
    /// (YYYY-MM-DD; repeat for several).
    #[arg(long = "cohort")]
    pub cohorts: Vec<String>,
}

/// Risk tiers and which users the written list holds.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// How tiers are set: by probability thresholds, or the top N users, or the top N
    /// percent of users.
    #[arg(long, value_enum, default_value_t = TierMode::Probability)]
    pub tiers: TierMode,
    /// High tier: a probability (default 0.5), a user count (`--tiers top`, required) or a
    /// percentage (`--tiers top-percent`, default 10).
    #[arg(long)]
    pub high: Option<f64>,
    /// Medium tier and above, likewise (defaults 0.25 and 30 percent).
    #[arg(long)]
    pub medium: Option<f64>,
    /// Only the first N users (after the other filters) in the written list.
    #[arg(long)]
    pub top: Option<usize>,
    /// Only users of this tier or riskier in the written list.
    #[arg(long, value_enum)]
    pub min_tier: Option<TierArg>,
    /// Only users on this plan (repeat for several).
    #[arg(long = "plan")]
    pub plans: Vec<String>,
    /// Only users of this account (repeat for several).
    #[arg(long = "account")]
    pub accounts: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TierMode {
    Probability,
    Top,
    #[value(alias = "top_percent")]
    TopPercent,
}

impl From<TierMode> for churnrisk::list::rank::TierMode {
    fn from(m: TierMode) -> Self {
        match m {
            TierMode::Probability => Self::Probability,
            TierMode::Top => Self::Top,
            TierMode::TopPercent => Self::TopPercent,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TierArg {
    High,
    Medium,
    Low,
}

impl From<TierArg> for churnrisk::list::rank::Tier {
    fn from(t: TierArg) -> Self {
        match t {
            TierArg::High => Self::High,
            TierArg::Medium => Self::Medium,
            TierArg::Low => Self::Low,
        }
    }
}

/// List formats of `run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatOut {
    /// at_risk.csv
    Csv,
    /// at_risk.jsonl
    Jsonl,
    /// at_risk.parquet
    Parquet,
    /// hubspot/at_risk_hubspot_001.csv, …
    Hubspot,
    /// salesforce/at_risk_salesforce_001.csv, …
    Salesforce,
}

impl From<FormatOut> for config::OutputFormat {
    fn from(f: FormatOut) -> Self {
        match f {
            FormatOut::Csv => Self::Csv,
            FormatOut::Jsonl => Self::Jsonl,
            FormatOut::Parquet => Self::Parquet,
            FormatOut::Hubspot => Self::Hubspot,
            FormatOut::Salesforce => Self::Salesforce,
        }
    }
}

#[derive(Debug, Args)]
pub struct ScoreArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// The model to score with.
    #[arg(long, default_value = config::MODEL_PATH)]
    pub model: PathBuf,
    /// The as-of date T (YYYY-MM-DD, UTC); only events before it are read.
    #[arg(long)]
    pub as_of: String,
    /// Where to write the ranked list: `.csv`, `.jsonl` or `.parquet`; with --shard, the
    /// shard's part file for `churnrisk merge` (`.jsonl`).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub list: ListArgs,
}

/// The shipped sample's folder and feature file: `run` without a config reads them by
/// default, with the model `config::SAMPLE_MODEL_PATH`.
pub const SAMPLE_DATA: &str = "data";
pub const SAMPLE_FEATURES: &str = "features/default.toml";

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The nightly configuration file (TOML; see data/churnrisk.toml). Without it, `run`
    /// works on the shipped sample with the flags below.
    #[arg(long, conflicts_with_all = ["data", "features", "model", "out", "tiers", "high", "medium", "top", "min_tier", "plans", "accounts", "formats", "strict", "max_reject_fraction", "control_share"])]
    pub config: Option<PathBuf>,
    /// Folder with events.csv.gz (or events.csv / events.parquet) and optional users.csv.
    #[arg(long, default_value = SAMPLE_DATA)]
    pub data: PathBuf,
    /// Feature definitions (TOML).
    #[arg(long, default_value = SAMPLE_FEATURES)]
    pub features: PathBuf,
    /// The model; trained and written here when missing or not matching the features. On
    /// the shipped sample (data/ with features/default.toml) models/sample.json; required
    /// with another --data or --features, so the shipped model is never overwritten. With
    /// --config, the config's `[model] path` (default models/churn_model.json).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Output folder for the lists, changes.csv, accounts.csv, rejects.csv and manifest.json.
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    /// The as-of date (YYYY-MM-DD, UTC); overrides the config. Default without a config:
    /// the day after the log's last event; with one: its `as_of`, else today 00:00 UTC.
    #[arg(long)]
    pub as_of: Option<String>,
    /// Retrain even when the model is fresh and matches.
    #[arg(long)]
    pub retrain: bool,
    /// Days right before the night that may have no event (overrides `[inputs]
    /// max_missing_days`; default 0: the log must reach the day before the night). On a
    /// nightly run (no as-of date given) a log that ends earlier is a late export and the
    /// night is refused (exit 5); with a date given it is warned about.
    #[arg(long)]
    pub max_missing_days: Option<u32>,
    /// Without a config: share of users held out as an untouched control group (the
    /// config's `[experiment] control_share`).
    #[arg(long, default_value_t = churnrisk::list::experiment::DEFAULT_CONTROL_SHARE)]
    pub control_share: f64,
    /// Without a config: list formats to write besides `at_risk.csv`, which is always written (repeat for several).
    #[arg(long = "format", value_enum)]
    pub formats: Vec<FormatOut>,
    /// Without a config: fail on any rejected row (the config's `[validation] strict`).
    #[arg(long)]
    pub strict: bool,
    /// Without a config: fail when more than this share of a file's rows is rejected.
    #[arg(long, default_value_t = 0.01)]
    pub max_reject_fraction: f64,
    #[command(flatten)]
    pub list: ListArgs,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Which product to simulate: `saas` (logins, sessions, onboarding; churn follows
    /// visible decline) or `purchases` (a shop's orders with silent BG/NBD-style dropout;
    /// also writes the log's features.toml).
    #[arg(long, value_enum, default_value_t = ScenarioArg::Saas)]
    pub scenario: ScenarioArg,
    /// Output folder.
    #[arg(long, default_value = "data")]
    pub out: PathBuf,
    /// Number of users.
    #[arg(long, default_value_t = 2000)]
    pub users: usize,
    /// Days simulated.
    #[arg(long, default_value_t = 182)]
    pub days: u32,
    /// First simulated day (YYYY-MM-DD).
    #[arg(long, default_value = "2026-01-05")]
    pub start: String,
    /// Random seed: the same seed gives the same files.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Events file format.
    #[arg(long, value_enum, default_value_t = FormatArg::CsvGz)]
    pub format: FormatArg,
    /// Simulate re-engagement contacts for the treatment users on this past list
    /// (at_risk.csv with its group column): see --contact-uplift.
    #[arg(long)]
    pub contacts_from: Option<PathBuf>,
    /// Of the contacted users who would not have come back within 28 days of the list,
    /// this share does (the simulator's known effect; control users are never touched).
    #[arg(long, default_value_t = 0.3, requires = "contacts_from")]
    pub contact_uplift: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScenarioArg {
    /// A reporting SaaS: events.csv.gz, users, subscriptions, truth
    Saas,
    /// A shop's purchase log: events, users, truth, features.toml (CSV formats only)
    Purchases,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// events.csv
    Csv,
    /// events.csv.gz
    CsvGz,
    /// events.parquet (written a row group at a time: use it for 10M+ events)
    Parquet,
}
