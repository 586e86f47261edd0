//! The re-engagement play for an at-risk user, chosen from their behaviour by documented,
//! ordered rules (BRIEF §2). The first rule that matches wins and is reported with the play.
//!
//! | order | rule (figures at the as-of date) | play |
//! | --- | --- | --- |
//! | 0 | a cancellation asked for and pending (subscriptions): the call that can still save them | Re-engagement |
//! | 0b | a subscription whose status is paused: a check-in before it resumes, not a lapse | Re-engagement |
//! | 1 | 2+ friction events in the recent window, or 1+ while stalled mid-funnel | Contextual Guidance |
//! | 2 | never reached activation | Progress & Momentum |
//! | 3 | activated, at most 1 value action in the long window and none in the recent one | Repeat Value |
//! | 4 | active on 3+ recent days but uses at most a third of the core features (at most one where there are fewer than six), and not all of them | Feature Discovery |
//! | 5 | otherwise | Re-engagement |
//!
//! Rule 5's text says what the user's figures show, in this order: fewer active days a day than in the window before, no
//! event for half the recent window or more, else steady activity (the risk is in the
//! reasons).

use crate::features::catalog::{declined, Core, FeatureId};
use crate::features::{FeatureSpec, RawRow};

/// The five plays.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Play {
    RepeatValue,
    ProgressMomentum,
    ContextualGuidance,
    FeatureDiscovery,
    Reengagement,
}

impl Play {
    /// The play's name as CS knows it.
    pub fn label(self) -> &'static str {
        match self {
            Play::RepeatValue => "Repeat Value",
            Play::ProgressMomentum => "Progress & Momentum",
            Play::ContextualGuidance => "Contextual Guidance",
            Play::FeatureDiscovery => "Feature Discovery",
            Play::Reengagement => "Re-engagement",
        }
    }
}

/// A play and the rule that chose it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlayChoice {
    pub play: Play,
    pub rule: String,
}

/// Applies the rules in order; `has_reasons`: whether the user's reasons name any figure.
pub fn recommend(spec: &FeatureSpec, row: &dyn RawRow, has_reasons: bool) -> PlayChoice {
    let f = &spec.file;
    let recent = spec.windows.recent_days;
    let friction = if f.events.friction.is_empty() {
        0.0
    } else {
        row.get(Core::FrictionRecent)
    };
    let stalled = f.funnels.iter().enumerate().find_map(|(i, g)| {
        let v = row.value(FeatureId::Funnel(i));
        (v > 0.0 && v < 1.0).then_some(g)
    });
    let choose = |play, rule: String| PlayChoice { play, rule };
    // A customer who has asked to cancel is a save call, whatever else their figures say.
    if row.get(Core::CancelRequested) > 0.0 {
        return choose(
            Play::Reengagement,
            format!(
                "re-engagement: {}, the subscription still running",
                crate::features::catalog::asked_to_cancel(row.get(Core::DaysSinceCancelRequest))
            ),
        );
    }
    // A subscriber who paused chose a break: not a lapse to win back, a check-in before
    // the subscription resumes (a meal kit's paused customers read "a long gap").
    if row.get(Core::Paused) > 0.0 {
        return choose(
            Play::Reengagement,
            "re-engagement: the subscription is paused; check in before it resumes".into(),
        );
    }
    if friction >= 2.0 || (friction >= 1.0 && stalled.is_some()) {
        let place = stalled
            .map(|g| format!(" while stalled in {}", g.name))
            .unwrap_or_default();
        return choose(
            Play::ContextualGuidance,
            format!(
                "friction: {} in the last {recent} days{place}",
                crate::features::catalog::friction_events(f, row, friction)
            ),
        );
    }
    if row.get(Core::Activated) == 0.0 {
        return choose(
            Play::ProgressMomentum,
            format!(
                "progress: never reached {}",
                crate::features::catalog::first_value(f)
            ),
        );
    }
    if row.get(Core::ValueLong) <= 1.0 && row.get(Core::ValueRecent) == 0.0 {
        return choose(
            Play::RepeatValue,
            format!("value not repeated: activated, no value action in the last {recent} days"),
        );
    }
    let core = f.events.core.len() as f64;
    let used = row.get(Core::CoreUsed);
    // Something left to discover: not all of the core features used.
    if row.get(Core::ActiveRecent) >= 3.0 && used < core && used <= (core / 3.0).max(1.0) {
        return choose(
            Play::FeatureDiscovery,
            format!("discovery: active but uses {used} of {core} core features"),
        );
    }
    let (prior, active_recent, active_prior) = (
        spec.windows.prior_days,
        row.get(Core::ActiveRecent),
        row.get(Core::ActivePrior),
    );
    let gap = row.get(Core::DaysSinceEvent);
    let rule = if declined(
        row,
        Core::ActiveRecent,
        Core::ActivePrior,
        f64::from(recent) / f64::from(prior),
    ) {
        format!("re-engagement: declining, active on {active_recent:.0} of the last {recent} days and {active_prior:.0} of the {prior} before")
    } else if gap >= f64::from(recent) / 2.0 {
        format!("re-engagement: a long gap, no activity for {gap:.1} days")
    } else {
        // A user can be at risk with no figure on its risky side to name (the model's
        // risk then comes from figures it weighs against intuition, or many small ones).
        if has_reasons {
            "re-engagement: activity steady, the risk is in the reasons".into()
        } else {
            "re-engagement: activity steady; no single figure explains the risk".into()
        }
    };
    choose(Play::Reengagement, rule)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::NamedRow;
    use std::path::Path;

    fn spec() -> FeatureSpec {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("features/default.toml");
        FeatureSpec::load(&p).unwrap()
    }

    fn play(pairs: &[(&str, f64)]) -> Play {
        rule(pairs).play
    }

    fn rule(pairs: &[(&str, f64)]) -> PlayChoice {
        let spec = spec();
        recommend(&spec, &NamedRow::new(&spec, pairs), true)
    }

    #[test]
    fn re_engagement_says_what_the_figures_show() {
        let engaged = [
            ("activated", 1.0),
            ("value_actions_long", 9.0),
            ("core_features_used", 5.0),
        ];
        let with = |more: &[(&str, f64)]| {
            let mut pairs = engaged.to_vec();
            pairs.extend_from_slice(more);
            let choice = rule(&pairs);
            assert_eq!(choice.play, Play::Reengagement);
            choice.rule
        };
        let spec = spec();
        let (r, p) = (spec.windows.recent_days, spec.windows.prior_days);
        assert_eq!(
            with(&[("active_days_recent", 2.0), ("active_days_prior", 12.0)]),
            format!("re-engagement: declining, active on 2 of the last {r} days and 12 of the {p} before")
        );
        assert_eq!(
            with(&[("active_days_recent", 12.0), ("days_since_last_event", 9.5)]),
            "re-engagement: a long gap, no activity for 9.5 days"
        );
        // A paused subscription is a chosen break, even with friction beside it.
        assert_eq!(
            with(&[
                ("days_since_last_event", 20.5),
                ("subscription_paused", 1.0),
                ("friction_recent", 3.0)
            ]),
            "re-engagement: the subscription is paused; check in before it resumes"
        );
        assert_eq!(
            with(&[("active_days_recent", 12.0), ("days_since_last_event", 0.3)]),
            "re-engagement: activity steady, the risk is in the reasons"
        );
        // Without a reason to point to, the rule does not point to them.
        let mut pairs = engaged.to_vec();
        pairs.extend_from_slice(&[("active_days_recent", 12.0), ("days_since_last_event", 0.3)]);
        assert_eq!(
            recommend(&spec, &NamedRow::new(&spec, &pairs), false).rule,
            "re-engagement: activity steady; no single figure explains the risk"
        );
    }

    /// A pending cancellation comes first: friction, no activation or few core features
    /// in use do not turn a save call into a guided tour.
    #[test]
    fn a_customer_who_asked_to_cancel_gets_the_save_call() {
        for others in [
            &[("friction_recent", 3.0), ("activated", 1.0)][..],
            &[("activated", 0.0)],
            &[
                ("activated", 1.0),
                ("value_actions_long", 9.0),
                ("value_actions_recent", 2.0),
                ("active_days_recent", 5.0),
                ("core_features_used", 1.0),
            ],
        ] {
            let mut pairs = vec![
                ("cancel_requested", 1.0),
                ("days_since_cancel_request", 3.5),
            ];
            pairs.extend_from_slice(others);
            let choice = rule(&pairs);
            assert_eq!(
                (choice.play, choice.rule.as_str()),
                (
                    Play::Reengagement,
                    "re-engagement: asked to cancel 3 days ago, the subscription still running"
                ),
                "{others:?}"
            );
        }
    }

    #[test]
    fn each_rule_fires() {
        assert_eq!(
            play(&[("friction_recent", 3.0), ("activated", 1.0)]),
            Play::ContextualGuidance
        );
        assert_eq!(
            play(&[("friction_recent", 1.0), ("funnel_onboarding", 0.5)]),
            Play::ContextualGuidance
        );
        // The rule names the feature file's friction events, in the singular for one.
        assert_eq!(
            rule(&[("friction_recent", 1.0), ("funnel_onboarding", 0.5)]).rule,
            "friction: 1 × import_failed or error_shown in the last 14 days while stalled in onboarding"
        );
        assert_eq!(play(&[("funnel_onboarding", 0.5)]), Play::ProgressMomentum);
        assert_eq!(
            play(&[("activated", 1.0), ("value_actions_long", 1.0)]),
            Play::RepeatValue
        );
        assert_eq!(
            play(&[
                ("activated", 1.0),
                ("value_actions_long", 9.0),
                ("active_days_recent", 6.0),
                ("core_features_used", 1.0)
            ]),
            Play::FeatureDiscovery
        );
        assert_eq!(
            play(&[
                ("activated", 1.0),
                ("value_actions_long", 9.0),
                ("active_days_recent", 1.0),
                ("core_features_used", 5.0)
            ]),
            Play::Reengagement
        );
    }

    /// A product with one core feature: a user of it has nothing left to discover.
    #[test]
    fn discovery_needs_a_feature_left_to_discover() {
        let mut spec = spec();
        spec.file.events.core = vec!["lesson_complete".into()];
        let user = |used: f64| {
            let pairs = [
                ("activated", 1.0),
                ("value_actions_long", 9.0),
                ("active_days_recent", 6.0),
                ("core_features_used", used),
            ];
            recommend(&spec, &NamedRow::new(&spec, &pairs), true)
        };
        assert_eq!(user(1.0).play, Play::Reengagement);
        let none = user(0.0);
        assert_eq!(none.play, Play::FeatureDiscovery);
        assert_eq!(none.rule, "discovery: active but uses 0 of 1 core features");
    }
}
