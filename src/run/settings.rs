//! The night's settings, resolved once: a config file's keys over their defaults, or,
//! without a config (the shipped sample), the caller's choices over the same defaults.
//! Every default comes from the config types' `Default` (`run::config`), so a night with
//! and without a config file starts from one set of values. This module reads no flags
//! and names none; the binary maps its flags onto [`SampleChoices`].

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::labels::{Definition, LabelRule};
use crate::list::crm::SalesforceKey;
use crate::list::experiment::Split;
use crate::list::rank::{Tier, TierRule};
use crate::list::write::ListView;

use super::config::{
    DriftConfig, InputsConfig, LabelsConfig, ModelConfig, OutputConfig, OutputFormat, RunConfig,
    ValidationConfig,
};

/// Everything a night needs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The files read: events, users, subscriptions, feature definitions, and how the
    /// event log is parsed.
    pub inputs: InputsConfig,
    /// Row checks and reject limits.
    pub validation: ValidationConfig,
    /// How the night's date is chosen.
    pub as_of: AsOf,
    /// How churn is defined.
    pub rule: LabelRule,
    /// The production model file.
    pub model: PathBuf,
    /// Retrain when the model was trained as of more than this many days before the night.
    pub max_age_days: u32,
    /// Training panel: dates and days between them.
    pub panel: Panel,
    /// Eligibility gate: fewest churned and retained users, and the smallest share of the
    /// model's validated population accepted at scoring.
    pub gate: Gate,
    /// The output folder.
    pub out: PathBuf,
    /// What the list holds and where it goes.
    pub list: ListSettings,
    /// When drift warns and when it retrains.
    pub drift: DriftConfig,
}

/// How the night's date is chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AsOf {
    /// A date given by the operator (the config's `as_of`, or the caller's over it).
    Given(String),
    /// A configured night without a date: today at 00:00 UTC.
    Today,
    /// The sample without a date: the day after the log's last event.
    AfterLog,
}

/// What the list holds and where it goes.
#[derive(Debug, Clone)]
pub struct ListSettings {
    pub tiers: TierRule,
    /// The tier that puts a user on the list.
    pub list_tier: Tier,
    pub view: ListView,
    pub formats: Vec<OutputFormat>,
    pub split: Split,
    pub hubspot_max_rows: usize,
    pub salesforce_max_rows: usize,
    pub salesforce_key: SalesforceKey,
    pub salesforce_external_id: String,
}

/// A night without a config file: the sample's data folder and the caller's choices; every
/// other setting is the config file's default.
#[derive(Debug, Clone)]
pub struct SampleChoices {
    /// The folder holding the events file ([`find_events`]) and `users.csv`.
    pub data: PathBuf,
    pub features: PathBuf,
    pub model: PathBuf,
    pub out: PathBuf,
    pub as_of: Option<String>,
    pub tiers: TierRule,
    pub view: ListView,
    /// Files besides `at_risk.csv` (which is always written).
    pub formats: Vec<OutputFormat>,
    /// Share of users held out as control (checked by the caller: 0 to 0.5).
    pub control_share: f64,
    pub strict: bool,
    pub max_reject_fraction: f64,
}

impl Settings {
    /// A configured night: the file's keys (already over their defaults); `as_of`, when
    /// given, replaces the file's date.
    pub fn from_config(c: RunConfig, as_of: Option<String>) -> Result<Settings> {
        let definition = match c.inputs.subscriptions {
            Some(_) => Definition::Subscription,
            None => Definition::Inactivity,
        };
        let o = &c.output;
        let list = ListSettings {
            tiers: o.tier_rule()?,
            list_tier: o.list_min_tier,
            view: ListView {
                min_tier: o.min_tier,
                plans: o.plans.clone(),
                accounts: o.accounts.clone(),
                top: o.top,
            },
            formats: OutputFormat::with_csv(o.formats.clone()),
            split: Split {
                share: c.experiment.control_share,
                salt: c.experiment.salt.clone(),
            },
            hubspot_max_rows: o.hubspot_max_rows,
            salesforce_max_rows: o.salesforce_max_rows,
            salesforce_key: o.salesforce_key,
            salesforce_external_id: o.salesforce_external_id.clone(),
        };
        Ok(Settings {
            as_of: as_of.or(c.as_of).map_or(AsOf::Today, AsOf::Given),
            rule: rule(definition, &c.labels),
            model: c.model.path.clone(),
            max_age_days: c.model.max_age_days,
            panel: panel(&c.model),
            gate: gate(&c.model),
            out: c.output.dir.clone(),
            list,
            inputs: c.inputs,
            validation: c.validation,
            drift: c.drift,
        })
    }

    /// The sample night: the config file's defaults with the caller's choices over them.
    /// Its model is fixed, so it never goes stale.
    pub fn sample(s: SampleChoices) -> Result<Settings> {
        let (labels, model, output) = (
            LabelsConfig::default(),
            ModelConfig::default(),
            OutputConfig::default(),
        );
        let inputs = InputsConfig {
            events: find_events(&s.data)?,
            // Required as in a config's night: without it the CRM columns would vanish.
            users: Some(s.data.join("users.csv")),
            user_columns: Default::default(),
            subscriptions: None,
            subscription_columns: Default::default(),
            features: Some(s.features),
            delimiter: None,
            header: None,
            preset: None,
            columns: Default::default(),
            max_missing_days: 0,
        };
        let list = ListSettings {
            tiers: s.tiers,
            list_tier: output.list_min_tier,
            view: s.view,
            formats: OutputFormat::with_csv(s.formats),
            split: Split {
                share: s.control_share,
                ..Split::default()
            },
            hubspot_max_rows: output.hubspot_max_rows,
            salesforce_max_rows: output.salesforce_max_rows,
            salesforce_key: output.salesforce_key,
            salesforce_external_id: output.salesforce_external_id,
        };
        Ok(Settings {
            inputs,
            validation: ValidationConfig {
                strict: s.strict,
                max_reject_fraction: s.max_reject_fraction,
                ..ValidationConfig::default()
            },
            as_of: s.as_of.map_or(AsOf::AfterLog, AsOf::Given),
            rule: rule(Definition::Inactivity, &labels),
            model: s.model,
            max_age_days: u32::MAX,
            panel: panel(&model),
            gate: gate(&model),
            out: s.out,
            list,
            drift: DriftConfig::default(),
        })
    }
}

fn rule(definition: Definition, labels: &LabelsConfig) -> LabelRule {
    LabelRule {
        definition,
        horizon_days: labels.horizon_days,
        active_days: labels.active_days,
        signal: labels.churn_signal,
    }
}

/// The training panel: how many dates, and the days between them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Panel {
    pub dates: usize,
    pub step_days: u32,
}

/// The eligibility gate: the fewest churned and retained users a model is fitted on, and
/// the smallest share of the model's validated population accepted at scoring.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gate {
    pub min_churned: usize,
    pub min_retained: usize,
    pub min_population_share: f64,
}

fn panel(model: &ModelConfig) -> Panel {
    Panel {
        dates: model.panel_dates,
        step_days: model.panel_step_days,
    }
}

fn gate(model: &ModelConfig) -> Gate {
    Gate {
        min_churned: model.min_churned,
        min_retained: model.min_retained,
        min_population_share: model.min_population_share,
    }
}

/// The events file in a data folder: events.parquet, events.csv.gz or events.csv.
pub fn find_events(dir: &Path) -> Result<PathBuf> {
    ["events.parquet", "events.csv.gz", "events.csv"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
        .ok_or_else(|| Error::MissingFile {
            path: dir.join("events.csv.gz"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choices(data: &Path) -> SampleChoices {
        SampleChoices {
            data: data.into(),
            features: "features/default.toml".into(),
            model: "models/sample.json".into(),
            out: "out".into(),
            as_of: None,
            tiers: OutputConfig::default().tier_rule().unwrap(),
            view: ListView::default(),
            formats: Vec::new(),
            control_share: 0.1,
            strict: false,
            max_reject_fraction: 0.01,
        }
    }

    #[test]
    fn the_sample_takes_the_config_defaults() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("events.csv"), "x").unwrap();
        let s = Settings::sample(choices(dir.path())).unwrap();
        let model = ModelConfig::default();
        assert_eq!(s.panel, panel(&model));
        assert_eq!(s.gate.min_churned, model.min_churned);
        assert_eq!(s.rule.horizon_days, LabelsConfig::default().horizon_days);
        assert_eq!(s.as_of, AsOf::AfterLog);
        assert_eq!(s.inputs.events, dir.path().join("events.csv"));
        assert_eq!(s.list.formats, vec![OutputFormat::Csv]);
        assert_eq!(s.max_age_days, u32::MAX);
    }

    #[test]
    fn a_sample_folder_without_events_is_a_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = Settings::sample(choices(dir.path())).unwrap_err();
        assert!(matches!(err, Error::MissingFile { ref path } if path.ends_with("events.csv.gz")));
    }
}
