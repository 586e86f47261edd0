//! The nightly run's configuration file (`churnrisk run --config churnrisk.toml`): serde
//! types with every key documented here, their defaults, and the one check of their rules.
//! Relative paths are resolved against the folder of the config file. Unknown keys are an
//! error. See `data/churnrisk.toml` for a complete example.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{ConfigProblem, Error, Result};
use crate::ingest::{ColumnOverrides, Preset, ReadPolicy, SubscriptionColumns, UserColumns};
use crate::labels::Signal;
use crate::list::rank::{Tier, TierMode, TierRule};
use crate::model::{policy, train};

/// The whole file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// The as-of date T (`YYYY-MM-DD` or an ISO-8601 date-time, UTC). Default: today at
    /// 00:00 UTC; set it for backfills.
    #[serde(default, deserialize_with = "date_text")]
    pub as_of: Option<String>,
    /// Where the data comes from.
    pub inputs: InputsConfig,
    /// How churn is defined.
    #[serde(default)]
    pub labels: LabelsConfig,
    /// The model and when to retrain it.
    #[serde(default)]
    pub model: ModelConfig,
    /// Where and how the ranked list is written.
    #[serde(default)]
    pub output: OutputConfig,
    /// What makes a row a reject, and how many rejects a run tolerates.
    #[serde(default)]
    pub validation: ValidationConfig,
    /// Drift thresholds and whether drift retrains.
    #[serde(default)]
    pub drift: DriftConfig,
    /// The control group that measures the plays.
    #[serde(default)]
    pub experiment: ExperimentConfig,
}

/// `[experiment]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExperimentConfig {
    /// Share of users held out as control: marked `control` in the list, left out of the
    /// CRM files, not to be contacted (default 0.1; 0 turns the control group off; at
    /// most 0.5).
    pub control_share: f64,
    /// Salt of the hash that draws the group; change it to start a new experiment
    /// (default `churnrisk-control-1`).
    pub salt: String,
}

impl Default for ExperimentConfig {
    fn default() -> Self {
        ExperimentConfig {
            control_share: crate::list::experiment::DEFAULT_CONTROL_SHARE,
            salt: crate::list::experiment::DEFAULT_SALT.into(),
        }
    }
}

/// `[validation]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ValidationConfig {
    /// Field separator of the CSV inputs, one character (default `","`; `"\t"` for tab), or
    /// `"auto"`: per file, whichever of `,` `;` tab `|` splits the header into most fields.
    pub delimiter: String,
    /// Fail the run on any rejected row; duplicates, whose first copy is kept, excepted
    /// (default false).
    pub strict: bool,
    /// Fail the run when more than this share of any input file's rows is rejected
    /// (default 0.01; duplicates do not count).
    pub max_reject_fraction: f64,
    /// A field longer than this many bytes makes its row a reject (default 65536).
    pub max_field_bytes: usize,
    /// When set, events with any other name are rejected as `unknown_event`
    /// (default: unset, every name is accepted).
    pub known_events: Option<Vec<String>>,
    /// Timestamps later than the run's clock plus this many minutes are rejected as
    /// `future_timestamp` (default 60).
    pub clock_skew_minutes: u32,
}

impl Default for ValidationConfig {
    fn default() -> Self {
        ValidationConfig {
            delimiter: ",".into(),
            strict: false,
            max_reject_fraction: 0.01,
            max_field_bytes: 65_536,
            known_events: None,
            clock_skew_minutes: 60,
        }
    }
}

impl ValidationConfig {
    /// The read policy for a run whose clock reads `now_ms`.
    pub fn policy(&self, now_ms: i64) -> ReadPolicy {
        ReadPolicy {
            delimiter: if self.delimiter == "auto" {
                None
            } else {
                Some(delimiter_byte(&self.delimiter).unwrap_or(b','))
            },
            events_delimiter: None,
            events_header: None,
            header: None,
            max_field_bytes: self.max_field_bytes,
            known_events: self
                .known_events
                .as_ref()
                .map(|k| k.iter().cloned().collect()),
            now_ms,
            clock_skew_ms: i64::from(self.clock_skew_minutes) * 60_000,
            strict: self.strict,
            max_reject_fraction: self.max_reject_fraction,
        }
    }
}

/// A delimiter setting: `auto` (`None`: picked per file) or one character.
pub fn parse_delimiter(name: &str, text: &str) -> crate::error::Result<Option<u8>> {
    if text == "auto" {
        return Ok(None);
    }
    delimiter_byte(text)
        .map(Some)
        .ok_or_else(|| crate::error::Error::InvalidArgument {
            name: name.into(),
            message: format!(
                "must be one character such as \",\", \";\" or \"\\t\", or \"auto\", not {text:?}"
            ),
        })
}

fn delimiter_byte(text: &str) -> Option<u8> {
    match text {
        "\\t" | "\t" => Some(b'\t'),
        t if t.len() == 1 && t.is_ascii() && t != "\"" && t != "\n" && t != "\r" => {
            Some(t.as_bytes()[0])
        }
        _ => None,
    }
}

/// `[drift]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DriftConfig {
    /// PSI at or above which the run warns (default 0.1).
    pub warn: f64,
    /// PSI at or above which the population has moved: retrain (default 0.2).
    pub act: f64,
    /// Retrain when the score's or any feature's PSI reaches `act` (default true).
    pub retrain: bool,
}

impl Default for DriftConfig {
    fn default() -> Self {
        DriftConfig {
            warn: 0.1,
            act: 0.2,
            retrain: true,
        }
    }
}

/// `[inputs]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputsConfig {
    /// Event log: CSV, CSV.gz or Parquet (required).
    pub events: PathBuf,
    /// Users table (`user_id`, `signup_at`, CRM columns). Optional.
    #[serde(default)]
    pub users: Option<PathBuf>,
    /// Column of each users-table field (`user_id`, `signup_at`, `email`, `crm_id`,
    /// `account`, `plan`) where the table does not use churnrisk's names. Optional.
    #[serde(default)]
    pub user_columns: UserColumns,
    /// Subscriptions table; when given, churn follows the subscription definition. Optional.
    #[serde(default)]
    pub subscriptions: Option<PathBuf>,
    /// Column of each subscriptions field (`user_id`, `start_date`, `end_date`,
    /// `interval`, `interval_count`, `status`, `trial_end`) where the table does not use
    /// churnrisk's or Stripe's names. Optional.
    #[serde(default)]
    pub subscription_columns: SubscriptionColumns,
    /// Feature definitions (TOML). Default: `features/default.toml` in the current folder,
    /// else the same definitions built into the binary.
    #[serde(default)]
    pub features: Option<PathBuf>,
    /// Field separator of a CSV event log (one character, `\t` for tab, or `auto`).
    /// Default: tab for `.tsv` and headerless Snowplow files, else `[validation] delimiter`.
    #[serde(default)]
    pub delimiter: Option<String>,
    /// Column names of a CSV event log without a header row, in order, comma-separated
    /// (a warehouse's unload). Optional: by default a file's first line is its header.
    #[serde(default)]
    pub header: Option<String>,
    /// The analytics export the log is: `segment`, `amplitude`, `mixpanel`, `snowplow`,
    /// `ga4`. Optional.
    #[serde(default)]
    pub preset: Option<Preset>,
    /// Source column of each canonical field (`user_id`, `anonymous_id`, `event`,
    /// `timestamp`, `timestamp_unit`, `event_id`, `value`, `session_id`); overrides the
    /// preset. Optional.
    #[serde(default)]
    pub columns: ColumnOverrides,
    /// Days right before the night that may have no event at all (default 0: the log
    /// must reach the day before the night). More is a late or cut export, and the night
    /// is refused (exit 5); a product with quiet days (a weekend) raises it.
    #[serde(default)]
    pub max_missing_days: u32,
}

/// `[labels]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LabelsConfig {
    /// Days after T in which churn is observed (default 28).
    pub horizon_days: u32,
    /// Days before T in which one event makes a user active (default 28).
    pub active_days: u32,
    /// Inactivity definition: `value_action` (default) or `any_event` keeps a user retained.
    pub churn_signal: Signal,
}

impl Default for LabelsConfig {
    fn default() -> Self {
        LabelsConfig {
            horizon_days: crate::labels::HORIZON_DAYS,
            active_days: crate::labels::ACTIVE_DAYS,
            churn_signal: Signal::ValueAction,
        }
    }
}

/// Where `train`, `score` and a configured `run` keep the model unless told otherwise.
/// (`run` and `report` without a config work on the shipped sample: `SAMPLE_MODEL_PATH`.)
pub const MODEL_PATH: &str = "models/churn_model.json";
/// The model trained on the shipped sample data (`data/`), for `run` and `report` without
/// a config.
pub const SAMPLE_MODEL_PATH: &str = "models/sample.json";

/// `[model]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// The model file (default `models/churn_model.json`).
    pub path: PathBuf,
    /// Retrain when the model was trained as of more than this many days before T
    /// (default 28; 0 retrains every run).
    pub max_age_days: u32,
    /// Weekly as-of dates in the training panel (default 12).
    pub panel_dates: usize,
    /// Days between panel dates (default 7).
    pub panel_step_days: u32,
    /// Eligibility gate: fewest churned users accepted on the training dates and on the
    /// validation date (default 50).
    pub min_churned: usize,
    /// Eligibility gate: fewest retained users accepted likewise (default 50).
    pub min_retained: usize,
    /// Refuse to score when the population at T is smaller than this share of the users
    /// the model was validated on (default 0.1): a sign of a truncated log.
    pub min_population_share: f64,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            path: PathBuf::from(MODEL_PATH),
            max_age_days: policy::MAX_AGE_DAYS,
            panel_dates: train::PANEL_DATES,
            panel_step_days: train::PANEL_STEP_DAYS,
            min_churned: train::MIN_CHURNED,
            min_retained: train::MIN_RETAINED,
            min_population_share: policy::MIN_POPULATION_SHARE,
        }
    }
}

/// `[output]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputConfig {
    /// Folder for the list, `changes.csv`, `accounts.csv`, `rejects.csv` and
    /// `manifest.json` (default `out`).
    pub dir: PathBuf,
    /// How tiers are set: `probability` (default; `high`/`medium` are probabilities),
    /// `top` (they are user counts: the top `high` users are high, the top `medium` at
    /// least medium) or `top_percent` (they are percentages of the scored users).
    pub tiers: TierMode,
    /// The high threshold (default 0.5 for `probability`, 10 for `top_percent`; `top`
    /// needs it).
    pub high: Option<f64>,
    /// The medium threshold (default 0.25 for `probability`, 30 for `top_percent`; `top`
    /// needs it).
    pub medium: Option<f64>,
    /// The tier a user must reach to be "on the list" for new / still / recovered and the
    /// CRM files (default `medium`).
    pub list_min_tier: Tier,
    /// Files to write besides `at_risk.csv`, which is always written: any of `jsonl`
    /// (`at_risk.jsonl`), `parquet` (`at_risk.parquet`), `hubspot`
    /// (`hubspot/at_risk_hubspot_001.csv`, …), `salesforce`
    /// (`salesforce/at_risk_salesforce_001.csv`, …); `csv` may be named. Default `["csv"]`.
    pub formats: Vec<OutputFormat>,
    /// Only users of this tier or riskier in the written lists (default: all tiers).
    pub min_tier: Option<Tier>,
    /// At most this many users in the written lists, from the top (default: all).
    pub top: Option<usize>,
    /// Only users on these plans in the written lists (default: all).
    pub plans: Vec<String>,
    /// Only users of these accounts in the written lists (default: all).
    pub accounts: Vec<String>,
    /// Rows per HubSpot import file (default 1,048,576, HubSpot's limit).
    pub hubspot_max_rows: usize,
    /// Records per Salesforce import file (default 50,000, the Data Import Wizard's
    /// limit; Data Loader takes more).
    pub salesforce_max_rows: usize,
    /// What the Salesforce file is keyed on: `id` (default; the Contact record id from
    /// `crm_id`, users without one left out and counted) or `external_id` (every user,
    /// `user_id` in the `salesforce_external_id` field). Never switched by the data.
    pub salesforce_key: crate::list::crm::SalesforceKey,
    /// The Salesforce external-id field for `salesforce_key = "external_id"` (default
    /// `Churnrisk_User_Id__c`).
    pub salesforce_external_id: String,
}

impl OutputConfig {
    /// The tier rule its `tiers`, `high` and `medium` make.
    pub fn tier_rule(&self) -> Result<TierRule> {
        TierRule::from_mode(self.tiers, self.high, self.medium)
    }
}

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig {
            dir: PathBuf::from("out"),
            tiers: TierMode::Probability,
            high: None,
            medium: None,
            list_min_tier: Tier::Medium,
            formats: vec![OutputFormat::Csv],
            min_tier: None,
            top: None,
            plans: Vec::new(),
            accounts: Vec::new(),
            hubspot_max_rows: crate::list::crm::HUBSPOT_MAX_ROWS,
            salesforce_max_rows: crate::list::crm::SALESFORCE_MAX_ROWS,
            salesforce_key: crate::list::crm::SalesforceKey::default(),
            salesforce_external_id: "Churnrisk_User_Id__c".into(),
        }
    }
}

/// The files `run` can write from the list (`[output] formats`, `--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputFormat {
    /// `at_risk.csv`, always written.
    Csv,
    /// `at_risk.jsonl`
    Jsonl,
    /// `at_risk.parquet`
    Parquet,
    /// `hubspot/at_risk_hubspot_001.csv`, …
    Hubspot,
    /// `salesforce/at_risk_salesforce_001.csv`, …
    Salesforce,
}

impl OutputFormat {
    /// Its name in the config file, the manifest and file names.
    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Csv => "csv",
            OutputFormat::Jsonl => "jsonl",
            OutputFormat::Parquet => "parquet",
            OutputFormat::Hubspot => "hubspot",
            OutputFormat::Salesforce => "salesforce",
        }
    }

    /// `formats` with `csv` first when it is missing: the ranked list is the product,
    /// and a stale one must never sit beside a fresh night.
    pub fn with_csv(mut formats: Vec<OutputFormat>) -> Vec<OutputFormat> {
        if !formats.contains(&OutputFormat::Csv) {
            formats.insert(0, OutputFormat::Csv);
        }
        formats
    }
}

/// A date written as text (`as_of = "2026-07-06"`) or as a TOML date, unquoted
/// (`as_of = 2026-07-06`), which TOML reads as a date value rather than a string.
fn date_text<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum DateText {
        Text(String),
        Date(toml::value::Datetime),
    }
    Ok(match Option::<DateText>::deserialize(d)? {
        None => None,
        Some(DateText::Text(s)) => Some(s),
        Some(DateText::Date(d)) => Some(d.to_string()),
    })
}

/// `key` holds a value outside `min..=max`.
fn in_range(key: &'static str, value: f64, (min, max): (f64, f64)) -> Result<(), ConfigProblem> {
    match (min..=max).contains(&value) {
        true => Ok(()),
        false => Err(ConfigProblem::OutOfRange {
            key,
            value,
            min,
            max,
        }),
    }
}

impl RunConfig {
    /// Reads a config file and resolves its relative paths against its folder.
    pub fn load(path: &Path) -> Result<Self> {
        if !path.is_file() {
            return Err(Error::Config {
                path: path.into(),
                problem: ConfigProblem::NotAFile {
                    folder: path.is_dir(),
                },
            });
        }
        let text = std::fs::read_to_string(path).map_err(|e| Error::read(path, e))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::from_toml(&text, path, base)
    }

    /// The rules the file's values must keep, in the order they are checked.
    fn check(&self) -> Result<(), ConfigProblem> {
        if self.labels.horizon_days == 0 || self.labels.active_days == 0 {
            return Err(ConfigProblem::ZeroDays);
        }
        let o = &self.output;
        if let Err(e) = o.tier_rule() {
            return Err(ConfigProblem::Tiers {
                source: Box::new(e),
            });
        }
        let share = self.experiment.control_share;
        in_range("[experiment] control_share", share, (0.0, 0.5))?;
        if o.hubspot_max_rows == 0 || o.salesforce_max_rows == 0 {
            return Err(ConfigProblem::ZeroCrmRows);
        }
        let share = self.model.min_population_share;
        in_range("[model] min_population_share", share, (0.0, 1.0))?;
        let v = &self.validation;
        if v.delimiter != "auto" && delimiter_byte(&v.delimiter).is_none() {
            return Err(ConfigProblem::Delimiter {
                value: v.delimiter.clone(),
            });
        }
        if let Some(d) = &self.inputs.delimiter {
            parse_delimiter("[inputs] delimiter", d).map_err(|e| {
                ConfigProblem::InputsDelimiter {
                    source: Box::new(e),
                }
            })?;
        }
        let fraction = v.max_reject_fraction;
        in_range("[validation] max_reject_fraction", fraction, (0.0, 1.0))?;
        let d = &self.drift;
        if !(d.warn > 0.0 && d.warn <= d.act) {
            return Err(ConfigProblem::Drift {
                warn: d.warn,
                act: d.act,
            });
        }
        Ok(())
    }

    /// Parses TOML text; `path` names the file in messages, `base` resolves relative paths.
    pub fn from_toml(text: &str, path: &Path, base: &Path) -> Result<Self> {
        let bad = |problem: ConfigProblem| Error::Config {
            path: path.into(),
            problem,
        };
        let mut cfg: RunConfig = toml::from_str(text).map_err(|e| {
            bad(ConfigProblem::Syntax {
                message: crate::error::toml_message(text, &e),
            })
        })?;
        cfg.check().map_err(bad)?;
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = normalize(&base.join(&*p));
            }
        };
        resolve(&mut cfg.inputs.events);
        cfg.inputs.features.as_mut().map(resolve);
        cfg.inputs.users.as_mut().map(resolve);
        cfg.inputs.subscriptions.as_mut().map(resolve);
        resolve(&mut cfg.model.path);
        resolve(&mut cfg.output.dir);
        Ok(cfg)
    }
}

/// Removes `.` and `name/..` pairs without touching the file system, so messages and the
/// manifest show `out/at_risk.csv` rather than `data/../out/at_risk.csv`.
fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RunConfig> {
        RunConfig::from_toml(text, Path::new("c.toml"), Path::new("/etc/churn"))
    }

    #[test]
    fn settings_are_typed_once_and_both_spellings_are_read() {
        let base = "[inputs]\nevents = \"e.csv\"\nfeatures = \"f.toml\"\n";
        let c = parse(&format!(
            "{base}[labels]\nchurn_signal = \"any-event\"\n[output]\ntiers = \"top-percent\"\nlist_min_tier = \"high\"\nformats = [\"hubspot\"]\n"
        ))
        .unwrap();
        assert_eq!(c.labels.churn_signal, Signal::AnyEvent);
        assert_eq!(c.output.tiers, TierMode::TopPercent);
        assert_eq!(c.output.list_min_tier, Tier::High);
        assert_eq!(
            c.output.tier_rule().unwrap(),
            TierRule::TopPercent {
                high: 10.0,
                medium: 30.0
            }
        );
        assert_eq!(
            OutputFormat::with_csv(c.output.formats),
            [OutputFormat::Csv, OutputFormat::Hubspot]
        );
        let d = parse(&format!(
            "{base}[labels]\nchurn_signal = \"value_action\"\n"
        ))
        .unwrap();
        assert_eq!(d.labels.churn_signal, Signal::ValueAction);
        for (bad, says) in [
            ("[output]\nformats = [\"xlsx\"]", "unknown variant `xlsx`"),
            (
                "[output]\nlist_min_tier = \"urgent\"",
                "unknown variant `urgent`",
            ),
            (
                "[output]\ntiers = \"top\"\nhigh = 5.0",
                "top tiers need both user counts",
            ),
        ] {
            let e = parse(&format!("{base}{bad}\n")).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn minimal_config_gets_documented_defaults_and_resolved_paths() {
        let c = parse("[inputs]\nevents = \"e.csv\"\nfeatures = \"/abs/f.toml\"\n").unwrap();
        assert_eq!(c.inputs.events, Path::new("/etc/churn/e.csv"));
        assert_eq!(c.inputs.features.as_deref(), Some(Path::new("/abs/f.toml")));
        assert_eq!(c.labels, LabelsConfig::default());
        assert_eq!(
            c.model.path,
            Path::new("/etc/churn/models/churn_model.json")
        );
        assert_eq!(c.model.max_age_days, 28);
        assert_eq!(c.output.dir, Path::new("/etc/churn/out"));
        assert_eq!(c.as_of, None);
    }

    #[test]
    fn relative_paths_are_normalized() {
        let c = RunConfig::from_toml(
            "[inputs]\nevents = \"e.csv\"\nfeatures = \"../features/f.toml\"\n",
            Path::new("data/c.toml"),
            Path::new("data"),
        )
        .unwrap();
        assert_eq!(
            c.inputs.features.as_deref(),
            Some(Path::new("features/f.toml"))
        );
        assert_eq!(c.inputs.events, Path::new("data/e.csv"));
        assert_eq!(normalize(Path::new("a/../..")), Path::new(".."));
        assert_eq!(normalize(Path::new("./x")), Path::new("x"));
    }

    #[test]
    fn reads_a_preset_and_column_overrides() {
        let c = parse(
            "[inputs]\nevents = \"exports/*.json.gz\"\nfeatures = \"f\"\npreset = \"amplitude\"\n\
             [inputs.columns]\nuser_id = [\"uid\", \"device_id\"]\ntimestamp_unit = \"ms\"\n",
        )
        .unwrap();
        assert_eq!(c.inputs.preset, Some(Preset::Amplitude));
        let map = crate::ingest::ColumnMap::build(c.inputs.preset, &c.inputs.columns).unwrap();
        assert_eq!(map.user_id, ["uid", "device_id"]);
        assert_eq!(map.event, ["event_type"]);
        assert_eq!(map.timestamp_unit, crate::ingest::TimestampUnit::Ms);
        assert!(parse("[inputs]\nevents = \"e\"\nfeatures = \"f\"\npreset = \"heap\"\n").is_err());
        assert!(parse(
            "[inputs]\nevents = \"e\"\nfeatures = \"f\"\n[inputs.columns]\nuserid = \"x\"\n"
        )
        .is_err());
        // A Stripe export whose product user id is a metadata column.
        let c = parse(
            "[inputs]\nevents = \"e\"\nfeatures = \"f\"\nsubscriptions = \"s.csv\"\n\
             [inputs.subscription_columns]\nuser_id = \"user_id (metadata)\"\n",
        )
        .unwrap();
        assert_eq!(
            c.inputs.subscription_columns.user_id.as_deref(),
            Some("user_id (metadata)")
        );
        assert!(parse(
            "[inputs]\nevents = \"e\"\nfeatures = \"f\"\n[inputs.subscription_columns]\nplan = \"x\"\n"
        )
        .is_err());
        // A company's users table.
        let c = parse(
            "[inputs]\nevents = \"e\"\nfeatures = \"f\"\nusers = \"u.csv\"\n\
             [inputs.user_columns]\nuser_id = \"id\"\nsignup_at = \"created_at\"\n",
        )
        .unwrap();
        let u = &c.inputs.user_columns;
        assert_eq!(
            (
                u.user_id.as_deref(),
                u.signup_at.as_deref(),
                u.plan.as_deref()
            ),
            (Some("id"), Some("created_at"), None)
        );
        assert!(parse(
            "[inputs]\nevents = \"e\"\nfeatures = \"f\"\n[inputs.user_columns]\nsignup = \"x\"\n"
        )
        .is_err());
    }

    #[test]
    fn dates_may_be_unquoted_and_errors_say_where() {
        let base = "[inputs]\nevents = \"e\"\nfeatures = \"f\"\n";
        let quoted = parse(&format!("as_of = \"2026-07-06\"\n{base}")).unwrap();
        let bare = parse(&format!("as_of = 2026-07-06\n{base}")).unwrap();
        assert_eq!(quoted.as_of.as_deref(), Some("2026-07-06"));
        assert_eq!(bare.as_of, quoted.as_of);
        let err = parse(&format!("{base}[labels]\nhorizon_days = \"x\"\n")).unwrap_err();
        assert!(
            err.to_string()
                .contains("line 5, column 16 (`horizon_days = \"x\"`)"),
            "{err}"
        );
        let err = parse(&format!("{base}[output\n")).unwrap_err();
        assert!(err.to_string().contains("line 4, column"), "{err}");
    }

    #[test]
    fn rejects_unknown_keys() {
        let err = parse("[inputs]\nevents = \"e\"\nfeatures = \"f\"\n[output]\nfolder = \"x\"\n")
            .unwrap_err();
        assert!(
            matches!(err, Error::Config { problem: ConfigProblem::Syntax { ref message }, .. } if message.contains("folder")),
            "{err}"
        );
    }

    #[test]
    fn rejects_missing_inputs_and_bad_thresholds() {
        assert!(matches!(
            parse("as_of = \"2026-01-01\"\n").unwrap_err(),
            Error::Config { .. }
        ));
        let t = "[inputs]\nevents = \"e\"\nfeatures = \"f\"\n[output]\nhigh = 0.2\nmedium = 0.4\n";
        assert!(matches!(
            parse(t).unwrap_err(),
            Error::Config {
                problem: ConfigProblem::Tiers { .. },
                ..
            }
        ));
    }

    #[test]
    fn rejects_values_out_of_range_naming_key_and_value() {
        let t = "[inputs]\nevents = \"e\"\nfeatures = \"f\"\n[experiment]\ncontrol_share = 0.7\n";
        let err = parse(t).unwrap_err();
        assert!(matches!(
            err,
            Error::Config {
                problem: ConfigProblem::OutOfRange {
                    key: "[experiment] control_share",
                    value: 0.7,
                    min: 0.0,
                    max: 0.5
                },
                ..
            }
        ));
        assert!(err
            .to_string()
            .ends_with("[experiment] control_share must be between 0 and 0.5, not 0.7"));
        let t = "[inputs]\nevents = \"e\"\nfeatures = \"f\"\n[drift]\nwarn = 0.5\nact = 0.2\n";
        assert!(matches!(
            parse(t).unwrap_err(),
            Error::Config {
                problem: ConfigProblem::Drift {
                    warn: 0.5,
                    act: 0.2
                },
                ..
            }
        ));
    }

    #[test]
    fn shipped_example_parses() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/churnrisk.toml");
        let c = RunConfig::load(&p).unwrap();
        assert!(c.inputs.events.is_file(), "{}", c.inputs.events.display());
        assert!(
            c.inputs.features.as_ref().is_some_and(|f| f.is_file()),
            "{}",
            c.inputs
                .features
                .as_deref()
                .unwrap_or(Path::new("-"))
                .display()
        );
    }
}
