//! The feature-definition file (`features/*.toml`): its serde types, their defaults, and the
//! one place its rules are checked. After [`FeatureSpec::from_toml`] nothing re-checks.
//!
//! ```toml
//! [events]
//! login = ["login"]            # presence; empty or missing: any event marks presence
//! value = ["report_created"]   # value actions (required, at least one)
//! activation = ["report_created"] # first one = activation (default: the value list)
//! core = ["report_created", "dashboard_built"] # core features for depth (default: value)
//! feedback = ["nps_submitted"] # survey / NPS answers (default: none)
//! friction = ["error_shown"]   # errors and failures (default: none)
//! ignore = ["uninstall"]       # not product use: dropped as read (default: none)
//!
//! [windows]                    # optional, in days counted back from the as-of date;
//! recent_days = 14             # each one set here overrides `Windows::follow`'s rule
//! prior_days = 28              # the window just before the recent one, for declines
//! long_days = 90               # depth, adoption and per-event rates over a longer view
//!
//! [[funnels]]                  # ordered steps; progress = share of steps reached
//! name = "onboarding"
//! steps = ["onboarding_started", "data_imported", "report_created"]
//!
//! [event_rates]
//! top = 12                     # per-event-type rates for the N most frequent event types
//! exclude = ["first_open"]     # event types that get no rate: no product use (default: none)
//!
//! [[ratios]]                   # count(numerator) / count(denominator) over the long window
//! name = "shares_per_report"
//! numerator = "report_shared"
//! denominator = "report_created"
//! ```

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::bgnbd::BgNbd;
use crate::error::{Error, Result, SpecProblem};

/// The whole file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureFile {
    /// Which event names play which role.
    pub events: EventRoles,
    /// Window lengths in days, as written: unset ones follow the horizon and the log's
    /// cadence ([`Windows::follow`]).
    #[serde(default)]
    pub windows: WindowSetting,
    /// Ordered funnels (e.g. onboarding); may be empty.
    #[serde(default)]
    pub funnels: Vec<Funnel>,
    /// Per-event-type rate features.
    #[serde(default)]
    pub event_rates: EventRates,
    /// Ratios between event types.
    #[serde(default)]
    pub ratios: Vec<Ratio>,
}

/// Event names by role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventRoles {
    /// Presence events (logins, session starts). Empty: any event marks presence.
    #[serde(default)]
    pub login: Vec<String>,
    /// Value actions: the user got real value. At least one.
    pub value: Vec<String>,
    /// The first of these is activation. Default: the value actions.
    #[serde(default)]
    pub activation: Vec<String>,
    /// Core features, for depth and adoption. Default: the value actions.
    #[serde(default)]
    pub core: Vec<String>,
    /// Feedback events (surveys, NPS). Default: none.
    #[serde(default)]
    pub feedback: Vec<String>,
    /// Friction events (errors, failures). Default: none.
    #[serde(default)]
    pub friction: Vec<String>,
    /// Events that are not product use at all (an app's uninstall, an ad click before the
    /// install): dropped as the log is read, so they mark no presence, keep no one active
    /// and get no rate. Left out of the fingerprint when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<String>,
}

/// The `[windows]` table as written: a window left out follows the rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowSetting {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recent_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prior_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_days: Option<u32>,
}

/// Window lengths, in days before the as-of date, as used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Windows {
    /// The recent window (default 14).
    pub recent_days: u32,
    /// The window just before the recent one, for declines (default 28).
    pub prior_days: u32,
    /// The long window for depth, adoption and per-event rates (default 90).
    pub long_days: u32,
}

impl Default for Windows {
    fn default() -> Self {
        Windows {
            recent_days: 14,
            prior_days: 28,
            long_days: 90,
        }
    }
}

impl Windows {
    /// The documented rule: windows follow the churn horizon `H` and the log's typical gap
    /// `g` between a user's value actions (days), in whole weeks:
    /// - recent = the longest of 14 days, H/2 and g (capped at 364): a regular user has a
    ///   value action in it, and it sees half as far as the label looks ahead;
    /// - prior = 2 × recent (the window a decline is measured against; at most 3650);
    /// - long = the longest of 90 days, 2H and recent + prior, at most 364 days.
    ///
    /// A daily app with a 28-day horizon gets 14 / 28 / 90; a shop whose customers buy
    /// every two months, with a 182-day horizon, gets 91 / 182 / 364. Windows set in the
    /// file are kept as written.
    pub fn follow(setting: WindowSetting, horizon_days: u32, typical_gap_days: f64) -> Windows {
        let weeks = |d: f64| ((d / 7.0).ceil().max(1.0) * 7.0).min(364.0) as u32;
        let h = f64::from(horizon_days);
        let g = if typical_gap_days.is_finite() {
            typical_gap_days.max(0.0)
        } else {
            0.0
        };
        let recent = setting
            .recent_days
            .unwrap_or_else(|| weeks(14f64.max(h / 2.0).max(g)));
        let prior = setting.prior_days.unwrap_or((2 * recent).min(3650));
        let long = setting
            .long_days
            .unwrap_or_else(|| weeks(2.0 * h).max(recent + prior).clamp(90, 364))
            .max(recent);
        Windows {
            recent_days: recent,
            prior_days: prior,
            long_days: long,
        }
    }
}

/// An ordered funnel of event names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Funnel {
    /// A short name, used in feature names (`funnel_<name>`).
    pub name: String,
    /// The steps in order; at least two.
    pub steps: Vec<String>,
}

/// Per-event-type rates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventRates {
    /// How many of the most frequent event types get their own rate features (default 12;
    /// 0 turns them off).
    pub top: usize,
    /// Event types that get none, being no product use: an app's lifecycle (GA4's
    /// `first_open`, `app_update`), a store's receipts (`in_app_purchase`). They still
    /// count as presence and in every role they are listed under. Left out of the
    /// fingerprint when empty: definitions without it keep theirs (and their models).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
}

impl Default for EventRates {
    fn default() -> Self {
        EventRates {
            top: 12,
            exclude: Vec::new(),
        }
    }
}

/// A ratio between two event types over the long window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ratio {
    /// A short name, used in the feature name (`ratio_<name>`).
    pub name: String,
    pub numerator: String,
    pub denominator: String,
}

/// A checked feature definition with its fingerprint.
#[derive(Debug, Clone)]
pub struct FeatureSpec {
    pub file: FeatureFile,
    /// Where it was read from (for messages).
    pub path: PathBuf,
    /// SHA-256 of the canonical JSON form: stored in models, checked before scoring.
    pub fingerprint: String,
    /// The windows features are computed with: the file's, else the rule's for the
    /// training horizon and cadence ([`FeatureSpec::fitted_to`]; a model stores them).
    /// Before that, the file's with 14 / 28 / 90 for unset ones.
    pub windows: Windows,
    /// The log's typical gap between a user's value actions, in days: a user with fewer
    /// than two value actions is measured against it (`value_overdue`). Set by training
    /// and stored in the model; 7 before.
    pub typical_gap_days: f64,
    /// The BG/NBD model of the log's value actions behind `bgnbd_quiet_odds`: fitted by
    /// training and stored in the model; absent before (the feature is then 0).
    pub bgnbd: Option<BgNbd>,
    /// The churn horizon under the subscription definition: `renewal_due` reads each
    /// subscription's next renewal against it. Absent under the inactivity definition
    /// (no such feature). Set from the label rule by training and scoring.
    pub renewal_horizon_days: Option<u32>,
}

impl FeatureSpec {
    /// Reads and checks a feature file.
    pub fn load(path: &Path) -> Result<Self> {
        if !path.is_file() {
            return Err(Error::FeatureSpec {
                path: path.into(),
                problem: SpecProblem::NotAFile {
                    folder: path.is_dir(),
                },
            });
        }
        let text = std::fs::read_to_string(path).map_err(|e| Error::read(path, e))?;
        Self::from_toml(&text, path)
    }

    /// Parses and checks TOML text; `path` is only used in messages.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self> {
        let bad = |problem: SpecProblem| Error::FeatureSpec {
            path: path.into(),
            problem,
        };
        let file: FeatureFile = toml::from_str(text).map_err(|e| {
            bad(SpecProblem::Syntax {
                message: crate::error::toml_message(text, &e),
            })
        })?;
        Self::from_file(file, path)
    }

    /// Checks parsed definitions (a file's, or those a model file stores) and fills their
    /// defaults; `path` names them in messages.
    pub fn from_file(mut file: FeatureFile, path: &Path) -> Result<Self> {
        let bad = |problem: SpecProblem| Error::FeatureSpec {
            path: path.into(),
            problem,
        };
        let ev = &mut file.events;
        if ev.value.is_empty() {
            return Err(bad(SpecProblem::NoValueEvent));
        }
        if ev.activation.is_empty() {
            ev.activation = ev.value.clone();
        }
        if ev.core.is_empty() {
            ev.core = ev.value.clone();
        }
        for (role, names) in file.roles() {
            if let Some(n) = names.iter().find(|n| n.trim().is_empty()) {
                return Err(bad(SpecProblem::EmptyEventName {
                    role: role.to_string(),
                    name: n.to_string(),
                }));
            }
            let unique: BTreeSet<_> = names.iter().collect();
            if unique.len() != names.len() {
                let role = role.to_string();
                return Err(bad(SpecProblem::EventTwice { role }));
            }
        }
        let ignored = &file.events.ignore;
        if let Some(n) = ignored.iter().find(|n| n.trim().is_empty()) {
            return Err(bad(SpecProblem::EmptyEventName {
                role: "ignore".into(),
                name: n.to_string(),
            }));
        }
        if let Some((role, name)) = file.roles().into_iter().find_map(|(role, names)| {
            names
                .iter()
                .find(|n| ignored.contains(n))
                .map(|n| (role, n))
        }) {
            return Err(bad(SpecProblem::IgnoredInRole {
                role: role.to_string(),
                name: name.clone(),
            }));
        }
        let w = file.windows;
        if [w.recent_days, w.prior_days, w.long_days].contains(&Some(0)) {
            return Err(bad(SpecProblem::ZeroWindow));
        }
        if [w.recent_days, w.prior_days, w.long_days]
            .iter()
            .any(|d| d.is_some_and(|d| d > 3650))
        {
            return Err(bad(SpecProblem::WindowTooLong));
        }
        if let (Some(long), Some(recent)) = (w.long_days, w.recent_days) {
            if long < recent {
                return Err(bad(SpecProblem::LongBeforeRecent { long, recent }));
            }
        }
        let defaults = Windows::default();
        let windows = Windows {
            recent_days: w.recent_days.unwrap_or(defaults.recent_days),
            prior_days: w.prior_days.unwrap_or(defaults.prior_days),
            long_days: w.long_days.unwrap_or(defaults.long_days),
        };
        let windows = Windows {
            long_days: windows.long_days.max(windows.recent_days),
            ..windows
        };
        check_names(&file).map_err(bad)?;
        let canonical = serde_json::to_vec(&file).map_err(|e| {
            bad(SpecProblem::Fingerprint {
                message: e.to_string(),
            })
        })?;
        let fingerprint = format!("{:x}", Sha256::digest(&canonical));
        Ok(FeatureSpec {
            file,
            path: path.into(),
            fingerprint,
            windows,
            typical_gap_days: 7.0,
            bgnbd: None,
            renewal_horizon_days: None,
        })
    }

    /// This spec with its windows set by [`Windows::follow`] for a churn horizon and the
    /// log's typical gap between value actions: what training computes features with.
    pub fn fitted_to(&self, horizon_days: u32, typical_gap_days: f64) -> FeatureSpec {
        FeatureSpec {
            windows: Windows::follow(self.file.windows, horizon_days, typical_gap_days),
            typical_gap_days,
            ..self.clone()
        }
    }

    /// This spec with a model's windows, cadence, BG/NBD fit and renewal horizon: what
    /// scoring computes features with.
    pub fn with_resolved(
        &self,
        windows: Windows,
        typical_gap_days: f64,
        bgnbd: Option<BgNbd>,
        renewal_horizon_days: Option<u32>,
    ) -> FeatureSpec {
        FeatureSpec {
            windows,
            typical_gap_days,
            bgnbd,
            renewal_horizon_days,
            ..self.clone()
        }
    }

    /// This spec with the horizon subscriptions' renewals are read against (training, from
    /// its label rule; none under the inactivity definition).
    pub fn with_renewal(&self, renewal_horizon_days: Option<u32>) -> FeatureSpec {
        FeatureSpec {
            renewal_horizon_days,
            ..self.clone()
        }
    }

    /// This spec with a fitted BG/NBD model (training, after [`FeatureSpec::fitted_to`]).
    pub fn with_bgnbd(&self, bgnbd: Option<BgNbd>) -> FeatureSpec {
        FeatureSpec {
            bgnbd,
            ..self.clone()
        }
    }

    /// Every event name the file mentions, sorted.
    pub fn named_events(&self) -> BTreeSet<&str> {
        let f = &self.file;
        let mut all: BTreeSet<&str> = f
            .roles()
            .into_iter()
            .flat_map(|(_, n)| n.iter().map(String::as_str))
            .collect();
        all.extend(
            f.funnels
                .iter()
                .flat_map(|x| x.steps.iter().map(String::as_str)),
        );
        all.extend(
            f.ratios
                .iter()
                .flat_map(|r| [r.numerator.as_str(), r.denominator.as_str()]),
        );
        all
    }

    /// Fails when the file names events the log never contains (a typo would otherwise
    /// silently make a feature constant).
    pub fn check_events_exist(&self, seen: &BTreeSet<String>) -> Result<Vec<String>> {
        let missing: Vec<String> = self
            .named_events()
            .into_iter()
            .filter(|n| !seen.contains(*n))
            .map(String::from)
            .collect();
        // No value event at all: not this product's log, or a typo in what matters most.
        if self.file.events.value.iter().all(|v| !seen.contains(v)) {
            return Err(Error::UnknownEvents { names: missing });
        }
        // Some rare event absent tonight: its features are zero, which a warning says.
        Ok(missing)
    }
}

impl FeatureFile {
    fn roles(&self) -> [(&'static str, &Vec<String>); 6] {
        let e = &self.events;
        [
            ("login", &e.login),
            ("value", &e.value),
            ("activation", &e.activation),
            ("core", &e.core),
            ("feedback", &e.feedback),
            ("friction", &e.friction),
        ]
    }
}

/// The funnels' and ratios' names: identifiers, each defined once; a funnel of two steps
/// or more, a ratio of two different events.
fn check_names(file: &FeatureFile) -> std::result::Result<(), SpecProblem> {
    let mut names = BTreeSet::new();
    for f in &file.funnels {
        check_name("funnel", &f.name, &mut names)?;
        if f.steps.len() < 2 {
            let name = f.name.clone();
            return Err(SpecProblem::ShortFunnel { name });
        }
    }
    for r in &file.ratios {
        check_name("ratio", &r.name, &mut names)?;
        if r.numerator == r.denominator {
            let name = r.name.clone();
            return Err(SpecProblem::SelfRatio { name });
        }
    }
    Ok(())
}

/// A funnel's or ratio's name (`kind`): an identifier, its column (`kind_name`) not yet
/// in `taken`.
fn check_name(
    kind: &'static str,
    name: &str,
    taken: &mut BTreeSet<String>,
) -> std::result::Result<(), SpecProblem> {
    let name = name.to_string();
    if !is_identifier(&name) {
        return Err(SpecProblem::BadName { kind, name });
    }
    if !taken.insert(format!("{kind}_{name}")) {
        return Err(SpecProblem::DefinedTwice { kind, name });
    }
    Ok(())
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<FeatureSpec> {
        FeatureSpec::from_toml(text, Path::new("test.toml"))
    }

    #[test]
    fn minimal_file_gets_documented_defaults() {
        let s = parse("[events]\nvalue = [\"purchase\"]\n").unwrap();
        assert!(s.file.events.login.is_empty());
        assert_eq!(s.file.events.activation, ["purchase"]);
        assert_eq!(s.file.events.core, ["purchase"]);
        assert_eq!(s.file.windows, WindowSetting::default());
        assert_eq!(s.windows, Windows::default());
        assert_eq!(s.file.event_rates.top, 12);
        assert_eq!(s.fingerprint.len(), 64);
    }

    #[test]
    fn fingerprint_ignores_formatting_but_not_content() {
        let a = parse("[events]\nvalue = [\"a\"]\n").unwrap();
        let b = parse("# comment\n[events]\nvalue = [ \"a\" ]\n").unwrap();
        let c = parse("[events]\nvalue = [\"b\"]\n").unwrap();
        assert_eq!(a.fingerprint, b.fingerprint);
        assert_ne!(a.fingerprint, c.fingerprint);
    }

    #[test]
    fn rejects_unknown_keys() {
        let err = parse("[events]\nvalue = [\"a\"]\nlogins = [\"x\"]\n").unwrap_err();
        assert!(
            matches!(err, Error::FeatureSpec { problem: SpecProblem::Syntax { ref message }, .. } if message.contains("logins")),
            "{err}"
        );
    }

    /// An ignored event is no product use: it can hold no role; empty, the list leaves
    /// the fingerprint as it was.
    #[test]
    fn an_ignored_event_holds_no_role() {
        let err =
            parse("[events]\nvalue = [\"a\"]\nfriction = [\"x\"]\nignore = [\"x\"]\n").unwrap_err();
        assert!(
            err.to_string().ends_with(
                "[events] ignore lists \"x\", which is also a friction event: an event is product use or not"
            ),
            "{err}"
        );
        let plain = parse("[events]\nvalue = [\"a\"]\n").unwrap();
        let empty = parse("[events]\nvalue = [\"a\"]\nignore = []\n").unwrap();
        let set = parse("[events]\nvalue = [\"a\"]\nignore = [\"uninstall\"]\n").unwrap();
        assert_eq!(plain.fingerprint, empty.fingerprint);
        assert_ne!(plain.fingerprint, set.fingerprint);
    }

    #[test]
    fn rejects_empty_value_list() {
        assert!(matches!(
            parse("[events]\nvalue = []\n").unwrap_err(),
            Error::FeatureSpec { .. }
        ));
        assert!(matches!(
            parse("[events]\nlogin = [\"a\"]\n").unwrap_err(),
            Error::FeatureSpec { .. }
        ));
    }

    #[test]
    fn rejects_zero_windows_and_short_funnels() {
        let w = "[events]\nvalue = [\"a\"]\n[windows]\nrecent_days = 0\n";
        assert!(matches!(parse(w).unwrap_err(), Error::FeatureSpec { .. }));
        let w = "[events]\nvalue = [\"a\"]\n[windows]\nlong_days = 4000\n";
        let err = parse(w).unwrap_err();
        assert!(matches!(
            err,
            Error::FeatureSpec {
                problem: SpecProblem::WindowTooLong,
                ..
            }
        ));
        assert!(err.to_string().contains("at most 3650"));
        let w = "[events]\nvalue = [\"a\"]\n[windows]\nrecent_days = 30\nlong_days = 20\n";
        assert!(matches!(
            parse(w).unwrap_err(),
            Error::FeatureSpec {
                problem: SpecProblem::LongBeforeRecent {
                    long: 20,
                    recent: 30
                },
                ..
            }
        ));
        let f = "[events]\nvalue = [\"a\"]\n[[funnels]]\nname = \"x\"\nsteps = [\"a\"]\n";
        assert!(matches!(parse(f).unwrap_err(), Error::FeatureSpec { .. }));
    }

    #[test]
    fn names_events_absent_from_the_log_and_refuses_a_log_without_value_events() {
        let s = parse("[events]\nvalue = [\"a\", \"rare\"]\nlogin = [\"in\"]\n").unwrap();
        let seen: BTreeSet<String> = ["a".to_string(), "in".to_string()].into();
        assert_eq!(s.check_events_exist(&seen).unwrap(), ["rare"]);
        let seen: BTreeSet<String> = ["in".to_string()].into();
        let err = s.check_events_exist(&seen).unwrap_err();
        assert!(matches!(err, Error::UnknownEvents { ref names } if names == &["a", "rare"]));
    }

    #[test]
    fn windows_follow_the_horizon_and_the_cadence_unless_set() {
        let w = |h: u32, g: f64| Windows::follow(WindowSetting::default(), h, g);
        let days = |w: Windows| (w.recent_days, w.prior_days, w.long_days);
        // A daily app, 28-day horizon: the long-standing 14 / 28 / 90.
        assert_eq!(days(w(28, 2.0)), (14, 28, 90));
        assert_eq!(days(w(28, 13.9)), (14, 28, 90));
        // Weekly-ish value work, 28 days: the recent window holds a typical gap.
        assert_eq!(days(w(28, 17.0)), (21, 42, 90));
        // A shop: buys every ~2 months, 6-month horizon.
        assert_eq!(days(w(182, 60.0)), (91, 182, 364));
        // Every 4 months, 3-month horizon: the gap sets the recent window.
        assert_eq!(days(w(91, 120.0)), (126, 252, 364));
        // A missing cadence (nobody did two value actions) counts as none.
        assert_eq!(days(w(28, f64::NAN)), (14, 28, 90));
        // What the file sets stays.
        let set = WindowSetting {
            recent_days: Some(30),
            prior_days: None,
            long_days: Some(182),
        };
        assert_eq!(days(Windows::follow(set, 182, 60.0)), (30, 60, 182));
        let s = parse("[events]\nvalue = [\"a\"]\n[windows]\nrecent_days = 30\n").unwrap();
        assert_eq!(days(s.windows), (30, 28, 90));
        assert_eq!(days(s.fitted_to(182, 60.0).windows), (30, 60, 364));
        // The longest recent window a file may set: its prior stays within 3650 days.
        let set = WindowSetting {
            recent_days: Some(3650),
            ..WindowSetting::default()
        };
        assert_eq!(days(Windows::follow(set, 28, 2.0)), (3650, 3650, 3650));
    }

    #[test]
    fn shipped_feature_files_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("features");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "toml") {
                FeatureSpec::load(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                n += 1;
            }
        }
        assert!(n >= 1);
    }
}
