//! The feature catalog: every feature's name, one-line meaning, scale transform and the
//! plain-words phrase used in reasons. The catalog fixes the feature order a model uses.
//! It describes features; computing them is `compute`'s job.

use serde::{Deserialize, Serialize};

use super::spec::{FeatureFile, FeatureSpec};

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

/// The catalog's named features (and the two raw figures kept beside them for reasons):
/// each one's identity. Code that reads a feature names it by this type, so a renamed or
/// missing feature is a compile error, not a silent 0; its column name is [`Core::name`],
/// written once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Core {
    ActiveRecent,
    ActivePrior,
    ActivityChange,
    ActivitySlope,
    DaysSinceValue,
    DaysSinceEvent,
    ValuePerActiveDay,
    CoreUsed,
    Tenure,
    Activated,
    TimeToValue,
    SessionsRecent,
    SessionMinutes,
    ValueTrend,
    ValueLong,
    EventsPerWeek,
    ValuePerWeek,
    ValueAmountLong,
    FeedbackLong,
    FrictionRecent,
    ValueRecent,
    ValuePrior,
    ValueTotal,
    ValueAmountMean,
    ValueOverdue,
    ValueSilence,
    BgNbdQuietOdds,
    ActiveWeeks,
    ActiveWeekShare,
    RenewalDue,
    DaysToRenewal,
    CancelRequested,
    DaysSinceCancelRequest,
    InTrial,
    RenewalsInHorizon,
    DaysObserved,
    /// 1 if the subscriptions table's status says the subscription is paused (a status at
    /// the export, so only for the list: never a model feature).
    Paused,
}

impl Core {
    /// Every named feature, in no particular order.
    pub const ALL: [Core; 37] = [
        Core::ActiveRecent,
        Core::ActivePrior,
        Core::ActivityChange,
        Core::ActivitySlope,
        Core::DaysSinceValue,
        Core::DaysSinceEvent,
        Core::ValuePerActiveDay,
        Core::CoreUsed,
        Core::Tenure,
        Core::Activated,
        Core::TimeToValue,
        Core::SessionsRecent,
        Core::SessionMinutes,
        Core::ValueTrend,
        Core::ValueLong,
        Core::EventsPerWeek,
        Core::ValuePerWeek,
        Core::ValueAmountLong,
        Core::FeedbackLong,
        Core::FrictionRecent,
        Core::ValueRecent,
        Core::ValuePrior,
        Core::ValueTotal,
        Core::ValueAmountMean,
        Core::ValueOverdue,
        Core::ValueSilence,
        Core::BgNbdQuietOdds,
        Core::ActiveWeeks,
        Core::ActiveWeekShare,
        Core::RenewalDue,
        Core::DaysToRenewal,
        Core::CancelRequested,
        Core::DaysSinceCancelRequest,
        Core::InTrial,
        Core::RenewalsInHorizon,
        Core::DaysObserved,
        Core::Paused,
    ];

    /// The column name (also the name in model files).
    pub fn name(self) -> &'static str {
        match self {
            Core::ActiveRecent => "active_days_recent",
            Core::ActivePrior => "active_days_prior",
            Core::ActivityChange => "activity_change",
            Core::ActivitySlope => "activity_slope",
            Core::DaysSinceValue => "days_since_last_value",
            Core::DaysSinceEvent => "days_since_last_event",
            Core::ValuePerActiveDay => "value_per_active_day",
            Core::CoreUsed => "core_features_used",
            Core::Tenure => "tenure_days",
            Core::Activated => "activated",
            Core::TimeToValue => "time_to_value_days",
            Core::SessionsRecent => "sessions_recent",
            Core::SessionMinutes => "session_minutes",
            Core::ValueTrend => "value_trend",
            Core::ValueLong => "value_actions_long",
            Core::EventsPerWeek => "events_per_week",
            Core::ValuePerWeek => "value_per_week",
            Core::ValueAmountLong => "value_amount_long",
            Core::FeedbackLong => "feedback_long",
            Core::FrictionRecent => "friction_recent",
            Core::ValueRecent => "value_actions_recent",
            Core::ValuePrior => "value_actions_prior",
            Core::ValueTotal => "value_actions_total",
            Core::ValueAmountMean => "value_amount_mean",
            Core::ValueOverdue => "value_overdue",
            Core::ValueSilence => "value_silence",
            Core::BgNbdQuietOdds => "bgnbd_quiet_odds",
            Core::ActiveWeeks => "active_weeks",
            Core::ActiveWeekShare => "active_week_share",
            Core::RenewalDue => "renewal_due",
            Core::DaysToRenewal => "days_to_renewal",
            Core::CancelRequested => "cancel_requested",
            Core::DaysSinceCancelRequest => "days_since_cancel_request",
            Core::InTrial => "in_trial",
            Core::RenewalsInHorizon => "renewals_in_horizon",
            Core::DaysObserved => "days_observed",
            Core::Paused => "subscription_paused",
        }
    }
}

/// A feature's identity: a named feature, or the `i`-th funnel, ratio or event type of
/// the feature file and the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FeatureId {
    Core(Core),
    Funnel(usize),
    Ratio(usize),
    RateRecent(usize),
    RatePrior(usize),
    RateLong(usize),
    RateLife(usize),
    RateWeek(usize),
}

/// Which side of typical a feature must be on to be named as a reason for risk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Risky when above typical (e.g. days since the last value action).
    Higher,
    /// Risky when below typical (e.g. active days).
    Lower,
    /// Either side, as the model learned it (e.g. ratios of two event types).
    Either,
}

/// One feature.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureDef {
    pub id: FeatureId,
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
    /// the value is on the feature's risky side, a "change" reason is a decline, and a
    /// figure set beside `typical` differs from it as written ("0 × x (typical 0)" is none).
    pub fn is_reason(&self, spec: &FeatureSpec, z: f64, row: &dyn RawRow, typical: f64) -> bool {
        let side = match self.risky_when {
            Direction::Higher => z > 0.0,
            Direction::Lower => z < 0.0,
            Direction::Either => true,
        };
        side && match self.id {
            FeatureId::Core(Core::ActivePrior | Core::ActivityChange) => {
                declined(row, Core::ActiveRecent, Core::ActivePrior, 0.5)
            }
            FeatureId::Core(Core::ValueTrend) => {
                declined(row, Core::ValueRecent, Core::ValuePrior, 0.5)
            }
            // An average of no value actions is none, not 0.00 ("average value 0.00
            // (typical 66.92)" for a customer who never ordered): the silence says it.
            FeatureId::Core(Core::ValueAmountMean) => row.get(Core::ValueTotal) > 0.0,
            FeatureId::Core(Core::ValueAmountLong) => row.get(Core::ValueLong) > 0.0,
            FeatureId::Core(Core::SessionsRecent) => {
                format_count(row.get(Core::SessionsRecent)) != format_count(typical.round())
            }
            // A slope that prints as "falling by 0.0 a week" is no fall.
            FeatureId::Core(Core::ActivitySlope) => row.get(Core::ActivitySlope) <= -0.05,
            // A user first seen after the prior window (or in its last days) has a
            // prior figure assumed from the recent one, not seen: no reason.
            FeatureId::RatePrior(_)
                if seen_in(self.id, spec, row)
                    .is_some_and(|(seen, window)| seen < 7.0_f64.min(f64::from(window))) =>
            {
                false
            }
            // A total over less than the long window is the user's youth, not their use
            // ("0 × add_to_watchlist in total (typical 5)" for a 5-day-old trial): their
            // pace a week says it fairly.
            FeatureId::RateLife(_)
                if row.get(Core::DaysObserved) < f64::from(spec.windows.long_days) =>
            {
                false
            }
            FeatureId::RateRecent(_)
            | FeatureId::RatePrior(_)
            | FeatureId::RateLong(_)
            | FeatureId::RateLife(_) => {
                format_count(row.value(self.id)) != format_count(typical.round())
            }
            FeatureId::RateWeek(_) => {
                format!("{:.1}", row.value(self.id)) != format!("{typical:.1}")
            }
            FeatureId::Ratio(_) => format!("{:.2}", row.value(self.id)) != format!("{typical:.2}"),
            _ => true,
        }
    }
}

/// Whether `row`'s `recent` count is below its `prior` one times `ratio` (the recent
/// window's length over the prior's: fewer a day than before).
pub fn declined(row: &dyn RawRow, recent: Core, prior: Core, ratio: f64) -> bool {
    row.get(recent) < row.get(prior) * ratio
}

/// Reads raw feature values of one user (for plays, and phrases that need several figures).
pub trait RawRow {
    /// The value of feature `id`; a feature the feature file does not define (no friction
    /// events, say) reads as 0: none of it happened.
    fn value(&self, id: FeatureId) -> f64;

    /// The value of a named feature.
    fn get(&self, id: Core) -> f64 {
        self.value(FeatureId::Core(id))
    }

    /// The value of the feature called `name` (`n_recent__x`); none when the model has no
    /// such feature (an event type without rates of its own).
    fn named(&self, name: &str) -> Option<f64>;
}

/// Builds the catalog for a spec and the chosen per-event-type list, in model order.
pub fn catalog(spec: &FeatureSpec, event_types: &[String]) -> Vec<FeatureDef> {
    let f = &spec.file;
    let w = &spec.windows;
    let (r, p, l) = (w.recent_days, w.prior_days, w.long_days);
    let mut defs: Vec<FeatureDef> = Vec::new();
    let mut add = |id: FeatureId, name: String, meaning: String, transform: Transform| {
        let (family, risky_when) = family_of(spec, id, &name, event_types);
        defs.push(FeatureDef {
            id,
            name,
            meaning,
            transform,
            family,
            risky_when,
        })
    };
    use Transform::{Log1p, None as Raw};
    add(
        FeatureId::Core(Core::ActiveRecent),
        Core::ActiveRecent.name().into(),
        format!("days with presence in the last {r} days"),
        Raw,
    );
    add(
        FeatureId::Core(Core::ActivePrior),
        Core::ActivePrior.name().into(),
        format!("days with presence in the {p} days before the recent window"),
        Raw,
    );
    add(
        FeatureId::Core(Core::ActivityChange),
        Core::ActivityChange.name().into(),
        format!("ln of (active days in the last {r} days + 1) over (the prior {p} days' active days per {r} days + 1); below 0 is a decline"),
        Raw,
    );
    add(
        FeatureId::Core(Core::ActivitySlope),
        Core::ActivitySlope.name().into(),
        "slope of weekly active days over the last 6 weeks (days/week per week)".into(),
        Raw,
    );
    add(
        FeatureId::Core(Core::DaysSinceValue),
        Core::DaysSinceValue.name().into(),
        "days since the last value action (tenure if none)".into(),
        Log1p,
    );
    add(
        FeatureId::Core(Core::DaysSinceEvent),
        Core::DaysSinceEvent.name().into(),
        "days since the last event of any kind".into(),
        Log1p,
    );
    add(
        FeatureId::Core(Core::ValuePerActiveDay),
        Core::ValuePerActiveDay.name().into(),
        format!("value actions per active day over the last {l} days"),
        Log1p,
    );
    add(
        FeatureId::Core(Core::CoreUsed),
        Core::CoreUsed.name().into(),
        format!(
            "distinct core features used in the last {l} days (of {})",
            f.events.core.len()
        ),
        Raw,
    );
    add(
        FeatureId::Core(Core::Tenure),
        Core::Tenure.name().into(),
        "days since signup (or the first event)".into(),
        Log1p,
    );
    add(
        FeatureId::Core(Core::Activated),
        Core::Activated.name().into(),
        "1 if the user ever reached activation, else 0".into(),
        Raw,
    );
    add(
        FeatureId::Core(Core::TimeToValue),
        Core::TimeToValue.name().into(),
        "days from signup to activation (days waited so far if not activated)".into(),
        Log1p,
    );
    add(
        FeatureId::Core(Core::SessionsRecent),
        Core::SessionsRecent.name().into(),
        format!("sessions in the last {r} days"),
        Log1p,
    );
    add(
        FeatureId::Core(Core::SessionMinutes),
        Core::SessionMinutes.name().into(),
        format!("median session length in minutes over the last {l} days"),
        Log1p,
    );
    add(
        FeatureId::Core(Core::ValueTrend),
        Core::ValueTrend.name().into(),
        format!("ln of (value actions in the last {r} days + 1) over (the prior {p} days' per {r} days + 1)"),
        Raw,
    );
    add(
        FeatureId::Core(Core::ValueLong),
        Core::ValueLong.name().into(),
        format!("value actions in the last {l} days"),
        Log1p,
    );
    add(
        FeatureId::Core(Core::EventsPerWeek),
        Core::EventsPerWeek.name().into(),
        "events per week since signup".into(),
        Log1p,
    );
    add(
        FeatureId::Core(Core::ValuePerWeek),
        Core::ValuePerWeek.name().into(),
        "value actions per week since signup".into(),
        Log1p,
    );
    add(
        FeatureId::Core(Core::ValueAmountLong),
        Core::ValueAmountLong.name().into(),
        format!(
            "mean `value` of the value actions with one in the last {l} days (0 without): a mean, not a sum, so it does not repeat the count"
        ),
        Log1p,
    );
    add(
        FeatureId::Core(Core::ValueTotal),
        Core::ValueTotal.name().into(),
        "value actions since the first event".into(),
        Log1p,
    );
    add(
        FeatureId::Core(Core::ValueAmountMean),
        Core::ValueAmountMean.name().into(),
        "mean `value` of the value actions that have one, since the first event (0 without)".into(),
        Log1p,
    );
    add(
        FeatureId::Core(Core::ValueOverdue),
        Core::ValueOverdue.name().into(),
        format!("days since the last value action over the user's own mean gap between value actions (the log's typical {:.1} days with fewer than two; at least 1 day)", spec.typical_gap_days),
        Log1p,
    );
    add(
        FeatureId::Core(Core::ValueSilence),
        Core::ValueSilence.name().into(),
        format!("value actions the user's own lifetime pace would have brought since the last one: count × ln((days observed + g) / (days observed up to the last value action + g)), g = the log's typical gap ({:.1} days); the silence term of the buy-till-you-die models", spec.typical_gap_days),
        Raw,
    );
    add(
        FeatureId::Core(Core::BgNbdQuietOdds),
        Core::BgNbdQuietOdds.name().into(),
        format!("log-odds of no value action in the next {} days under the BG/NBD buy-till-you-die model (Fader, Hardie and Lee 2005) fitted by training to every user's value actions: the chance the user has silently dropped out, or is still there and quiet at their own rate (0 before a fit)", spec.bgnbd.map_or(0, |m| m.horizon_days)),
        Raw,
    );
    add(
        FeatureId::Core(Core::ActiveWeeks),
        Core::ActiveWeeks.name().into(),
        "weeks with presence since the first event (7-day steps back from the as-of date)".into(),
        Log1p,
    );
    add(
        FeatureId::Core(Core::ActiveWeekShare),
        Core::ActiveWeekShare.name().into(),
        "share of the weeks the user was observable that had presence".into(),
        Raw,
    );
    if let Some(h) = spec.renewal_horizon_days {
        add(
            FeatureId::Core(Core::RenewalDue),
            Core::RenewalDue.name().into(),
            format!("1 if the subscription's next renewal falls in the next {h} days (the churn horizon), else 0: a subscription ends at a renewal; the date is the latest row's start (or trial end) plus the billing cycle: the plan's interval where the table states it, else the interval between the user's last two rows, else the table's typical one, else a month"),
            Raw,
        );
        add(
            FeatureId::Core(Core::RenewalsInHorizon),
            Core::RenewalsInHorizon.name().into(),
            format!("renewals in the next {h} days, dated as for renewal_due, each a chance to leave: 4 for a weekly plan, 1 for a monthly plan, 0 while the next renewal is later"),
            Log1p,
        );
        add(
            FeatureId::Core(Core::CancelRequested),
            Core::CancelRequested.name().into(),
            "1 if the subscriber has asked to cancel a subscription that is still running (set to end at its period's end: the table's canceled_at before T, its end after T or empty), else 0; 0 for everyone when the table has no canceled_at".into(),
            Raw,
        );
        add(
            FeatureId::Core(Core::InTrial),
            Core::InTrial.name().into(),
            "1 while the subscription's trial runs (the table's trial_end after T), else 0: its first payment is still to come; 0 for everyone when the table has no trial_end".into(),
            Raw,
        );
    }
    if !f.events.feedback.is_empty() {
        add(
            FeatureId::Core(Core::FeedbackLong),
            Core::FeedbackLong.name().into(),
            format!("feedback responses in the last {l} days"),
            Log1p,
        );
    }
    if !f.events.friction.is_empty() {
        add(
            FeatureId::Core(Core::FrictionRecent),
            Core::FrictionRecent.name().into(),
            format!("friction events (errors, failures) in the last {r} days"),
            Log1p,
        );
    }
    for (i, funnel) in f.funnels.iter().enumerate() {
        add(
            FeatureId::Funnel(i),
            format!("funnel_{}", funnel.name),
            format!(
                "share of the {} funnel's {} steps reached, in order",
                funnel.name,
                funnel.steps.len()
            ),
            Raw,
        );
    }
    for (i, ratio) in f.ratios.iter().enumerate() {
        add(
            FeatureId::Ratio(i),
            format!("ratio_{}", ratio.name),
            format!(
                "{} per {} over the last {l} days",
                ratio.numerator, ratio.denominator
            ),
            Log1p,
        );
    }
    for (i, e) in event_types.iter().enumerate() {
        let seen = "per the days the user was observable";
        add(
            FeatureId::RateRecent(i),
            rate_recent_name(e),
            format!("`{e}` events in the last {r} days ({seen})"),
            Log1p,
        );
        add(
            FeatureId::RatePrior(i),
            rate_prior_name(e),
            format!("`{e}` events in the {p} days before the recent window ({seen})"),
            Log1p,
        );
        add(
            FeatureId::RateLong(i),
            rate_long_name(e),
            format!("`{e}` events in the last {l} days ({seen})"),
            Log1p,
        );
        add(
            FeatureId::RateLife(i),
            rate_life_name(e),
            format!("`{e}` events since the first event"),
            Log1p,
        );
        add(
            FeatureId::RateWeek(i),
            rate_week_name(e),
            format!("`{e}` events per week the user was observable"),
            Log1p,
        );
    }
    defs
}

/// The family and risky side of a feature.
fn family_of(
    spec: &FeatureSpec,
    id: FeatureId,
    name: &str,
    event_types: &[String],
) -> (String, Direction) {
    use Core::*;
    use Direction::*;
    let (family, dir) = match id {
        FeatureId::Core(c) => match c {
            DaysSinceValue | DaysSinceEvent | ValueOverdue | ValueSilence | BgNbdQuietOdds => {
                ("recency", Higher)
            }
            ActivePrior => ("activity", Either),
            ActiveRecent | ActivityChange | ActivitySlope | SessionsRecent | EventsPerWeek
            | SessionMinutes | ActiveWeeks | ActiveWeekShare => ("activity", Lower),
            ValuePerActiveDay | ValueTrend | ValueLong | ValuePerWeek | ValueAmountLong
            | ValueTotal | ValueRecent | ValuePrior => ("value", Lower),
            ValueAmountMean => ("value", Either),
            CoreUsed => ("depth", Lower),
            Tenure | DaysObserved => ("tenure", Lower),
            Paused => ("renewal", Higher),
            Activated => ("activation", Lower),
            TimeToValue => ("activation", Higher),
            FeedbackLong => ("feedback", Either),
            FrictionRecent => ("friction", Higher),
            RenewalDue | DaysToRenewal | InTrial | RenewalsInHorizon => ("renewal", Higher),
            CancelRequested | DaysSinceCancelRequest => ("cancellation", Higher),
        },
        FeatureId::Funnel(_) => ("activation", Lower),
        FeatureId::Ratio(_) => return (name.to_string(), Either),
        FeatureId::RateRecent(i)
        | FeatureId::RatePrior(i)
        | FeatureId::RateLong(i)
        | FeatureId::RateLife(i)
        | FeatureId::RateWeek(i) => {
            let event = event_types.get(i).map_or(name, String::as_str);
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
                // An event of no listed role is product use: named as a reason when the
                // user does less of it than typical, never more (two new users' lists
                // gave "3.7 × dashboard_viewed a week since signup (typical 1.9)" and
                // "3 × seat_invited since signup (typical 0)" as reasons for risk).
                return (format!("event:{event}"), Lower);
            }
        }
    };
    (family.to_string(), dir)
}

/// The reason a paused subscriber's row leads with.
pub const PAUSED: &str = "subscription paused (its status in the subscriptions table)";

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
pub fn phrase(spec: &FeatureSpec, def: &FeatureDef, row: &dyn RawRow, typical: f64) -> String {
    let f = &spec.file;
    let w = &spec.windows;
    let (r, p, l) = (
        w.recent_days as f64,
        w.prior_days as f64,
        w.long_days as f64,
    );
    let v = row.value(def.id);
    let n = |x: f64| format_count(x);
    let days = |x: f64| counted(x, "day", "days");
    let actions = |x: f64| counted(x, "value action", "value actions");
    let FeatureId::Core(id) = def.id else {
        return other_phrase(spec, def, row, v, typical);
    };
    use Core::*;
    match id {
        ActiveRecent => format!("active on {} of the last {r} days", n(v)),
        ActivePrior | ActivityChange => {
            let recent = row.get(ActiveRecent);
            let prior = row.get(ActivePrior) * r / p;
            change_phrase("active days", recent, prior, r, p)
        }
        ActivitySlope => format!(
            "weekly active days falling by {:.1} a week over 6 weeks",
            -v
        ),
        DaysSinceValue => {
            // None ever (the feature then reads the tenure), not merely none in a window.
            if row.get(ValueTotal) == 0.0 {
                // Fewer days than the tenure: the user signed up before the log began.
                if v < row.get(Tenure) - 1.0 {
                    format!("no value action in the {} the log covers", days(v))
                } else {
                    format!("no value action in {} since signup", days(v))
                }
            } else {
                format!("no value action for {}", days(v))
            }
        }
        // Events that are not presence (a page view where logins mark presence) can be
        // newer than the last active day: say so, or "active on 0 days" reads as a
        // contradiction beside it.
        DaysSinceEvent if v < r && row.get(ActiveRecent) == 0.0 && !f.events.login.is_empty() => {
            format!("last event {} ago (not {})", days(v), presence_events(f))
        }
        DaysSinceEvent => format!("no activity for {}", days(v)),
        ValuePerActiveDay => format!("{v:.1} value actions per active day (last {l} days)"),
        CoreUsed => format!("uses {} of {} core features", n(v), f.events.core.len()),
        Tenure => format!("signed up {} ago", days(v)),
        DaysObserved => format!("seen for {}", days(v)),
        Paused => PAUSED.to_string(),
        Activated => format!("never reached {}", first_value(f)),
        TimeToValue => {
            if row.get(Activated) > 0.0 {
                format!("took {} to {}", days(v), first_value(f))
            } else {
                format!("no {} after {}", first_value(f), days(v))
            }
        }
        SessionsRecent => format!(
            "{} in the last {r} days (typical {})",
            counted(v, "session", "sessions"),
            format_count(typical.round())
        ),
        SessionMinutes => format!("typical session {v:.0} min"),
        ValueTrend => {
            let recent = row.get(ValueRecent);
            let prior = row.get(ValuePrior) * r / p;
            change_phrase("value actions", recent, prior, r, p)
        }
        ValueLong if v == 0.0 => format!("no value action in the last {l} days"),
        ValueLong => format!("only {} in the last {l} days", actions(v)),
        // Over the weeks the user could be seen: since signup, or the log's start for a
        // customer from before it, so "on average" rather than "since signup".
        EventsPerWeek => format!("{v:.1} events a week on average (typical {typical:.1})"),
        ValuePerWeek => format!("{v:.1} value actions a week on average (typical {typical:.1})"),
        ValueAmountLong => format!("average value {v:.2} over the last {l} days"),
        FeedbackLong => format!(
            "{} in the last {l} days",
            counted(v, "feedback response", "feedback responses")
        ),
        FrictionRecent => format!("{} in the last {r} days", friction_events(f, row, v)),
        ValueTotal => format!("{} in total", actions(v)),
        ValueAmountMean => format!("average value {v:.2} (typical {typical:.2})"),
        ValueOverdue => format!("{v:.1}× the usual gap since the last value action"),
        // The figures the silence is made of, which a reader can check; the feature's own
        // value is a log-integral that can pass the user's whole count ("240 missed" of
        // 83 done in a day, then a month gone).
        ValueSilence => {
            let observed = row.get(DaysObserved);
            let silent = row.get(DaysSinceValue).clamp(0.0, observed);
            let span = observed - silent;
            let over = if span < 1.0 {
                "in a day".to_string()
            } else {
                format!("over {}", days(span))
            };
            format!(
                "{} {over} and none in the {} since",
                actions(row.get(ValueTotal)),
                days(silent)
            )
        }
        BgNbdQuietOdds => {
            // Against the typical user's chance (at the training rows' mean log-odds: 18%
            // is a risk where 3% is typical), as a ratio: a percentage here would sit beside
            // the list's own churn probability, a different figure (a CS manager read "29%
            // chance" beside 0.4305 and could not tell which was the risk).
            // Where a quiet spell is typical (a 7-day horizon, or a yearly buyer's), that
            // ratio cannot pass 1 / the typical chance (1.1× at 90%): the chance of a value
            // action is compared instead, which tells the near-certainly gone from the rest.
            let chance = |odds: f64| 1.0 / (1.0 + (-odds).exp());
            let (typical_quiet, quiet) = (chance(typical), chance(v));
            let (ratio, what) = if typical_quiet >= 0.5 {
                // 1 − chance(x) = chance(−x), without the rounding of 1 − 0.99999.
                let ratio = chance(-typical) / chance(-v).max(f64::MIN_POSITIVE);
                (
                    ratio,
                    "less likely than a typical user to do a value action",
                )
            } else {
                let ratio = quiet / typical_quiet.max(f64::MIN_POSITIVE);
                (ratio, "as likely as a typical user to do no value action")
            };
            let times = if ratio >= 100.0 {
                "over 100×".to_string()
            } else if ratio >= 9.95 {
                format!("{ratio:.0}×")
            } else {
                format!("{ratio:.1}×")
            };
            let h = spec.bgnbd.map_or(0, |m| m.horizon_days);
            let total = row.get(ValueTotal);
            let basis = if total == 0.0 {
                "the typical user's pace (none yet)".to_string()
            } else {
                let since = row.get(DaysSinceValue);
                format!(
                    "the user's own past pace ({}, the last {} ago)",
                    actions(total),
                    days(since)
                )
            };
            format!("{times} {what} in the next {h} days, at {basis}")
        }
        ValueRecent => format!("{} in the last {r} days", actions(v)),
        ValuePrior => format!("{} in the {p} days before", actions(v)),
        ActiveWeeks => format!("active in {} in total", counted(v, "week", "weeks")),
        ActiveWeekShare => {
            // The weeks it is taken over: since signup, or since the log's start for a
            // user who signed up before it.
            let weeks = if v > 0.0 {
                (row.get(ActiveWeeks) / v).round()
            } else {
                0.0
            };
            let over = if weeks > 0.0 && weeks * 7.0 < row.get(Tenure) - 7.0 {
                format!("of the {weeks:.0} weeks in the log")
            } else {
                "of weeks since signup".to_string()
            };
            format!(
                "active in {:.0}% {over} (typical {:.0}%)",
                v * 100.0,
                typical * 100.0
            )
        }
        // A subscriber who asked to cancel does not renew: the date is the end; in a trial
        // it is the trial's end.
        RenewalDue | DaysToRenewal | InTrial | RenewalsInHorizon => {
            let what = if row.get(CancelRequested) > 0.0 {
                "subscription ends"
            } else if row.get(InTrial) > 0.0 {
                "trial ends"
            } else {
                "subscription renews"
            };
            // By the calendar day from the as-of date (its midnight): a renewal 0.5 days
            // on is today's, 1.2 days on tomorrow's.
            let when = match row.get(DaysToRenewal).floor() {
                d if d < 1.0 => format!("{what} today"),
                d if d < 2.0 => format!("{what} tomorrow"),
                d => format!("{what} in {}", days(d)),
            };
            // Several renewals ahead (a short plan) say so, unless the first is the end.
            let count = row.get(RenewalsInHorizon);
            match (id, spec.renewal_horizon_days) {
                (RenewalsInHorizon, Some(h)) if count >= 2.0 && row.get(CancelRequested) == 0.0 => {
                    format!("{when}, {} renewals in the next {h} days", n(count))
                }
                _ => when,
            }
        }
        CancelRequested | DaysSinceCancelRequest => {
            asked_to_cancel(row.get(DaysSinceCancelRequest))
        }
    }
}

/// "asked to cancel 3 days ago" for a request `since` days before the as-of date (whole
/// days passed), as the reason and the play's rule both say it.
pub fn asked_to_cancel(since: f64) -> String {
    match since.floor() {
        d if d < 1.0 => "asked to cancel in the last day".to_string(),
        d => format!("asked to cancel {} ago", counted(d, "day", "days")),
    }
}

fn other_phrase(
    spec: &FeatureSpec,
    def: &FeatureDef,
    row: &dyn RawRow,
    v: f64,
    typical: f64,
) -> String {
    let name = def.name.as_str();
    let f = &spec.file;
    let w = &spec.windows;
    if let Some(funnel) = match def.id {
        FeatureId::Funnel(i) => f.funnels.get(i),
        _ => None,
    } {
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
    if let Some(ratio) = match def.id {
        FeatureId::Ratio(i) => f.ratios.get(i),
        _ => None,
    } {
        return format!(
            "{v:.2} {} per {} (typical {typical:.2})",
            ratio.numerator, ratio.denominator
        );
    }
    // A window the user was seen in only in part quotes their count there, not the rate
    // over the whole window the model reads ("1 × x in the 9 days seen of the last 14").
    let (count, span) = match seen_in(def.id, spec, row) {
        Some((seen, window)) if seen < f64::from(window) => {
            let floor = super::compute::rate_floor(spec.typical_gap_days, f64::from(window));
            // Events are whole: the rate times the days it was taken over (also for a user
            // seen 13.5 of 14 days, who read "1.1 × x in the last 14 days").
            let count = (v * seen.max(floor) / f64::from(window)).round();
            let span = if (1.0..=f64::from(window) - 1.0).contains(&seen) {
                format!("{} days seen of the ", seen.floor())
            } else {
                String::new()
            };
            (count, span)
        }
        _ => (v, String::new()),
    };
    let rate = |e: &str, days: u32| {
        if count == 0.0 {
            format!("no {e} in the {span}last {days} days")
        } else {
            format!(
                "{} × {e} in the {span}last {days} days (typical {})",
                format_count(count),
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
            "{} × {e} in total (typical {})",
            format_count(v),
            format_count(typical.round())
        );
    }
    if let Some(e) = name.strip_prefix("n_week__") {
        return format!("{v:.1} × {e} a week on average (typical {typical:.1})");
    }
    if let Some(e) = name.strip_prefix("n_prior__") {
        return format!(
            "{} × {e} in the {span}{} days before the last {} (typical {})",
            format_count(count),
            w.prior_days,
            w.recent_days,
            format_count(typical.round())
        );
    }
    format!("{name} = {v:.2}")
}

/// The days of a per-event-type window (recent, prior or long) in which the user could be
/// seen — from signup or the log's start, whichever is later — and the window's length;
/// none for other features. The recent and long windows end at the as-of date, the prior
/// one where the recent one starts.
fn seen_in(id: FeatureId, spec: &FeatureSpec, row: &dyn RawRow) -> Option<(f64, u32)> {
    let w = &spec.windows;
    let observed = row.get(Core::DaysObserved);
    let (seen, window) = match id {
        FeatureId::RateRecent(_) => (observed, w.recent_days),
        FeatureId::RatePrior(_) => (observed - f64::from(w.recent_days), w.prior_days),
        FeatureId::RateLong(_) => (observed, w.long_days),
        _ => return None,
    };
    Some((seen.clamp(0.0, f64::from(window)), window))
}

/// "2 × import_failed or error_shown": `n` friction events, named by the feature file's
/// friction events when there are few enough to read (a cancellation page listed there is
/// no error, and CS must not be told it is one).
pub fn friction_events(f: &FeatureFile, row: &dyn RawRow, n: f64) -> String {
    // The user's own: an event type with a recent count of its own that is 0 for this user
    // is not named (a meal kit's "2 × Payment Failed or Delivery Skipped" read as a failed
    // card for 1,199 customers who had only skipped).
    let own: Vec<&str> = f
        .events
        .friction
        .iter()
        .filter(|e| row.named(&rate_recent_name(e)).is_none_or(|c| c > 0.0))
        .map(String::as_str)
        .collect();
    let names: Vec<&str> = if own.is_empty() {
        f.events.friction.iter().map(String::as_str).collect()
    } else {
        own
    };
    if names.is_empty() || names.len() > 3 {
        return counted(n, "friction event", "friction events");
    }
    format!("{} × {}", format_count(n), names.join(" or "))
}

/// The presence events as a reason names them: "a login" or "an app_opened or session_start".
fn presence_events(f: &FeatureFile) -> String {
    let names = &f.events.login;
    if names.is_empty() || names.len() > 3 {
        return "a login".into();
    }
    let article = if names[0].starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {}", names.join(" or "))
}

/// "first value", named by the activation events when there are few enough to read:
/// "first value (report_created)".
pub fn first_value(f: &FeatureFile) -> String {
    let names = &f.events.activation;
    if names.is_empty() || names.len() > 3 {
        return "first value".into();
    }
    format!("first value ({})", names.join(" or "))
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

/// "1 day", "2 days", "1.5 days": a count and its noun, singular only for exactly one.
fn counted(x: f64, one: &str, many: &str) -> String {
    let n = format_count(x);
    if n == "1" {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
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
    use crate::features::AUX_COLUMNS;
    use crate::fixtures::NamedRow;
    use std::path::Path;

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
        // An event of no role is product use: less of it is a reason, more is not; a
        // listed friction event is the other way round.
        let side = |n: &str| defs.iter().find(|d| d.name == n).unwrap().risky_when;
        assert_eq!(side("n_week__page_view"), Direction::Lower);
        let s = FeatureSpec::from_toml(
            "[events]\nvalue = [\"report_created\"]\nfriction = [\"page_view\"]\n",
            Path::new("f.toml"),
        )
        .unwrap();
        let defs = catalog(&s, &["page_view".into()]);
        let def = defs.iter().find(|d| d.name == "n_week__page_view").unwrap();
        assert_eq!(def.risky_when, Direction::Higher);
    }

    #[test]
    fn every_named_feature_is_in_the_catalog_under_its_one_name() {
        // The shipped feature file defines friction and feedback events, so with the
        // subscription definition's renewal horizon every named feature is computed; the
        // three raw figures are kept beside the features.
        let s = spec().with_renewal(Some(28));
        let defs = catalog(&s, &[]);
        for c in Core::ALL {
            let def = defs.iter().find(|d| d.id == FeatureId::Core(c));
            if AUX_COLUMNS.contains(&c) {
                assert!(def.is_none(), "{c:?}");
            } else {
                assert_eq!(def.map(|d| d.name.as_str()), Some(c.name()), "{c:?}");
            }
        }
        // Under the inactivity definition there is no renewal.
        assert!(!catalog(&spec(), &[])
            .iter()
            .any(|d| d.name == "renewal_due"));
        let names: std::collections::BTreeSet<_> = Core::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names.len(), Core::ALL.len());
        let ids: std::collections::BTreeSet<_> =
            defs.iter().map(|d| format!("{:?}", d.id)).collect();
        assert_eq!(ids.len(), defs.len(), "one identity per feature");
    }

    #[test]
    fn reasons_must_be_on_the_risky_side() {
        let s = spec();
        let defs = catalog(&s, &[]);
        let def = |n: &str| defs.iter().find(|d| d.name == n).unwrap();
        let row = NamedRow::new(
            &s,
            &[("active_days_recent", 8.0), ("active_days_prior", 10.0)],
        );
        assert!(def("days_since_last_value").is_reason(&s, 1.0, &row, 5.0));
        assert!(!def("days_since_last_value").is_reason(&s, -1.0, &row, 5.0));
        assert!(def("core_features_used").is_reason(&s, -1.0, &row, 5.0));
        // 8 recent active days vs 5 per 14 days before is no decline.
        assert!(!def("activity_change").is_reason(&s, -1.0, &row, 5.0));
        // An event type's count: "0 × x (typical 0)" is no reason, "0 × x (typical 2)" is.
        let defs = catalog(&s, &["x".to_string()]);
        let prior = defs.iter().find(|d| d.name == "n_prior__x").unwrap();
        let row = NamedRow::new(&s, &[("days_observed", 400.0)]);
        assert!(!prior.is_reason(&s, -1.0, &row, 0.3));
        assert!(prior.is_reason(&s, -1.0, &row, 1.6));
        // A user first seen 18 days ago was seen on 4 days of the prior window (days 15 to
        // 42 back): their prior figure is assumed from the recent one, no reason.
        let new = NamedRow::new(&s, &[("days_observed", 18.0)]);
        assert!(!prior.is_reason(&s, -1.0, &new, 1.6));
        let week_in = NamedRow::new(&s, &[("days_observed", 21.0)]);
        assert!(prior.is_reason(&s, -1.0, &week_in, 1.6));
        let week = defs.iter().find(|d| d.name == "n_week__x").unwrap();
        assert!(!week.is_reason(&s, -1.0, &row, 0.04));
        assert!(week.is_reason(&s, -1.0, &row, 0.2));
        // A total is no reason for a user seen for less than the long window (90 days).
        let life = defs.iter().find(|d| d.name == "n_life__x").unwrap();
        assert!(life.is_reason(&s, -1.0, &row, 5.0));
        assert!(!life.is_reason(&s, -1.0, &new, 5.0));
        assert!(week.is_reason(&s, -1.0, &new, 0.2));
    }

    #[test]
    fn phrases_carry_the_users_own_figures() {
        let s = spec();
        let row = NamedRow::new(
            &s,
            &[
                ("active_days_recent", 3.0),
                ("active_days_prior", 20.0),
                ("days_since_last_value", 23.0),
                ("value_actions_long", 4.0),
                ("value_actions_total", 9.0),
                ("core_features_used", 1.0),
                ("funnel_onboarding", 0.5),
                ("days_observed", 400.0),
            ],
        );
        let defs = catalog(&s, &["page_view".into()]);
        let def = |n: &str| defs.iter().find(|d| d.name == n).unwrap();
        // prior 20 days in 28 → 10 per 14 days; recent 3 → down 70%.
        assert_eq!(
            phrase(&s, def("activity_change"), &row, 0.0),
            "active days down 70% vs the 28 days before"
        );
        assert_eq!(
            phrase(&s, def("days_since_last_value"), &row, 0.0),
            "no value action for 23 days"
        );
        assert_eq!(
            phrase(&s, def("core_features_used"), &row, 0.0),
            "uses 1 of 6 core features"
        );
        assert_eq!(
            phrase(&s, def("n_long__page_view"), &row, 41.6),
            "no page_view in the last 90 days"
        );
        // Seen for 30 days of the 90: the count there, not the rate over 90 days the model
        // reads (1 page view in 30 days is 3 per 90).
        let types = ["page_view".to_string()];
        let young = NamedRow::with_events(
            &s,
            &types,
            &[("days_observed", 30.5), ("n_long__page_view", 3.0)],
        );
        assert_eq!(
            phrase(&s, def("n_long__page_view"), &young, 41.6),
            "1 × page_view in the 30 days seen of the last 90 days (typical 42)"
        );
        // The prior window (days 15 to 42 back) seen for 16 of its 28 days: 2 events there
        // read as 3.5 per 28 days.
        let prior = NamedRow::with_events(
            &s,
            &types,
            &[("days_observed", 30.0), ("n_prior__page_view", 3.5)],
        );
        assert_eq!(
            phrase(&s, def("n_prior__page_view"), &prior, 9.0),
            "2 × page_view in the 16 days seen of the 28 days before the last 14 (typical 9)"
        );
        assert_eq!(
            phrase(&s, def("funnel_onboarding"), &row, 0.0),
            "stalled in onboarding after step 2 of 4 (data_source_connected)"
        );
    }

    /// Days since any event beside no active day (a page view, logins marking presence):
    /// the reason says the last event was no login, and reads "no activity" otherwise.
    #[test]
    fn a_recent_event_that_is_no_login_is_named_so() {
        let s = spec();
        let defs = catalog(&s, &[]);
        let def = defs
            .iter()
            .find(|d| d.name == "days_since_last_event")
            .unwrap();
        let say = |since: f64, active: f64| {
            let row = NamedRow::new(
                &s,
                &[
                    ("days_since_last_event", since),
                    ("active_days_recent", active),
                ],
            );
            phrase(&s, def, &row, 0.0)
        };
        assert_eq!(say(7.5, 0.0), "last event 7.5 days ago (not a login)");
        assert_eq!(say(7.5, 2.0), "no activity for 7.5 days");
        // Beyond the recent window no event can be newer than the last active day.
        assert_eq!(say(20.0, 0.0), "no activity for 20 days");
    }

    /// The silence reason quotes its parts: the count, the days it took, the days since.
    #[test]
    fn the_silence_reason_says_what_it_is_made_of() {
        let s = spec();
        let defs = catalog(&s, &[]);
        let def = defs.iter().find(|d| d.name == "value_silence").unwrap();
        let say = |total: f64, observed: f64, since: f64| {
            let row = NamedRow::new(
                &s,
                &[
                    ("value_silence", 240.0),
                    ("value_actions_total", total),
                    ("days_observed", observed),
                    ("days_since_last_value", since),
                ],
            );
            phrase(&s, def, &row, 0.0)
        };
        assert_eq!(
            say(83.0, 33.0, 32.5),
            "83 value actions in a day and none in the 32.5 days since"
        );
        assert_eq!(
            say(540.0, 312.0, 12.0),
            "540 value actions over 300 days and none in the 12 days since"
        );
    }

    /// One of a thing is singular: "1 value action", "1 week", "1 day".
    #[test]
    fn phrases_count_in_the_singular_for_one() {
        let s = spec();
        let defs = catalog(&s, &[]);
        let say = |name: &str, v: f64| {
            let def = defs.iter().find(|d| d.name == name).unwrap();
            let row = NamedRow::new(&s, &[(name, v), ("value_actions_total", 3.0)]);
            phrase(&s, def, &row, 0.0)
        };
        assert_eq!(
            say("value_actions_long", 1.0),
            "only 1 value action in the last 90 days"
        );
        assert_eq!(
            say("value_actions_long", 2.0),
            "only 2 value actions in the last 90 days"
        );
        assert_eq!(say("active_weeks", 1.0), "active in 1 week in total");
        assert_eq!(
            say("days_since_last_value", 1.0),
            "no value action for 1 day"
        );
        assert_eq!(
            say("days_since_last_value", 1.5),
            "no value action for 1.5 days"
        );
        assert_eq!(
            say("sessions_recent", 1.0),
            "1 session in the last 14 days (typical 0)"
        );
        assert_eq!(
            say("friction_recent", 1.0),
            "1 × import_failed or error_shown in the last 14 days"
        );
        assert_eq!(
            say("friction_recent", 0.0),
            "0 × import_failed or error_shown in the last 14 days"
        );
    }

    /// The renewal phrase names the renewal's day: today, tomorrow, in N days.
    #[test]
    fn the_renewal_phrase_says_when() {
        let s = spec().with_renewal(Some(28));
        let defs = catalog(&s, &[]);
        let def = defs.iter().find(|d| d.name == "renewal_due").unwrap();
        assert_eq!(def.family, "renewal");
        let say = |days: f64| {
            let row = NamedRow::new(&s, &[("renewal_due", 1.0), ("days_to_renewal", days)]);
            phrase(&s, def, &row, 0.9)
        };
        assert_eq!(say(8.5), "subscription renews in 8 days");
        assert_eq!(say(1.0), "subscription renews tomorrow");
        assert_eq!(say(1.9), "subscription renews tomorrow");
        assert_eq!(say(0.25), "subscription renews today");
        // Not for a subscriber who asked to cancel: the renewal is the end.
        let ends = NamedRow::new(
            &s,
            &[
                ("renewal_due", 1.0),
                ("days_to_renewal", 7.2),
                ("cancel_requested", 1.0),
            ],
        );
        assert_eq!(phrase(&s, def, &ends, 0.9), "subscription ends in 7 days");
        // In a trial, the renewal is the trial's end, whichever of the two is the reason.
        let trial = NamedRow::new(
            &s,
            &[
                ("renewal_due", 1.0),
                ("days_to_renewal", 4.5),
                ("in_trial", 1.0),
            ],
        );
        assert_eq!(phrase(&s, def, &trial, 0.9), "trial ends in 4 days");
        let in_trial = defs.iter().find(|d| d.name == "in_trial").unwrap();
        assert_eq!(phrase(&s, in_trial, &trial, 0.1), "trial ends in 4 days");
        // A weekly plan: the count of renewals ahead is said, unless the first is the end.
        let count = defs
            .iter()
            .find(|d| d.name == "renewals_in_horizon")
            .unwrap();
        assert_eq!(count.family, "renewal");
        let weekly = |cancel: f64| {
            let row = NamedRow::new(
                &s,
                &[
                    ("renewal_due", 1.0),
                    ("renewals_in_horizon", 4.0),
                    ("days_to_renewal", 2.5),
                    ("cancel_requested", cancel),
                ],
            );
            phrase(&s, count, &row, 1.0)
        };
        assert_eq!(
            weekly(0.0),
            "subscription renews in 2 days, 4 renewals in the next 28 days"
        );
        assert_eq!(weekly(1.0), "subscription ends in 2 days");
        let def = defs.iter().find(|d| d.name == "cancel_requested").unwrap();
        assert_eq!(def.family, "cancellation");
        let asked = |days: f64| {
            let row = NamedRow::new(
                &s,
                &[
                    ("cancel_requested", 1.0),
                    ("days_since_cancel_request", days),
                ],
            );
            phrase(&s, def, &row, 0.0)
        };
        assert_eq!(asked(0.4), "asked to cancel in the last day");
        assert_eq!(asked(1.7), "asked to cancel 1 day ago");
        assert_eq!(asked(12.2), "asked to cancel 12 days ago");
    }

    /// The BG/NBD phrase: the model's chance (never rounded to a certainty) and the
    /// user's own value actions behind it.
    #[test]
    fn the_bgnbd_phrase_quotes_its_chance_and_facts() {
        let m = crate::features::bgnbd::BgNbd {
            r: 0.4,
            alpha: 24.0,
            a: 1.1,
            b: 2.4,
            horizon_days: 182,
        };
        let s = spec().with_bgnbd(Some(m));
        let defs = catalog(&s, &[]);
        let def = defs.iter().find(|d| d.name == "bgnbd_quiet_odds").unwrap();
        let say = |odds: f64, total: f64, typical: f64| {
            let row = NamedRow::new(
                &s,
                &[
                    ("bgnbd_quiet_odds", odds),
                    ("value_actions_total", total),
                    ("days_since_last_value", 228.2),
                ],
            );
            // The training rows' mean log-odds, e.g. -1: a 27% chance.
            phrase(&s, def, &row, typical)
        };
        // 82% against 27%; near-certain against 27%; 5% against 0.3% (typical -6).
        let tail = "as likely as a typical user to do no value action in the next 182 days, at";
        let own = "the user's own past pace (8 value actions, the last 228.2 days ago)";
        assert_eq!(say(1.5, 8.0, -1.0), format!("3.0× {tail} {own}"));
        assert_eq!(say(12.0, 8.0, -1.0), format!("3.7× {tail} {own}"));
        assert_eq!(
            say(-3.0, 0.0, -6.0),
            format!("19× {tail} the typical user's pace (none yet)")
        );
        // Quiet is typical (90%, log-odds 2.2): the chance of a value action is compared.
        // 99.99% quiet is 1 in 10,000 against 1 in 10; 95% is 1 in 20, 99% 1 in 100.
        let less = "less likely than a typical user to do a value action in the next 182 days, at";
        assert_eq!(say(9.2, 8.0, 2.2), format!("over 100× {less} {own}"));
        assert_eq!(say(2.944, 8.0, 2.2), format!("2.0× {less} {own}"));
        assert_eq!(say(4.6, 8.0, 2.2), format!("10× {less} {own}"));
    }

    /// A user whose value actions all lie before the long window has done some: the
    /// phrase must not say "since signup" (seen on a log whose activation event is not
    /// the value action the user did). Activation is named by its event.
    #[test]
    fn value_phrases_tell_never_from_not_lately() {
        let s = spec();
        let defs = catalog(&s, &[]);
        let def = |n: &str| defs.iter().find(|d| d.name == n).unwrap();
        let lapsed = NamedRow::new(
            &s,
            &[
                ("days_since_last_value", 90.6),
                ("value_actions_long", 0.0),
                ("value_actions_total", 2.0),
                ("activated", 0.0),
                ("time_to_value_days", 109.5),
            ],
        );
        assert_eq!(
            phrase(&s, def("days_since_last_value"), &lapsed, 0.0),
            "no value action for 90.6 days"
        );
        assert_eq!(
            phrase(&s, def("time_to_value_days"), &lapsed, 0.0),
            "no first value (report_created) after 109.5 days"
        );
        assert_eq!(
            phrase(&s, def("activated"), &lapsed, 0.0),
            "never reached first value (report_created)"
        );
        let never = NamedRow::new(&s, &[("days_since_last_value", 12.0), ("activated", 1.0)]);
        assert_eq!(
            phrase(&s, def("days_since_last_value"), &never, 0.0),
            "no value action in 12 days since signup"
        );
        // A customer who signed up 459 days ago, in a log of 35 days: what the log covers.
        let older = NamedRow::new(
            &s,
            &[
                ("days_since_last_value", 35.0),
                ("tenure_days", 459.0),
                ("active_weeks", 3.0),
                ("active_week_share", 3.0 / 39.0),
            ],
        );
        assert_eq!(
            phrase(&s, def("days_since_last_value"), &older, 0.0),
            "no value action in the 35 days the log covers"
        );
        assert_eq!(
            phrase(&s, def("active_week_share"), &older, 0.75),
            "active in 8% of the 39 weeks in the log (typical 75%)"
        );
        let seen = NamedRow::new(
            &s,
            &[
                ("tenure_days", 84.5),
                ("active_weeks", 3.0),
                ("active_week_share", 3.0 / 13.0),
            ],
        );
        assert_eq!(
            phrase(&s, def("active_week_share"), &seen, 0.75),
            "active in 23% of weeks since signup (typical 75%)"
        );
    }
}
