//! When the nightly run retrains: no model, a model this build cannot use with these
//! feature definitions or churn definition, or a model older than the configured age (an
//! explicit request is the caller's).

use super::artifact::ChurnModel;
use crate::base::time::{parse_timestamp, DAY_MS};
use crate::error::{Error, Result};
use crate::features::FeatureSpec;
use crate::labels::{Definition, LabelRule, Signal};

/// Days after which a stored model is retrained by the nightly run, unless set.
pub const MAX_AGE_DAYS: u32 = 28;
/// Scoring is refused when the population at T is smaller than this share of the users
/// the model was validated on (a sign of a truncated log), unless set.
pub const MIN_POPULATION_SHARE: f64 = 0.1;

/// Why a run retrains, or `None` to keep the model. The text goes into the manifest.
pub fn retrain_reason(
    existing: Option<&ChurnModel>,
    spec: &FeatureSpec,
    rule: &LabelRule,
    as_of: i64,
    max_age_days: u32,
) -> Option<String> {
    let Some(model) = existing else {
        return Some("no model yet".into());
    };
    if let Err(e) = model.check_compatible(spec) {
        // `e` already says "model does not match the feature definitions: …".
        return Some(e.to_string());
    }
    // The model predicts churn as it was defined when it was trained.
    if model.label != *rule {
        return Some(format!(
            "the churn definition changed: the model has {}, the run asks for {}",
            rule_text(&model.label),
            rule_text(rule)
        ));
    }
    let trained = parse_timestamp(&model.training.as_of).unwrap_or(i64::MIN / 2);
    let age_days = (as_of - trained).div_euclid(DAY_MS);
    if age_days > i64::from(max_age_days) {
        return Some(format!(
            "the model was trained as of {}, {age_days} days before this run (limit {max_age_days})",
            model.training.as_of
        ));
    }
    if age_days < 0 {
        return Some(format!(
            "the model was trained as of {}, after this run's as-of date (a backfill)",
            model.training.as_of
        ));
    }
    None
}

/// A label rule in words, for messages.
fn rule_text(r: &LabelRule) -> String {
    let definition = match r.definition {
        Definition::Inactivity => "inactivity",
        Definition::Subscription => "subscription",
    };
    let signal = match r.signal {
        Signal::ValueAction => "value_action",
        Signal::AnyEvent => "any_event",
    };
    format!(
        "{definition} churn, horizon {} days, active {} days, signal {signal}",
        r.horizon_days, r.active_days
    )
}

/// Refuses to score a population much smaller than the one the model was validated on
/// (`min_share` of it): usually a log that stops early or a wrong as-of date, and a list
/// from it would tell CS that most customers vanished.
pub fn check_population(model: &ChurnModel, scored: usize, min_share: f64) -> Result<()> {
    let expected = model.validation.rows;
    if (scored as f64) < min_share * expected as f64 || scored == 0 {
        return Err(Error::PopulationTooSmall {
            scored,
            validated: expected,
            validation_date: model
                .training
                .panel
                .first()
                .map_or_else(|| "?".into(), |d| d.as_of.clone()),
            min_share,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// The name of this build's last feature for `model`'s event types.
    fn spec_last_feature(spec: &FeatureSpec, model: &ChurnModel) -> String {
        let defs = crate::features::catalog(spec, &model.event_types);
        defs.last().unwrap().name.clone()
    }

    /// The manifest's retrain reason says the mismatch once, in the check's own words.
    #[test]
    fn a_model_that_does_not_match_says_so_once() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let spec = FeatureSpec::load(&root.join("features/default.toml")).unwrap();
        let mut model = ChurnModel::load(&root.join("models/sample.json")).unwrap();
        let rule = model.label;
        let as_of = parse_timestamp(&model.training.as_of).unwrap();
        assert_eq!(retrain_reason(Some(&model), &spec, &rule, as_of, 30), None);
        model.features.pop();
        let reason = retrain_reason(Some(&model), &spec, &rule, as_of, 30).unwrap();
        // It names what differs, not the 90 features on each side.
        let last = spec_last_feature(&spec, &model);
        assert_eq!(
            reason,
            format!("model does not match the feature definitions: 1 feature(s) this churnrisk computes are not in the model ({last}); it was trained by another churnrisk version or with other definitions: retrain it")
        );
        assert_eq!(reason.matches("feature definitions").count(), 1, "{reason}");
    }
}
