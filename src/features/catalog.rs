//! The feature catalog: every feature's name, one-line meaning, scale transform and the
//! plain-words phrase used in reasons. The catalog fixes the feature order a model uses.
//! It describes features; computing them is `compute`'s job.

use serde::{Deserialize, Serialize};

use super::spec::FeatureSpec;

/// How a raw feature value is put on the model's scale before standardizing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    /// Used as is.
    None,
    /// `ln(1 + x)` for fat-tailed counts, durations and rates (x ≥ 0).
    Log1p,
}

impl Transform {
    /// Applies the transform to a raw value.
    pub fn apply(self, x: f64) -> f64 {
        match self {
            Transform::None => x,
            Transform::Log1p => x.max(0.0).ln_1p(),
        }
    }
}

/// Which side of typical a feature must be on to be named as a reason for risk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Risky when above typical (e.g. days since the last value action).
    Higher,
    /// Risky when below typical (e.g. active days).
    Lower,
    /// Either side, as the model learned it (e.g. rates of events with no known role).
    Either,
}

/// One feature.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureDef {
    /// Column name, also the name in model files.
    pub name: String,
    /// One line: what the number means.
    pub meaning: String,
    pub transform: Transform,
    /// Features of one family say nearly the same thing; a user's reasons name each family
    /// at most once.
    pub family: String,
    /// The side on which a positive contribution reads as a plausible reason.
    pub risky_when: Direction,
}

impl FeatureDef {
    /// Whether a positive contribution at standardized value `z` makes a sensible reason:
    /// the value is on the feature's risky side, and a "change" reason is a decline.
    pub fn is_reason(&self, z: f64, row: &dyn RawRow) -> bool {
        let side = match self.risky_when {
            Direction::Higher => z > 0.0,
            Direction::Lower => z < 0.0,
            Direction::Either => true,
        };
        let declining =
            |recent: &str, prior: &str, ratio: f64| row.get(recent) < row.get(prior) * ratio;
        side && match self.name.as_str() {
            "active_days_prior" | "activity_change" => {
                declining("active_days_recent", "active_days_prior", 0.5)
            }
            "value_trend" => declining("value_actions_recent", "value_actions_prior", 0.5),
            _ => true,
        }
    }
}

/// Reads raw feature values of one user by name (for phrases that need several figures).
pub trait RawRow {
    fn get(&self, name: &str) -> f64;
}

/// Builds the catalog for a spec and the chosen per-event-type list, in model order.
pub fn catalog(spec: &FeatureSpec, event_types: &[String]) -> Vec<FeatureDef> {
    let f = &spec.file;
    let w = &spec.windows;
    let (r, p, l) = (w.recent_days, w.prior_days, w.long_days);
    let mut defs: Vec<FeatureDef> = Vec::new();
    let mut add = |name: String, meaning: String, transform: Transform| {
        let (family, risky_when) = family_of(spec, &name);
        defs.push(FeatureDef {
            name,
            meaning,
            transform,
            family,
            risky_when,
        })
    };
    use Transform::{Log1p, None as Raw};
    add(
        "active_days_recent".into(),
        format!("days with presence in the last {r} days"),
        Raw,
    );
    add(
        "active_days_prior".into(),
        format!("days with presence in the {p} days before the recent window"),
        Raw,
    );
    add(
        "activity_change".into(),
        format!("ln of (active days in the last {r} days + 1) over (the prior {p} days' active days per {r} days + 1); below 0 is a decline"),
        Raw,
    );
    add(
        "activity_slope".into(),
        "slope of weekly active days over the last 6 weeks (days/week per week)".into(),
        Raw,
    );
    add(
        "days_since_last_value".into(),
        "days since the last value action (tenure if none)".into(),
        Log1p,
    );
    add(
        "days_since_last_event".into(),
        "days since the last event of any kind".into(),
        Log1p,
    );
    add(
        "value_per_active_day".into(),
        format!("value actions per active day over the last {l} days"),
        Log1p,
    );
    add(
        "core_features_used".into(),
        format!(
            "distinct core features used in the last {l} days (of {})",
            f.events.core.len()
        ),
        Raw,
    );
    add(
        "tenure_days".into(),
        "days since signup (or the first event)".into(),
        Log1p,
    );
    add(
        "activated".into(),
        "1 if the user ever reached activation, else 0".into(),
        Raw,
    );
    add(
        "time_to_value_days".into(),
        "days from signup to activation (days waited so far if not activated)".into(),
        Log1p,
    );
    add(
        "sessions_recent".into(),
        format!("sessions in the last {r} days"),
        Log1p,
    );
    add(
        "session_minutes".into(),
        format!("median session length in minutes over the last {l} days"),
        Log1p,
    );
    add(
        "value_trend".into(),
        format!("ln of (value actions in the last {r} days + 1) over (the prior {p} days' per {r} days + 1)"),
        Raw,
    );
    add(
        "value_actions_long".into(),
        format!("value actions in the last {l} days"),
        Log1p,
    );
    add(
        "events_per_week".into(),
        "events per week since signup".into(),
        Log1p,
    );
    add(
        "value_per_week".into(),
        "value actions per week since signup".into(),
        Log1p,
    );
    add(
        "value_amount_long".into(),
        format!(
            "mean `value` of the value actions with one in the last {l} days (0 without): a mean, not a sum, so it does not repeat the count"
        ),
        Log1p,
    );
    add(
        "value_actions_total".into(),
        "value actions since the first event".into(),
        Log1p,
    );
    add(
        "value_amount_mean".into(),
        "mean `value` of the value actions that have one, since the first event (0 without)".into(),
        Log1p,
    );
    add(
        "value_overdue".into(),
        format!("days since the last value action over the user's own mean gap between value actions (the log's typical {:.1} days with fewer than two; at least 1 day)", spec.typical_gap_days),
        Log1p,
    );
    add(
        "active_weeks".into(),
        "weeks with presence since the first event (7-day steps back from the as-of date)".into(),
        Log1p,
    );
    add(
        "active_week_share".into(),
        "share of the weeks the user was observable that had presence".into(),
        Raw,
    );
    if !f.events.feedback.is_empty() {
        add(
            "feedback_long".into(),
            format!("feedback responses in the last {l} days"),
            Log1p,
        );
    }
    if !f.events.friction.is_empty() {
        add(
            "friction_recent".into(),
            format!("friction events (errors, failures) in the last {r} days"),
            Log1p,
        );
    }
    for funnel in &f.funnels {
        add(
            format!("funnel_{}", funnel.name),
            format!(
                "share of the {} funnel's {} steps reached, in order",
                funnel.name,
                funnel.steps.len()
            ),
            Raw,
        );
    }
    for ratio in &f.ratios {
        add(
            format!("ratio_{}", ratio.name),
            format!(
                "{} per {} over the last {l} days",
                ratio.numerator, ratio.denominator
            ),
            Log1p,
        );
    }
    for e in event_types {
        let seen = "per the days the user was observable";
        add(
            rate_recent_name(e),
            format!("`{e}` events in the last {r} days ({seen})"),
            Log1p,
        );
        add(
            rate_prior_name(e),
            format!("`{e}` events in the {p} days before the recent window ({seen})"),
            Log1p,
        );
        add(
            rate_long_name(e),
            format!("`{e}` events in the last {l} days ({seen})"),
            Log1p,
        );
        add(
            rate_life_name(e),
            format!("`{e}` events since the first event"),
            Log1p,
        );
        add(
            rate_week_name(e),
            format!("`{e}` events per week the user was observable"),
            Log1p,
        );
    }
    defs
}

/// The family and risky side of a feature, by name.
fn family_of(spec: &FeatureSpec, name: &str) -> (String, Direction) {
    use Direction::*;
    let (family, dir) = match name {
        "days_since_last_value" | "days_since_last_event" => ("recency", Higher),
        "active_days_prior" => ("activity", Either),
        "active_days_recent" | "activity_change" | "activity_slope" | "sessions_recent"
        | "events_per_week" | "session_minutes" => ("activity", Lower),
        "value_per_active_day"
        | "value_trend"
        | "value_actions_long"
        | "value_per_week"
        | "value_amount_long"
        | "value_actions_total" => ("value", Lower),
        "value_amount_mean" => ("value", Either),
        "value_overdue" => ("recency", Higher),
        "active_weeks" | "active_week_share" => ("activity", Lower),
        "core_features_used" => ("depth", Lower),
        "tenure_days" => ("tenure", Lower),
        "activated" => ("activation", Lower),
        "time_to_value_days" => ("activation", Higher),
        "feedback_long" => ("feedback", Either),
        "friction_recent" => ("friction", Higher),
        n if n.starts_with("funnel_") => ("activation", Lower),
        n if n.starts_with("ratio_") => return (n.to_string(), Either),
        n => {
            let event = [
                "n_recent__",
                "n_prior__",
                "n_long__",
                "n_life__",
                "n_week__",
            ]
            .iter()
            .find_map(|p| n.strip_prefix(p))
            .unwrap_or(n);
            let e = &spec.file.events;
            let has = |list: &[String]| list.iter().any(|x| x == event);
            if has(&e.friction) {
                ("friction", Higher)
            } else if has(&e.value) {
                ("value", Lower)
            } else if has(&e.core) {
                ("depth", Lower)
            } else if has(&e.login) {
                ("activity", Lower)
            } else if has(&e.activation) || spec.file.funnels.iter().any(|f| has(&f.steps)) {
                ("activation", Lower)
            } else if has(&e.feedback) {
                ("feedback", Either)
            } else {
                return (format!("event:{event}"), Either);
            }
        }
    };
    (family.to_string(), dir)
}

/// Feature name of an event type's recent count.
pub fn rate_recent_name(event: &str) -> String {
    format!("n_recent__{event}")
}

/// Feature name of an event type's count in the prior window.
pub fn rate_prior_name(event: &str) -> String {
    format!("n_prior__{event}")
}

/// Feature name of an event type's count since the user's first event.
pub fn rate_life_name(event: &str) -> String {
    format!("n_life__{event}")
}

/// Feature name of an event type's count per week the user was observable.
pub fn rate_week_name(event: &str) -> String {
    format!("n_week__{event}")
}

/// Feature name of an event type's long-window count.
pub fn rate_long_name(event: &str) -> String {
    format!("n_long__{event}")
}

/// The phrase for a feature pushing one user's risk up, with that user's own figures;
/// `typical` is the feature's typical raw value in training, quoted where it helps.
pub fn phrase(spec: &FeatureSpec, name: &str, row: &dyn RawRow, typical: f64) -> String {
    let f = &spec.file;
    let w = &spec.windows;
    let (r, p, l) = (
        w.recent_days as f64,
        w.prior_days as f64,
        w.long_days as f64,
    );
    let v = row.get(name);
    let n = |x: f64| format_count(x);
    match name {
        "active_days_recent" => format!("active on {} of the last {r} days", n(v)),
        "active_days_prior" | "activity_change" => {
            let recent = row.get("active_days_recent");
            let prior = row.get("active_days_prior") * r / p;
            change_phrase("active days", recent, prior, r, p)
        }
        "activity_slope" => format!(
            "weekly active days falling by {:.1} a week over 6 weeks",
            -v
        ),
        "days_since_last_value" => {
            if row.get("value_actions_long") == 0.0 && row.get("activated") == 0.0 {
                format!("no value action in {} days since signup", n(v))
            } else {
                format!("no value action for {} days", n(v))
            }
        }
        "days_since_last_event" => format!("no activity for {} days", n(v)),
        "value_per_active_day" => format!("{v:.1} value actions per active day (last {l} days)"),
        "core_features_used" => format!("uses {} of {} core features", n(v), f.events.core.len()),
        "tenure_days" => format!("signed up {} days ago", n(v)),
        "activated" => "never reached first value".into(),
        "time_to_value_days" => {
            if row.get("activated") > 0.0 {
                format!("took {} days to first value", n(v))
            } else {
                format!("no first value after {} days", n(v))
            }
        }
        "sessions_recent" => format!("{} sessions in the last {r} days", n(v)),
        "session_minutes" => format!("typical session {v:.0} min"),
        "value_trend" => {
            let recent = row.get("value_actions_recent");
            let prior = row.get("value_actions_prior") * r / p;
            change_phrase("value actions", recent, prior, r, p)
        }
        "value_actions_long" if v == 0.0 => format!("no value action in the last {l} days"),
        "value_actions_long" => format!("only {} value actions in the last {l} days", n(v)),
        "events_per_week" => format!("{v:.1} events a week since signup"),
        "value_per_week" => format!("{v:.1} value actions a week since signup"),
        "value_amount_long" => format!("average value {v:.2} over the last {l} days"),
        "feedback_long" => format!("{} feedback responses in the last {l} days", n(v)),
        "friction_recent" => format!("{} errors or failures in the last {r} days", n(v)),
        "value_actions_total" => format!("{} value actions since signup", n(v)),
        "value_amount_mean" => format!("average value {v:.2} (typical {typical:.2})"),
        "value_overdue" => format!("{v:.1}× the usual gap since the last value action"),
        "active_weeks" => format!("active in {} weeks since signup", n(v)),
        "active_week_share" => format!(
            "active in {:.0}% of weeks since signup (typical {:.0}%)",
            v * 100.0,
            typical * 100.0
        ),
        _ => other_phrase(spec, name, v, typical),
    }
}

fn other_phrase(spec: &FeatureSpec, name: &str, v: f64, typical: f64) -> String {
    let f = &spec.file;
    let w = &spec.windows;
    if let Some(funnel) = name
        .strip_prefix("funnel_")
        .and_then(|x| f.funnels.iter().find(|g| g.name == x))
    {
        let k = (v * funnel.steps.len() as f64).round() as usize;
        return match k {
            0 => format!("has not started {}", funnel.name),
            k if k >= funnel.steps.len() => format!("completed {}", funnel.name),
            k => format!(
                "stalled in {} after step {k} of {} ({})",
                funnel.name,
                funnel.steps.len(),
                funnel.steps[k - 1]
            ),
        };
    }
    if let Some(ratio) = name
        .strip_prefix("ratio_")
        .and_then(|x| f.ratios.iter().find(|g| g.name == x))
    {
        return format!(
            "{v:.2} {} per {} (typical {typical:.2})",
            ratio.numerator, ratio.denominator
        );
    }
    let rate = |e: &str, days: u32| {
        if v == 0.0 {
            format!("no {e} in the last {days} days")
        } else {
            format!(
                "{} × {e} in the last {days} days (typical {})",
                format_count(v),
                format_count(typical.round())
            )
        }
    };
    if let Some(e) = name.strip_prefix("n_recent__") {
        return rate(e, w.recent_days);
    }
    if let Some(e) = name.strip_prefix("n_long__") {
        return rate(e, w.long_days);
    }
    if let Some(e) = name.strip_prefix("n_life__") {
        return format!(
            "{} × {e} since signup (typical {})",
            format_count(v),
            format_count(typical.round())
        );
    }
    if let Some(e) = name.strip_prefix("n_week__") {
        return format!("{v:.1} × {e} a week since signup (typical {typical:.1})");
    }
    if let Some(e) = name.strip_prefix("n_prior__") {
        return format!(
            "{} × {e} in the {} days before the last {} (typical {})",
            format_count(v),
            w.prior_days,
            w.recent_days,
            format_count(typical.round())
        );
    }
    format!("{name} = {v:.2}")
}

/// "logins down 70% vs the 28 days before", from recent and prior counts (prior already
/// scaled to the recent window's length).
fn change_phrase(what: &str, recent: f64, prior_scaled: f64, r: f64, p: f64) -> String {
    if prior_scaled <= 0.0 {
        return format!(
            "{what}: {} in the last {r} days, none in the {p} before",
            format_count(recent)
        );
    }
    let pct = ((recent - prior_scaled) / prior_scaled * 100.0).round();
    if pct < 0.0 {
        format!("{what} down {}% vs the {p} days before", -pct)
    } else if pct > 0.0 {
        format!("{what} up {pct}% vs the {p} days before")
    } else {
        format!("{what} flat vs the {p} days before")
    }
}

fn format_count(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        format!("{}", x.round() as i64)
    } else {
        format!("{x:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::path::Path;

    struct Row(HashMap<&'static str, f64>);
    impl RawRow for Row {
        fn get(&self, name: &str) -> f64 {
            self.0.get(name).copied().unwrap_or(0.0)
        }
    }

    fn spec() -> FeatureSpec {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("features/default.toml"),
        )
        .unwrap();
        FeatureSpec::from_toml(&text, Path::new("default.toml")).unwrap()
    }

    #[test]
    fn catalog_names_are_unique_and_never_the_user_id() {
        let s = spec();
        let defs = catalog(
            &s,
            &["login".into(), "page_view".into(), "report_created".into()],
        );
        let names: std::collections::BTreeSet<_> = defs.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names.len(), defs.len());
        assert!(!names.iter().any(|n| n.contains("user_id")));
        assert!(names.contains("n_recent__page_view"));
        assert!(names.contains("funnel_onboarding"));
        let family = |n: &str| defs.iter().find(|d| d.name == n).unwrap().family.clone();
        assert_eq!(family("n_long__report_created"), "value");
        assert_eq!(family("n_recent__login"), "activity");
        assert_eq!(family("n_long__page_view"), "event:page_view");
    }

    #[test]
    fn reasons_must_be_on_the_risky_side() {
        let s = spec();
        let defs = catalog(&s, &[]);
        let def = |n: &str| defs.iter().find(|d| d.name == n).unwrap();
        let row = Row(HashMap::from([
            ("active_days_recent", 8.0),
            ("active_days_prior", 10.0),
        ]));
        assert!(def("days_since_last_value").is_reason(1.0, &row));
        assert!(!def("days_since_last_value").is_reason(-1.0, &row));
        assert!(def("core_features_used").is_reason(-1.0, &row));
        // 8 recent active days vs 5 per 14 days before is no decline.
        assert!(!def("activity_change").is_reason(-1.0, &row));
    }

    #[test]
    fn phrases_carry_the_users_own_figures() {
        let s = spec();
        let row = Row(HashMap::from([
            ("active_days_recent", 3.0),
            ("active_days_prior", 20.0),
            ("days_since_last_value", 23.0),
            ("value_actions_long", 4.0),
            ("core_features_used", 1.0),
            ("funnel_onboarding", 0.5),
        ]));
        // prior 20 days in 28 → 10 per 14 days; recent 3 → down 70%.
        assert_eq!(
            phrase(&s, "activity_change", &row, 0.0),
            "active days down 70% vs the 28 days before"
        );
        assert_eq!(
            phrase(&s, "days_since_last_value", &row, 0.0),
            "no value action for 23 days"
        );
        assert_eq!(
            phrase(&s, "core_features_used", &row, 0.0),
            "uses 1 of 6 core features"
        );
        assert_eq!(
            phrase(&s, "n_long__page_view", &row, 41.6),
            "no page_view in the last 90 days"
        );
        assert_eq!(
            phrase(&s, "funnel_onboarding", &row, 0.0),
            "stalled in onboarding after step 2 of 4 (data_source_connected)"
        );
    }
}
