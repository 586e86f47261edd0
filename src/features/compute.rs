//! Per-user features at an as-of date: one pass over each population member's events in
//! time order (the log regrouped by user once, in `index`). Only events strictly before
//! the as-of date are read. It computes raw figures; scaling and the model matrix are
//! `model::matrix`'s job.
//!
//! Why not one polars group-by: the ~60 features are windowed counts, distinct days,
//! distinct sessions and a median per user. As a polars query on 10M events that was
//! 4.7 s for one date (streaming engine, conditions as integer-coded columns); over the
//! user-grouped index the same figures take a fraction of that, and a 12-date training
//! panel reuses the grouping instead of re-aggregating the log twelve times.

use polars::prelude::*;
use rayon::prelude::*;

use super::bgnbd::Summary;
use super::catalog::{catalog, Core, FeatureDef, FeatureId};
use super::prepare::Prepared;
use super::spec::FeatureSpec;
use super::tally::{days, tally, Plan, Scratch, Tally, SLOPE_WEEKS};
use crate::base::time::DAY_MS;
use crate::error::Result;

/// Raw figures kept beside the features because reasons quote them.
pub const AUX_COLUMNS: [Core; 6] = [
    Core::ValueRecent,
    Core::ValuePrior,
    Core::DaysToRenewal,
    Core::DaysSinceCancelRequest,
    Core::DaysObserved,
    Core::Paused,
];

/// Features of one population at one as-of date.
#[derive(Debug, Clone)]
pub struct FeatureFrame {
    /// `user_id`, then every feature in catalog order, then [`AUX_COLUMNS`]; sorted by
    /// `user_id`; raw (untransformed) `f64` values without nulls.
    pub df: DataFrame,
    pub defs: Vec<FeatureDef>,
}

/// The fewest days a per-event-type rate over a window of `window` days is taken over: a
/// week, or the log's typical gap when longer, at most the window (as the features scale; the
/// reasons undo it to quote a count).
pub fn rate_floor(typical_gap: f64, window: f64) -> f64 {
    at_least(typical_gap, 7.0).min(window)
}

/// `max(x, floor)`.
fn at_least(x: f64, floor: f64) -> f64 {
    if x < floor {
        floor
    } else {
        x
    }
}

/// Where each output column's value comes from.
/// One user's figures at T, derived from the tally (the formulas of the catalog).
struct Derive<'a> {
    t: &'a Tally,
    plan: &'a Plan,
    as_of: i64,
    min_ts: i64,
    signup: i64,
    tenure: f64,
    /// What the subscriptions table says of the user (the subscription definition's).
    sub: Subscriber,
}

/// What the subscriptions table says of a subscriber at T: the next renewal and when a
/// cancellation still pending was asked for.
#[derive(Debug, Clone, Copy, Default)]
struct Subscriber {
    /// The subscription's next renewal after T.
    renewal: Option<i64>,
    /// When a cancellation pending at T was asked for.
    cancel_asked: Option<i64>,
    /// Whether the subscription's trial runs at T (its renewal is the trial's end).
    in_trial: bool,
    /// Renewals in the horizon.
    renewals: f64,
    /// Whether the table's status says the subscription is paused.
    paused: bool,
}

impl<'a> Derive<'a> {
    fn new(
        t: &'a Tally,
        plan: &'a Plan,
        as_of: i64,
        min_ts: i64,
        signup_ts: Option<i64>,
        sub: Subscriber,
    ) -> Self {
        let signup = signup_ts.or(t.first_ts).unwrap_or(as_of);
        Derive {
            t,
            plan,
            as_of,
            min_ts,
            signup,
            tenure: at_least(days(as_of - signup), 0.0),
            sub,
        }
    }

    /// ln((recent + 1) / (prior per recent-window length + 1)), each count taken per the
    /// days of its window the user was observable: a user whose prior window lies partly
    /// before signup (or the log's start) is compared with the part that exists, and one
    /// with under a week of it shows no change (0), as the recent rate is all there is.
    fn log_ratio(&self, recent: f64, prior: f64) -> f64 {
        let (r, p) = (self.plan.r, self.plan.p);
        let rf = r as f64;
        let seen_prior = self.exposure(self.as_of - r * DAY_MS, p);
        if seen_prior < 7.min(p) as f64 {
            return 0.0;
        }
        // A fully observed user: the scale is exactly 1 and the prior exactly × r/p.
        let recent = recent * self.scale(self.as_of, r);
        let prior = prior * (rf / at_least(seen_prior, 7.min(p) as f64));
        ((recent + 1.0) / (prior + 1.0)).log(std::f64::consts::E)
    }

    /// Days of `cap` before `end` in which the user could be seen (from signup or the
    /// log's start), capped at `cap`.
    fn exposure(&self, end: i64, cap: i64) -> f64 {
        let from = if self.signup > self.min_ts {
            self.signup
        } else {
            self.min_ts
        };
        let d = days(end - from);
        if d > cap as f64 {
            cap as f64
        } else {
            d
        }
    }

    /// Whether the user signed up more than a day before the log's first event: their
    /// activation and anything else before the log are not in it (a Heap export starting
    /// 2026-02 held a customer of 2024). Such a user counts as activated: they have been a
    /// customer since, and nothing says otherwise.
    fn before_log(&self) -> bool {
        self.signup < self.min_ts - DAY_MS
    }

    /// Days since the last value action; without one, the days the user could be seen (for
    /// a customer from before the log, not since a signup the log does not cover).
    fn since_value(&self) -> f64 {
        let as_of = self.as_of;
        self.t
            .last_value_ts
            .map_or(self.observable(as_of), |v| days(as_of - v))
    }

    /// Days before `end` in which the user could be seen (from signup or the log's start).
    fn observable(&self, end: i64) -> f64 {
        at_least(days(end - self.signup.max(self.min_ts)), 0.0)
    }

    /// Per-event-type counts become rates over the part of each window in which the user
    /// could be seen (at least a week, as in *Fighting Churn with Data*), so a user who
    /// signed up 5 days ago is not read as a quiet one.
    /// The floor is the log's typical gap between value actions when that is longer than
    /// a week: a rate is not judged from less than one typical gap (a shop's customer
    /// seen for 9 days with one order does not buy 40 times a year).
    fn scale(&self, end: i64, cap: i64) -> f64 {
        let floor = rate_floor(self.plan.typical_gap, cap as f64);
        cap as f64 / at_least(self.exposure(end, cap), floor)
    }

    /// The silence since the last value action, in value actions the user's own lifetime
    /// pace would have brought: `x · ln((A + g) / (A − s + g))` with `x` value actions over
    /// the `A` days the user was observable, the last one `s` days ago, and `g` the log's
    /// typical gap between value actions. For a short silence it is the pace times the
    /// silence (`x · s / (A + g)`); for a long one it grows more slowly, as the chance that
    /// a customer is still "alive" does in the BG/NBD and Pareto/NBD models (Fader, Hardie
    /// and Lee 2005: the term `((α + T) / (α + tₓ))^(r + x)`). It means the same at any
    /// tenure: with one value action every 10 days and 20 days of silence, a customer seen
    /// for two years scores 2.00 and one seen for two months 2.02 (`g` = 10). 0 without a
    /// value action.
    fn value_silence(&self) -> f64 {
        let t = self.t;
        let Some(last) = t.last_value_ts else {
            return 0.0;
        };
        let g = at_least(self.plan.typical_gap, 1.0);
        let observed = self.observable(self.as_of);
        let silent = days(self.as_of - last).clamp(0.0, observed);
        t.value_total * ((observed + g) / (observed - silent + g)).ln()
    }

    /// The BG/NBD log-odds of no value action in the model's horizon
    /// ([`super::bgnbd`]), from the user's value actions; one who has none yet is counted
    /// from signup with no repeat (alive, at the population's rate). 0 without a fit.
    fn bgnbd_quiet_odds(&self) -> f64 {
        let Some(m) = &self.plan.bgnbd else {
            return 0.0;
        };
        let t = self.t;
        let summary = match (t.first_value_ts, t.last_value_ts) {
            (Some(first), Some(last)) => Summary::new(first, last, t.value_days, self.as_of),
            _ => Summary {
                repeats: 0.0,
                last: 0.0,
                age: self.observable(self.as_of),
            },
        };
        m.quiet_log_odds(summary)
    }

    fn value(&self, source: FeatureId) -> f64 {
        use Core::*;
        let (t, plan, as_of) = (self.t, self.plan, self.as_of);
        let (r, p, l) = (plan.r, plan.p, plan.l);
        match source {
            FeatureId::Core(f) => match f {
                ActiveRecent => t.active.recent,
                ActivePrior => t.active.prior,
                ActivityChange => self.log_ratio(t.active.recent, t.active.prior),
                ActivitySlope => {
                    // Least-squares slope of weekly active days against time (week 0 is
                    // the latest), summed in week order.
                    let mean_x = (SLOPE_WEEKS - 1) as f64 / 2.0;
                    let sxx: f64 = (0..SLOPE_WEEKS).map(|k| (k as f64 - mean_x).powi(2)).sum();
                    (0..SLOPE_WEEKS as usize)
                        .map(|k| t.weeks[k] * ((mean_x - k as f64) / sxx))
                        .fold(None, |acc: Option<f64>, x| Some(acc.map_or(x, |a| a + x)))
                        .unwrap_or(0.0)
                }
                DaysSinceValue => self.since_value(),
                DaysSinceEvent => t.last_ts.map_or(self.tenure, |v| days(as_of - v)),
                ValuePerActiveDay => t.value.long / at_least(t.active.long, 1.0),
                CoreUsed => t.core_used,
                Tenure => self.tenure,
                Activated => (t.activation_ts.is_some() || self.before_log()) as u8 as f64,
                // A customer from before the log reached first value before it (an export
                // that starts 2026-02 read a customer of 2024 as "took 533.5 days to first
                // value", then, counted from the log's start, "took 11.4 days").
                TimeToValue if self.before_log() => 0.0,
                TimeToValue => t.activation_ts.map_or(self.observable(as_of), |a| {
                    at_least(days(a - self.signup.max(self.min_ts)), 0.0)
                }),
                SessionsRecent => t.sessions_recent,
                SessionMinutes => t.session_minutes,
                ValueTrend => self.log_ratio(t.value.recent, t.value.prior),
                ValueLong => t.value.long,
                // Per week the user could be seen: a customer who signed up before the
                // log's start has only the log's weeks counted.
                EventsPerWeek => t.events_total * 7.0 / at_least(self.observable(as_of), 1.0),
                ValuePerWeek => t.value_total * 7.0 / at_least(self.observable(as_of), 1.0),
                ValueAmountLong => {
                    if t.value_amounts_long > 0.0 {
                        t.value_amount_long / t.value_amounts_long
                    } else {
                        0.0
                    }
                }
                FeedbackLong => t.feedback_long,
                FrictionRecent => t.friction_recent,
                ValueRecent => t.value.recent,
                ValuePrior => t.value.prior,
                ValueTotal => t.value_total,
                ValueAmountMean => {
                    if t.value_amounts > 0.0 {
                        t.value_amount_all / t.value_amounts
                    } else {
                        0.0
                    }
                }
                ValueOverdue => {
                    let since = self.since_value();
                    let gap = match (t.first_value_ts, t.last_value_ts) {
                        (Some(a), Some(b)) if t.value_total >= 2.0 => {
                            days(b - a) / (t.value_total - 1.0)
                        }
                        _ => plan.typical_gap,
                    };
                    since / at_least(gap, 1.0)
                }
                ValueSilence => self.value_silence(),
                BgNbdQuietOdds => self.bgnbd_quiet_odds(),
                RenewalDue => match (self.sub.renewal, plan.renewal_horizon) {
                    // A renewal on the horizon's last day is inside it, as a period ending
                    // then is a churn.
                    (Some(next), Some(h)) => (next <= as_of + h * DAY_MS) as u8 as f64,
                    _ => 0.0,
                },
                DaysToRenewal => self.sub.renewal.map_or(0.0, |next| days(next - as_of)),
                CancelRequested => self.sub.cancel_asked.is_some() as u8 as f64,
                Paused => self.sub.paused as u8 as f64,
                InTrial => self.sub.in_trial as u8 as f64,
                RenewalsInHorizon => self.sub.renewals,
                DaysObserved => self.observable(as_of),
                DaysSinceCancelRequest => self.sub.cancel_asked.map_or(0.0, |t| days(as_of - t)),
                ActiveWeeks => t.active_weeks,
                ActiveWeekShare => {
                    let weeks = (self.observable(as_of) / 7.0).ceil();
                    if t.first_ts.is_some() {
                        (t.active_weeks / at_least(weeks, 1.0)).min(1.0)
                    } else {
                        0.0
                    }
                }
            },
            FeatureId::Funnel(i) => {
                // Steps reached in order: step k counts only if every step before it was.
                let steps = &plan.funnels[i];
                let reached = steps.iter().take_while(|&&s| t.counts[s] > 0.0).count();
                (0..steps.len()).fold(0.0, |acc, k| acc + ((k < reached) as u8 as f64))
                    * (1.0 / steps.len() as f64)
            }
            FeatureId::Ratio(i) => {
                let (num, den) = plan.ratios[i];
                let (num, den) = (t.counts[num], t.counts[den]);
                if den > 0.0 {
                    num / den
                } else {
                    0.0
                }
            }
            FeatureId::RateRecent(i) => t.counts[plan.rates[i][0]] * self.scale(as_of, r),
            FeatureId::RatePrior(i) => {
                let m = 7.min(p) as f64;
                if self.exposure(as_of - r * DAY_MS, p) >= m {
                    t.counts[plan.rates[i][1]] * self.scale(as_of - r * DAY_MS, p)
                } else {
                    // Too new for a prior window: no change is assumed.
                    t.counts[plan.rates[i][0]] * self.scale(as_of, r) * (p as f64 / r as f64)
                }
            }
            FeatureId::RateLong(i) => t.counts[plan.rates[i][2]] * self.scale(as_of, l),
            FeatureId::RateLife(i) => t.counts[plan.rates[i][3]],
            FeatureId::RateWeek(i) => {
                t.counts[plan.rates[i][3]] * 7.0 / at_least(self.observable(as_of), 7.0)
            }
        }
    }
}

/// Computes every feature for `population` (`user_id`, `signup_ts`: i64 or null, and for
/// subscribers `renewal_ts`) at `as_of`.
/// Users without events before `as_of` get the values of "no activity".
pub fn compute(
    prepared: &Prepared,
    population: &DataFrame,
    as_of: i64,
    spec: &FeatureSpec,
    event_types: &[String],
) -> Result<FeatureFrame> {
    let plan = Plan::new(prepared, spec, event_types, as_of);
    let defs = catalog(spec, event_types);
    let mut names: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
    names.extend(AUX_COLUMNS.map(Core::name));
    let sources: Vec<FeatureId> = defs
        .iter()
        .map(|d| d.id)
        .chain(AUX_COLUMNS.map(FeatureId::Core))
        .collect();

    let ids = population.column("user_id")?.str()?;
    let signup_col = population.column("signup_ts")?.cast(&DataType::Int64)?;
    let signup = signup_col.i64()?;
    // Only a population of subscribers has them (the subscription definition's).
    let optional = |name: &str, dtype: DataType| -> Result<Option<Column>> {
        match population.column(name) {
            Ok(c) => Ok(Some(c.cast(&dtype)?)),
            Err(_) => Ok(None),
        }
    };
    let renewal_col = optional("renewal_ts", DataType::Int64)?;
    let asked_col = optional("cancel_ts", DataType::Int64)?;
    let renewal = renewal_col.as_ref().map(|c| c.i64()).transpose()?;
    let asked = asked_col.as_ref().map(|c| c.i64()).transpose()?;
    let trial = population
        .column("in_trial")
        .ok()
        .map(|c| c.bool())
        .transpose()?;
    let paused = population
        .column("paused")
        .ok()
        .map(|c| c.bool())
        .transpose()?;
    let count_col = optional("renewals", DataType::Float64)?;
    let count = count_col.as_ref().map(|c| c.f64()).transpose()?;
    let mut order: Vec<usize> = (0..population.height()).collect();
    order.sort_by(|&a, &b| ids.get(a).cmp(&ids.get(b)));

    let ix = &*prepared.index;
    let width = sources.len();
    // Users in chunks over the threads; each chunk's rows come back in order.
    let chunks: Vec<Vec<f64>> = order
        .par_chunks(2048)
        .map(|chunk| {
            let mut scratch = Scratch::default();
            let mut out = Vec::with_capacity(chunk.len() * width);
            for &row in chunk {
                let user = ids.get(row).and_then(|id| ix.users.get(id).copied());
                let tally = match user {
                    Some(u) => tally(ix, ix.rows(u), as_of, &plan, &mut scratch),
                    None => Tally {
                        counts: vec![0.0; plan.slots],
                        ..Tally::default()
                    },
                };
                let sub = Subscriber {
                    renewal: renewal.and_then(|r| r.get(row)),
                    cancel_asked: asked.and_then(|r| r.get(row)),
                    in_trial: trial.and_then(|r| r.get(row)).unwrap_or(false),
                    renewals: count.and_then(|r| r.get(row)).unwrap_or(0.0),
                    paused: paused.and_then(|r| r.get(row)).unwrap_or(false),
                };
                let d = Derive::new(&tally, &plan, as_of, prepared.min_ts, signup.get(row), sub);
                out.extend(sources.iter().map(|&s| d.value(s)));
            }
            out
        })
        .collect();

    let n = order.len();
    let mut columns: Vec<Vec<f64>> = (0..width).map(|_| Vec::with_capacity(n)).collect();
    for chunk in &chunks {
        for row in chunk.chunks_exact(width) {
            for (c, v) in columns.iter_mut().zip(row) {
                c.push(*v);
            }
        }
    }
    let user_ids: StringChunked = order.iter().map(|&i| ids.get(i)).collect();
    let mut cols = vec![user_ids.with_name("user_id".into()).into_column()];
    for (name, values) in names.iter().zip(columns) {
        cols.push(Column::new((*name).into(), values));
    }
    let df = DataFrame::new(n, cols)?;
    Ok(FeatureFrame { df, defs })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::time::parse_timestamp;
    use crate::features::bgnbd::BgNbd;
    use crate::features::prepare::{prepare, top_event_types};
    use crate::features::tally::{distinct, median_session_minutes};
    use crate::fixtures::events_at as events;
    use crate::ingest::Events;
    use std::collections::BTreeSet;
    use std::path::Path;

    fn spec() -> FeatureSpec {
        FeatureSpec::from_toml(
            "[events]\nlogin=[\"login\"]\nvalue=[\"make\"]\ncore=[\"make\",\"share\"]\n[windows]\nrecent_days=14\nprior_days=28\nlong_days=90\n[[funnels]]\nname=\"onb\"\nsteps=[\"start\",\"connect\",\"make\"]\n[event_rates]\ntop=0\n",
            Path::new("t.toml"),
        )
        .unwrap()
    }

    fn value(ff: &FeatureFrame, user: &str, name: &str) -> f64 {
        let users = ff.df.column("user_id").unwrap().str().unwrap();
        let i = users.iter().position(|u| u == Some(user)).unwrap();
        ff.df.column(name).unwrap().f64().unwrap().get(i).unwrap()
    }

    #[test]
    fn hand_computed_features() {
        let ev = events(&[
            ("a", "2026-03-01T10:00:00Z", "login"),
            ("a", "2026-03-01T10:05:00Z", "start"),
            ("a", "2026-03-01T10:20:00Z", "make"),
            ("a", "2026-03-20T09:00:00Z", "login"),
            ("a", "2026-03-25T09:00:00Z", "login"),
            ("a", "2026-03-25T09:10:00Z", "share"),
            ("a", "2026-04-02T09:00:00Z", "login"),
            // At and after the as-of date: must be ignored.
            ("a", "2026-04-05T00:00:00Z", "make"),
            ("b", "2026-04-04T23:00:00Z", "login"),
            ("b", "2026-05-01T00:00:00Z", "make"),
        ]);
        let s = spec();
        let as_of = parse_timestamp("2026-04-05").unwrap();
        let pop = df!("user_id" => ["a", "b", "c"], "signup_ts" => [None, None, Some(parse_timestamp("2026-04-01").unwrap())]).unwrap();
        let ff = compute(&prepare(&ev, &s).unwrap(), &pop, as_of, &s, &[]).unwrap();
        assert_eq!(ff.df.height(), 3);
        // a: logins on 03-20 (16 days before), 03-25 (11), 04-02 (3); 03-01 is 35 days before.
        assert_eq!(value(&ff, "a", "active_days_recent"), 2.0);
        assert_eq!(value(&ff, "a", "active_days_prior"), 2.0);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert!(close(
            value(&ff, "a", "days_since_last_value"),
            35.0 - 10.0 / 24.0 - 20.0 / 1440.0
        ));
        assert!(close(value(&ff, "a", "tenure_days"), 35.0 - 10.0 / 24.0));
        assert_eq!(value(&ff, "a", "core_features_used"), 2.0);
        assert_eq!(value(&ff, "a", "activated"), 1.0);
        assert_eq!(value(&ff, "a", "funnel_onb"), 1.0 / 3.0);
        assert_eq!(value(&ff, "a", "value_actions_long"), 1.0);
        // a's sessions before T last 20, 0, 10 and 0 minutes: median 5.
        assert_eq!(value(&ff, "a", "session_minutes"), 5.0);
        let ln = |x: f64| x.ln();
        // a's prior window (42 to 14 days back) holds 2 active days, but a was seen in only
        // 20 days 14 hours of it (from 03-01 10:00 to 03-22): 2 × 14 / 20.583 per 14 days.
        let prior = 2.0 * 14.0 / (20.0 + 14.0 / 24.0);
        assert!((value(&ff, "a", "activity_change") - ln(3.0 / (prior + 1.0))).abs() < 1e-12);
        // b: one login an hour before the as-of date; the later `make` is not seen.
        assert_eq!(value(&ff, "b", "value_actions_long"), 0.0);
        assert_eq!(value(&ff, "b", "activated"), 0.0);
        assert!((value(&ff, "b", "days_since_last_event") - 1.0 / 24.0).abs() < 1e-12);
        // c: no events at all; tenure from the users table.
        assert_eq!(value(&ff, "c", "tenure_days"), 4.0);
        assert_eq!(value(&ff, "c", "days_since_last_value"), 4.0);
        assert_eq!(value(&ff, "c", "active_days_recent"), 0.0);
    }

    #[test]
    fn a_customer_who_signed_up_before_the_log_is_measured_from_its_start() {
        // The export starts on 03-01; "old" and "idle" signed up in 2025. They reached
        // first value before the log, and their weeks before it are not counted.
        let ev = events(&[
            ("new", "2026-03-01T00:00:00Z", "login"),
            ("new", "2026-03-04T00:00:00Z", "make"),
            ("old", "2026-03-03T00:00:00Z", "make"),
            ("old", "2026-03-10T00:00:00Z", "login"),
            ("idle", "2026-03-20T00:00:00Z", "login"),
        ]);
        let s = spec();
        let as_of = parse_timestamp("2026-04-05").unwrap();
        let at = |t: &str| Some(parse_timestamp(t).unwrap());
        let pop = df!(
            "user_id" => ["new", "old", "idle"],
            "signup_ts" => [at("2026-03-01"), at("2025-01-01"), at("2025-06-01")]
        )
        .unwrap();
        let ff = compute(&prepare(&ev, &s).unwrap(), &pop, as_of, &s, &[]).unwrap();
        assert_eq!(value(&ff, "new", "time_to_value_days"), 3.0);
        assert_eq!(value(&ff, "old", "time_to_value_days"), 0.0);
        assert_eq!(value(&ff, "idle", "time_to_value_days"), 0.0);
        assert_eq!(value(&ff, "idle", "activated"), 1.0);
        // No value action in the log's 35 days (not since a signup 308 days before it).
        assert_eq!(value(&ff, "idle", "days_since_last_value"), 35.0);
        // A user of the log's first day is not from before it.
        assert_eq!(value(&ff, "new", "activated"), 1.0);
        // Two events in the 35 days seen; the tenure stays the users table's.
        assert_eq!(value(&ff, "old", "events_per_week"), 2.0 * 7.0 / 35.0);
        assert_eq!(value(&ff, "old", "value_per_week"), 7.0 / 35.0);
        assert_eq!(value(&ff, "old", "tenure_days"), 459.0);
        assert_eq!(value(&ff, "new", "events_per_week"), 2.0 * 7.0 / 35.0);
    }

    #[test]
    fn renewal_due_reads_the_next_renewal_against_the_horizon() {
        let ev = events(&[("a", "2026-03-01T10:00:00Z", "make")]);
        let s = spec();
        let as_of = parse_timestamp("2026-04-05").unwrap();
        let day = |d: &str| parse_timestamp(d).unwrap();
        // a renews on the horizon's last day (inside it, as a period ending then is a
        // churn), b the day after, c has no renewal date.
        let pop = df!(
            "user_id" => ["a", "b", "c"],
            "signup_ts" => [None::<i64>; 3],
            "renewal_ts" => [Some(day("2026-05-03")), Some(day("2026-05-04")), None],
        )
        .unwrap();
        let prepared = prepare(&ev, &s).unwrap();
        let with = s.with_renewal(Some(28));
        let ff = compute(&prepared, &pop, as_of, &with, &[]).unwrap();
        assert_eq!(value(&ff, "a", "renewal_due"), 1.0);
        assert_eq!(value(&ff, "b", "renewal_due"), 0.0);
        assert_eq!(value(&ff, "c", "renewal_due"), 0.0);
        assert_eq!(value(&ff, "a", "days_to_renewal"), 28.0);
        assert_eq!(value(&ff, "b", "days_to_renewal"), 29.0);
        assert_eq!(value(&ff, "c", "days_to_renewal"), 0.0);
        // No cancellation column: nobody asked.
        assert_eq!(value(&ff, "a", "cancel_requested"), 0.0);
        // a asked to cancel 2.5 days before T, pending; b did not.
        let mut asked = pop.clone();
        asked
            .with_column(Column::new(
                "cancel_ts".into(),
                [Some(day("2026-04-02") + DAY_MS / 2), None, None],
            ))
            .unwrap();
        let ff = compute(&prepared, &asked, as_of, &with, &[]).unwrap();
        assert_eq!(value(&ff, "a", "cancel_requested"), 1.0);
        assert_eq!(value(&ff, "a", "days_since_cancel_request"), 2.5);
        assert_eq!(value(&ff, "b", "cancel_requested"), 0.0);
        assert_eq!(value(&ff, "b", "days_since_cancel_request"), 0.0);
        // a's trial runs at T; without the column nobody is in one.
        assert_eq!(value(&ff, "a", "in_trial"), 0.0);
        asked
            .with_column(Column::new(
                "in_trial".into(),
                [Some(true), Some(false), None],
            ))
            .unwrap();
        let ff = compute(&prepared, &asked, as_of, &with, &[]).unwrap();
        assert_eq!(value(&ff, "a", "in_trial"), 1.0);
        assert_eq!(value(&ff, "b", "in_trial"), 0.0);
        assert_eq!(value(&ff, "c", "in_trial"), 0.0);
        // The population's count of renewals in the horizon, raw (the model logs it).
        assert_eq!(value(&ff, "a", "renewals_in_horizon"), 0.0);
        asked
            .with_column(Column::new("renewals".into(), [4u32, 0, 1]))
            .unwrap();
        let ff = compute(&prepared, &asked, as_of, &with, &[]).unwrap();
        assert_eq!(value(&ff, "a", "renewals_in_horizon"), 4.0);
        assert_eq!(value(&ff, "c", "renewals_in_horizon"), 1.0);
        // Under the inactivity definition the features do not exist.
        let ff = compute(&prepared, &pop, as_of, &s, &[]).unwrap();
        assert!(ff.df.column("renewal_due").is_err());
        assert!(ff.df.column("cancel_requested").is_err());
        assert!(ff.df.column("renewals_in_horizon").is_err());
    }

    #[test]
    fn lifetime_features_by_hand() {
        let mut ev = events(&[
            ("s", "2026-01-10T12:00:00Z", "make"),
            ("s", "2026-01-10T12:30:00Z", "login"),
            ("s", "2026-01-11T09:00:00Z", "login"),
            ("s", "2026-02-09T12:00:00Z", "make"),
            ("s", "2026-03-11T12:00:00Z", "make"),
            ("s", "2026-03-12T09:00:00Z", "login"),
            ("t", "2026-03-01T00:00:00Z", "make"),
            ("t", "2026-03-11T00:00:00Z", "make"),
            ("u", "2026-03-01T00:00:00Z", "make"),
            ("u", "2026-03-01T05:00:00Z", "make"),
            ("u", "2026-03-05T00:00:00Z", "make"),
            ("one", "2026-03-29T00:00:00Z", "make"),
        ]);
        // Order values: s paid 10 and 20 and one order without a value.
        let values = [
            Some(10.0),
            None,
            None,
            Some(20.0),
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
        ];
        ev.df
            .with_column(Column::new("value".into(), values))
            .unwrap();
        let s = spec();
        let as_of = parse_timestamp("2026-04-05").unwrap();
        let prepared = prepare(&ev, &s).unwrap();
        // Mean gaps: s 30 days, t 10, u 2 (one has a single order): the median is 10.
        assert_eq!(prepared.typical_value_gap(as_of), Some(10.0));
        // Before 02-01 nobody has two orders.
        assert_eq!(
            prepared.typical_value_gap(parse_timestamp("2026-02-01").unwrap()),
            None
        );
        let s = s.fitted_to(28, 10.0);
        let pop = df!("user_id" => ["s", "one"], "signup_ts" => [None::<i64>, None]).unwrap();
        let types = ["make".to_string()];
        let ff = compute(&prepared, &pop, as_of, &s, &types).unwrap();
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert_eq!(value(&ff, "s", "value_actions_total"), 3.0);
        assert_eq!(value(&ff, "s", "value_amount_mean"), 15.0);
        // All three orders lie in the 90-day window: the mean of the two with an amount.
        assert_eq!(value(&ff, "s", "value_amount_long"), 15.0);
        // 24.5 days since the last order; s's own mean gap is 60 days / 2.
        assert!(close(value(&ff, "s", "value_overdue"), 24.5 / 30.0));
        // Three orders in 84.5 days seen, the last 24.5 days ago, the log's gap 10 days.
        assert!(close(
            value(&ff, "s", "value_silence"),
            3.0 * (94.5f64 / 70.0).ln()
        ));
        // Logins 84 and 83 days back fall in weeks 12 and 11, the third in week 3.
        assert_eq!(value(&ff, "s", "active_weeks"), 3.0);
        // Seen for 84.5 days: 13 weeks begun.
        assert!(close(value(&ff, "s", "active_week_share"), 3.0 / 13.0));
        assert_eq!(value(&ff, "s", "n_life__make"), 3.0);
        assert!(close(value(&ff, "s", "n_week__make"), 3.0 * 7.0 / 84.5));
        // One order 7 days ago: measured against the log's typical gap of 10 days.
        assert!(close(value(&ff, "one", "value_overdue"), 0.7));
        assert_eq!(value(&ff, "one", "value_amount_mean"), 0.0);
        // Its one order was its first event 7 days ago: ln((7 + 10) / (0 + 10)).
        assert!(close(value(&ff, "one", "value_silence"), 1.7f64.ln()));
        // Seen for 7 days, under the 10-day typical gap: its rate is not judged from less.
        assert!(close(value(&ff, "one", "n_recent__make"), 14.0 / 10.0));
        assert!(close(value(&ff, "one", "n_week__make"), 1.0));
        // No BG/NBD fit yet: the feature is 0.
        assert_eq!(value(&ff, "s", "bgnbd_quiet_odds"), 0.0);

        // BG/NBD counts days with a value action: u's two orders on 03-01 are one.
        let summary = |repeats: f64, last: f64, age: f64| Summary { repeats, last, age };
        assert_eq!(
            prepared.value_summaries(as_of),
            [
                summary(2.0, 60.0, 84.5),
                summary(1.0, 10.0, 35.0),
                summary(1.0, 4.0, 35.0),
                summary(0.0, 0.0, 7.0),
            ]
        );
        let m = BgNbd {
            r: 0.5,
            alpha: 10.0,
            a: 1.0,
            b: 2.0,
            horizon_days: 28,
        };
        let ff = compute(&prepared, &pop, as_of, &s.with_bgnbd(Some(m)), &types).unwrap();
        let odds = value(&ff, "s", "bgnbd_quiet_odds");
        assert!(
            close(odds, m.quiet_log_odds(summary(2.0, 60.0, 84.5))),
            "{odds}"
        );
        assert!(close(
            value(&ff, "one", "bgnbd_quiet_odds"),
            m.quiet_log_odds(summary(0.0, 0.0, 7.0))
        ));
    }

    #[test]
    fn event_rates_are_scaled_to_the_days_a_user_was_observable() {
        let ev = events(&[
            ("old", "2026-01-01T10:00:00Z", "login"),
            ("old", "2026-04-01T10:00:00Z", "login"),
            ("old", "2026-04-02T10:00:00Z", "login"),
            ("new", "2026-04-01T10:00:00Z", "login"),
            ("new", "2026-04-02T10:00:00Z", "login"),
        ]);
        let s = spec();
        let as_of = parse_timestamp("2026-04-05").unwrap();
        let signup = [
            parse_timestamp("2026-03-31").unwrap(),
            parse_timestamp("2025-12-01").unwrap(),
        ];
        let pop = df!("user_id" => ["new", "old"], "signup_ts" => signup.map(Some)).unwrap();
        let ff = compute(
            &prepare(&ev, &s).unwrap(),
            &pop,
            as_of,
            &s,
            &["login".to_string()],
        )
        .unwrap();
        // Seen for all 14 recent days: the count itself.
        assert_eq!(value(&ff, "old", "n_recent__login"), 2.0);
        // Seen for 5 days, counted as the 7-day minimum: 2 logins → 4 per 14 days.
        assert_eq!(value(&ff, "new", "n_recent__login"), 4.0);
        // Too new for a prior window: assumed unchanged (the recent rate per 28 days).
        assert_eq!(value(&ff, "new", "n_prior__login"), 8.0);
        // The old user's 90-day window holds 2 logins; the first login is 94 days old.
        assert_eq!(value(&ff, "old", "n_long__login"), 2.0);
    }

    /// Every feature of every user, at several as-of dates, equals what the former polars
    /// query computed (`reference`), on a generated log with the default feature file,
    /// users with and without signup times, and users with no events before the date.
    #[test]
    fn same_figures_as_the_polars_query() {
        let (_dir, ev) = crate::fixtures::loaded_sample(300);
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let s = FeatureSpec::load(&root.join("features/default.toml")).unwrap();
        let ours = prepare(&ev, &s).unwrap();
        let theirs = super::super::reference::prepare(&ev, &s).unwrap();
        let users: Vec<String> = event_names_of_users(&ev);
        for as_of in ["2026-04-01", "2026-05-17", "2026-07-06"] {
            let t = parse_timestamp(as_of).unwrap();
            let types = top_event_types(&ev, t, 12, &[]).unwrap();
            // Every user, half of them with a signup time, and one nobody has seen.
            let mut ids = users.clone();
            ids.push("nobody".into());
            let signup: Vec<Option<i64>> = (0..ids.len())
                .map(|i| (i % 2 == 0).then_some(t - (i as i64 % 97) * DAY_MS))
                .collect();
            let pop = df!("user_id" => &ids, "signup_ts" => signup).unwrap();
            let a = compute(&ours, &pop, t, &s, &types).unwrap().df;
            let b = super::super::reference::compute(&theirs, &pop, t, &s, &types)
                .unwrap()
                .df;
            assert_eq!(a.column("user_id").unwrap(), b.column("user_id").unwrap());
            // The declines now compare rates per observable day (the polars query compared
            // counts), the long window's amount is a mean (it was a sum), and features added
            // since have no polars twin: all have tests of their own.
            let changed = ["activity_change", "value_trend", "value_amount_long"];
            for name in b.get_column_names().into_iter().skip(1) {
                if changed.contains(&name.as_str()) {
                    continue;
                }
                let (x, y) = (
                    a.column(name).unwrap().f64().unwrap(),
                    b.column(name).unwrap().f64().unwrap(),
                );
                for (i, (x, y)) in x.iter().zip(y.iter()).enumerate() {
                    let (x, y) = (x.unwrap(), y.unwrap());
                    // To the bit: lists must not change with the engine.
                    assert_eq!(
                        x.to_bits(),
                        y.to_bits(),
                        "{as_of} {name} row {i}: {x} vs {y}"
                    );
                }
            }
        }
    }

    fn event_names_of_users(ev: &Events) -> Vec<String> {
        let u = ev.df.column("user_id").unwrap().str().unwrap();
        let set: BTreeSet<&str> = u.iter().flatten().collect();
        set.into_iter().map(String::from).collect()
    }

    #[test]
    fn sessions_that_interleave_are_still_told_apart() {
        // Session 1 spans 0–10 min, session 0 spans 2–3 min, session 2 is one event.
        let mut rows = vec![
            (1, 0),
            (0, 120_000),
            (0, 180_000),
            (1, 600_000),
            (2, 700_000),
        ];
        let mut minutes = Vec::new();
        // Lengths 1, 10 and 0 minutes: the median is 1.
        assert_eq!(median_session_minutes(&mut rows, &mut minutes), 1.0);
        // An even count takes the midpoint of the middle two, as polars does.
        let mut rows = vec![(5, 0), (5, 60_000), (3, 0), (3, 240_000)];
        assert_eq!(median_session_minutes(&mut rows, &mut minutes), 2.5);
        assert_eq!(median_session_minutes(&mut [], &mut minutes), 0.0);
        assert_eq!(distinct(&mut [3, 1, 3, 2, 1]), 3);
        assert_eq!(distinct(&mut []), 0);
    }

    #[test]
    fn top_event_types_by_count_then_name() {
        let ev = events(&[
            ("a", "2026-03-01T10:00:00Z", "x"),
            ("a", "2026-03-01T11:00:00Z", "y"),
            ("b", "2026-03-01T12:00:00Z", "y"),
            ("b", "2026-03-01T12:00:00Z", "z"),
            ("b", "2026-09-01T12:00:00Z", "z"),
        ]);
        let before = parse_timestamp("2026-04-01").unwrap();
        assert_eq!(top_event_types(&ev, before, 2, &[]).unwrap(), ["y", "x"]);
        // An excluded type leaves its place to the next.
        let kept = top_event_types(&ev, before, 2, &["y".to_string()]).unwrap();
        assert_eq!(kept, ["x", "z"]);
    }
}
