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

/// One feature.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureDef {
    /// Column name, also the name in model files.
    pub name: String,
    /// One line: what the number means.
    pub meaning: String,
    pub transform: Transform,
}

/// Reads raw feature values of one user by name (for phrases that need several figures).
pub trait RawRow {
    fn get(&self, name: &str) -> f64;
}

/// Builds the catalog for a spec and the chosen per-event-type list, in model order.
pub fn catalog(spec: &FeatureSpec, event_types: &[String]) -> Vec<FeatureDef> {
    let f = &spec.file;
    let w = &f.windows;
    let (r, p, l) = (w.recent_days, w.prior_days, w.long_days);
    let mut defs = Vec::new();
    let mut add = |name: String, meaning: String, transform: Transform| {
        defs.push(FeatureDef {
            name,
            meaning,
            transform,
        })
    };
    use Transform::{Log1p, None as Raw};
    add("active_days_recent".into(), format!("days with presence in the last {r} days"), Raw);
    add("active_days_prior".into(), format!("days with presence in the {p} days before the recent window"), Raw);
    add(
        "activity_change".into(),
        format!("ln of (active days in the last {r} days + 1) over (the prior {p} days' active days per {r} days + 1); below 0 is a decline"),
        Raw,
    );
    add("activity_slope".into(), "slope of weekly active days over the last 6 weeks (days/week per week)".into(), Raw);
    add("days_since_last_value".into(), "days since the last value action (tenure if none)".into(), Log1p);
    add("days_since_last_event".into(), "days since the last event of any kind".into(), Log1p);
    add("value_per_active_day".into(), format!("value actions per active day over the last {l} days"), Log1p);
    add(
        "core_features_used".into(),
        format!("distinct core features used in the last {l} days (of {})", f.events.core.len()),
        Raw,
    );
    add("tenure_days".into(), "days since signup (or the first event)".into(), Log1p);
    add("activated".into(), "1 if the user ever reached activation, else 0".into(), Raw);
    add("time_to_value_days".into(), "days from signup to activation (days waited so far if not activated)".into(), Log1p);
    add("sessions_recent".into(), format!("sessions in the last {r} days"), Log1p);
    add("session_minutes".into(), format!("median session length in minutes over the last {l} days"), Log1p);
    add(
        "value_trend".into(),
        format!("ln of (value actions in the last {r} days + 1) over (the prior {p} days' per {r} days + 1)"),
        Raw,
    );
    add("value_actions_long".into(), format!("value actions in the last {l} days"), Log1p);
    add("events_per_week".into(), "events per week since signup".into(), Log1p);
    if !f.events.feedback.is_empty() {
        add("feedback_long".into(), format!("feedback responses in the last {l} days"), Log1p);
    }
    if !f.events.friction.is_empty() {
        add("friction_recent".into(), format!("friction events (errors, failures) in the last {r} days"), Log1p);
    }
    for funnel in &f.funnels {
        add(
            format!("funnel_{}", funnel.name),
            format!("share of the {} funnel's {} steps reached, in order", funnel.name, funnel.steps.len()),
            Raw,
        );
    }
    for ratio in &f.ratios {
        add(
            format!("ratio_{}", ratio.name),
            format!("{} per {} over the last {l} days", ratio.numerator, ratio.denominator),
            Log1p,
        );
    }
    for e in event_types {
        add(rate_recent_name(e), format!("`{e}` events in the last {r} days"), Log1p);
        add(rate_long_name(e), format!("`{e}` events in the last {l} days"), Log1p);
    }
    defs
}

/// Feature name of an event type's recent count.
pub fn rate_recent_name(event: &str) -> String {
    format!("n_recent__{event}")
}

/// Feature name of an event type's long-window count.
pub fn rate_long_name(event: &str) -> String {
    format!("n_long__{event}")
}

/// The phrase for a feature pushing one user's risk up, with that user's own figures.
pub fn phrase(spec: &FeatureSpec, name: &str, row: &dyn RawRow) -> String {
    let f = &spec.file;
    let w = &f.windows;
    let (r, p, l) = (w.recent_days as f64, w.prior_days as f64, w.long_days as f64);
    let v = row.get(name);
    let n = |x: f64| format_count(x);
    match name {
        "active_days_recent" => format!("active on {} of the last {r} days", n(v)),
        "active_days_prior" | "activity_change" => {
            let recent = row.get("active_days_recent");
            let prior = row.get("active_days_prior") * r / p;
            change_phrase("active days", recent, prior, r, p)
        }
        "activity_slope" => format!("weekly active days falling by {:.1} a week over 6 weeks", -v),
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
        "value_actions_long" => format!("{} value actions in the last {l} days", n(v)),
        "events_per_week" => format!("{v:.1} events a week since signup"),
        "feedback_long" => format!("{} feedback responses in the last {l} days", n(v)),
        "friction_recent" => format!("{} errors or failures in the last {r} days", n(v)),
        _ => other_phrase(spec, name, v),
    }
}

fn other_phrase(spec: &FeatureSpec, name: &str, v: f64) -> String {
    let f = &spec.file;
    let w = &f.windows;
    if let Some(funnel) = name.strip_prefix("funnel_").and_then(|x| f.funnels.iter().find(|g| g.name == x)) {
        let k = (v * funnel.steps.len() as f64).round() as usize;
        return match k {
            0 => format!("has not started {}", funnel.name),
            k if k >= funnel.steps.len() => format!("completed {}", funnel.name),
            k => format!("stalled in {} after step {k} of {} ({})", funnel.name, funnel.steps.len(), funnel.steps[k - 1]),
        };
    }
    if let Some(ratio) = name.strip_prefix("ratio_").and_then(|x| f.ratios.iter().find(|g| g.name == x)) {
        return format!("{v:.2} {} per {}", ratio.numerator, ratio.denominator);
    }
    if let Some(e) = name.strip_prefix("n_recent__") {
        return format!("{} × {e} in the last {} days", format_count(v), w.recent_days);
    }
    if let Some(e) = name.strip_prefix("n_long__") {
        return format!("{} × {e} in the last {} days", format_count(v), w.long_days);
    }
    format!("{name} = {v:.2}")
}

/// "logins down 70% vs the 28 days before", from recent and prior counts (prior already
/// scaled to the recent window's length).
fn change_phrase(what: &str, recent: f64, prior_scaled: f64, r: f64, p: f64) -> String {
    if prior_scaled <= 0.0 {
        return format!("{what}: {} in the last {r} days, none in the {p} before", format_count(recent));
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
        let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("features/default.toml")).unwrap();
        FeatureSpec::from_toml(&text, Path::new("default.toml")).unwrap()
    }

    #[test]
    fn catalog_names_are_unique_and_never_the_user_id() {
        let s = spec();
        let defs = catalog(&s, &["login".into(), "page_view".into()]);
        let names: std::collections::BTreeSet<_> = defs.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names.len(), defs.len());
        assert!(!names.iter().any(|n| n.contains("user_id")));
        assert!(names.contains("n_recent__page_view"));
        assert!(names.contains("funnel_onboarding"));
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
        assert_eq!(phrase(&s, "activity_change", &row), "active days down 70% vs the 28 days before");
        assert_eq!(phrase(&s, "days_since_last_value", &row), "no value action for 23 days");
        assert_eq!(phrase(&s, "core_features_used", &row), "uses 1 of 6 core features");
        assert_eq!(
            phrase(&s, "funnel_onboarding", &row),
            "stalled in onboarding after step 2 of 4 (data_source_connected)"
        );
    }
}
