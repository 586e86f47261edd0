//! Engagement metrics of BRIEF §2 for a window `[start, end)`, overall and by weekly
//! signup cohort, and a cohort retention table. Event roles (value, activation, core,
//! feedback, funnels) come from the feature definitions.
//!
//! Definitions, as computed here:
//! - **eligible users**: users with at least one event in the window;
//! - **engagement rate** = eligible users with a value action in the window ÷ eligible;
//! - **activation rate** = new users (signup in the window) whose first activation event
//!   (the `activation` events, else the value events) comes before the window's end ÷ new
//!   users;
//! - **time to value** = activation − signup in days, median and mean, over those
//!   activated new users;
//! - **return usage rate** = users activated in the window at least 7 days before its end
//!   who did another value action within 7 days after activation ÷ such users;
//! - **stickiness** = mean daily active users over the window's days ÷ distinct users
//!   active in the window (DAU/MAU for a 28–30-day window);
//! - **depth** = value actions in the window ÷ eligible users;
//! - **feature adoption**, per core event = eligible users who did it in the window ÷
//!   eligible;
//! - **funnel step drop-off**, per step k of each funnel, over users who did step 1 in
//!   the window: reached k = did steps 1…k in order before the window's end;
//!   drop-off = (reached k − reached k+1) ÷ reached k (the last step has none);
//! - **feedback participation** = eligible users with a feedback event in the window ÷
//!   eligible;
//! - **retention table**: for each weekly signup cohort (weeks start on Monday), the share
//!   of its users with an event in week k after their signup week, k = 0, 1, …, for the
//!   weeks that have ended by the window's end.
//!
//! Signup comes from the users table, else the user's first event.

use std::collections::{BTreeMap, HashMap};

use polars::prelude::*;
use serde::Serialize;

use crate::base::time::week_start;
use crate::base::time::{format_date, DAY_MS};
use crate::error::Result;
use crate::features::FeatureSpec;
use crate::ingest::{Events, Users};

/// One user's history: signup and events in time order (event names as indices).
struct UserLog {
    signup: i64,
    events: Vec<(i64, u32)>,
}

/// Median and mean of a sample (days).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    pub n: usize,
    pub median: f64,
    pub mean: f64,
}

/// One funnel step's counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunnelStep {
    pub step: String,
    pub reached: usize,
    /// `(reached − reached next) ÷ reached`; `None` for the last step or when none reached.
    pub drop_off: Option<f64>,
}

/// The metrics of one group of users over the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    pub eligible_users: usize,
    pub engagement_rate: Option<f64>,
    pub new_users: usize,
    pub activation_rate: Option<f64>,
    pub time_to_value_days: Option<Summary>,
    pub return_usage_rate: Option<f64>,
    pub stickiness: Option<f64>,
    pub depth: Option<f64>,
    pub feature_adoption: BTreeMap<String, f64>,
    pub funnels: BTreeMap<String, Vec<FunnelStep>>,
    pub feedback_participation: Option<f64>,
}

/// The whole engagement section.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Engagement {
    pub window_start: String,
    pub window_end: String,
    pub overall: Metrics,
    /// By weekly signup cohort (the Monday the week starts), for cohorts with users
    /// active in the window.
    pub by_cohort: BTreeMap<String, Metrics>,
    /// Cohort → share of its users active in week 0, 1, … after signup.
    pub retention: BTreeMap<String, Vec<f64>>,
    /// Cohort sizes for the retention table.
    pub cohort_sizes: BTreeMap<String, usize>,
}

/// Computes the metrics for `[start, end)` (epoch ms).
pub fn engagement(
    events: &Events,
    users: Option<&Users>,
    spec: &FeatureSpec,
    start: i64,
    end: i64,
) -> Result<Engagement> {
    let (logs, names) = user_logs(events, users, end)?;
    let code = |list: &[String]| -> Vec<u32> {
        list.iter()
            .filter_map(|n| names.iter().position(|x| x == n).map(|i| i as u32))
            .collect()
    };
    let e = &spec.file.events;
    let roles = Roles {
        value: code(&e.value),
        activation: if e.activation.is_empty() {
            code(&e.value)
        } else {
            code(&e.activation)
        },
        feedback: code(&e.feedback),
        core: e
            .core
            .iter()
            .map(|n| (n.clone(), code(std::slice::from_ref(n))))
            .collect(),
        funnels: spec
            .file
            .funnels
            .iter()
            .map(|f| (f.name.clone(), f.steps.clone(), code(&f.steps)))
            .collect(),
    };
    let all: Vec<&UserLog> = logs.values().collect();
    let overall = metrics(&all, &roles, start, end);
    let mut cohorts: BTreeMap<i64, Vec<&UserLog>> = BTreeMap::new();
    for u in logs.values() {
        cohorts.entry(week_start(u.signup)).or_default().push(u);
    }
    let mut by_cohort = BTreeMap::new();
    let mut retention = BTreeMap::new();
    let mut cohort_sizes = BTreeMap::new();
    for (week, members) in &cohorts {
        let m = metrics(members, &roles, start, end);
        if m.eligible_users > 0 {
            by_cohort.insert(format_date(*week), m);
        }
        let weeks = ((end - week) / (7 * DAY_MS)).max(0) as usize;
        if weeks == 0 {
            continue;
        }
        let mut active = vec![0usize; weeks];
        for u in members {
            let mut seen = vec![false; weeks];
            for &(t, _) in &u.events {
                let k = (t - week).div_euclid(7 * DAY_MS);
                if (0..weeks as i64).contains(&k) {
                    seen[k as usize] = true;
                }
            }
            for (a, s) in active.iter_mut().zip(seen) {
                *a += usize::from(s);
            }
        }
        let n = members.len() as f64;
        retention.insert(
            format_date(*week),
            active.iter().map(|&a| a as f64 / n).collect(),
        );
        cohort_sizes.insert(format_date(*week), members.len());
    }
    Ok(Engagement {
        window_start: format_date(start),
        window_end: format_date(end),
        overall,
        by_cohort,
        retention,
        cohort_sizes,
    })
}

/// Event codes of each role.
struct Roles {
    value: Vec<u32>,
    activation: Vec<u32>,
    feedback: Vec<u32>,
    core: Vec<(String, Vec<u32>)>,
    funnels: Vec<(String, Vec<String>, Vec<u32>)>,
}

fn ratio(num: usize, den: usize) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

fn metrics(users: &[&UserLog], r: &Roles, start: i64, end: i64) -> Metrics {
    let mut tally = Tally::new(r);
    for u in users {
        tally.count_window(u, r, start, end);
        tally.count_activation(u, r, start, end);
        tally.count_funnels(u, r, start, end);
    }
    tally.metrics(r, start, end)
}

/// The counts behind [`Metrics`], added up user by user.
#[derive(Default)]
struct Tally {
    eligible: usize,
    engaged: usize,
    value_actions: usize,
    feedback: usize,
    /// Per core event (as [`Roles::core`]), users who did it in the window.
    adopted: Vec<usize>,
    /// Day → users active that day.
    daily: HashMap<i64, usize>,
    new_users: usize,
    activated: usize,
    /// Time to value of each activated new user, in days.
    ttv: Vec<f64>,
    return_base: usize,
    returned: usize,
    /// Per funnel (as [`Roles::funnels`]), users who reached each step.
    funnel_reached: Vec<Vec<usize>>,
}

impl Tally {
    fn new(r: &Roles) -> Self {
        Tally {
            adopted: vec![0usize; r.core.len()],
            funnel_reached: r.funnels.iter().map(|f| vec![0; f.2.len()]).collect(),
            ..Tally::default()
        }
    }

    /// A user's events in the window: eligibility, value actions, feedback, core features
    /// and active days.
    fn count_window(&mut self, u: &UserLog, r: &Roles, start: i64, end: i64) {
        let in_window = |t: i64| t >= start && t < end;
        let is = |codes: &[u32], c: u32| codes.contains(&c);
        let window: Vec<&(i64, u32)> = u.events.iter().filter(|(t, _)| in_window(*t)).collect();
        if window.is_empty() {
            return;
        }
        self.eligible += 1;
        let values = window.iter().filter(|(_, c)| is(&r.value, *c)).count();
        self.value_actions += values;
        self.engaged += usize::from(values > 0);
        self.feedback += usize::from(window.iter().any(|(_, c)| is(&r.feedback, *c)));
        for (k, (_, codes)) in r.core.iter().enumerate() {
            self.adopted[k] += usize::from(window.iter().any(|(_, c)| is(codes, *c)));
        }
        let mut days: Vec<i64> = window.iter().map(|(t, _)| t.div_euclid(DAY_MS)).collect();
        days.sort_unstable();
        days.dedup();
        for d in days {
            *self.daily.entry(d).or_default() += 1;
        }
    }

    /// A user's activation (a new user's, with its time to value) and return usage.
    fn count_activation(&mut self, u: &UserLog, r: &Roles, start: i64, end: i64) {
        let in_window = |t: i64| t >= start && t < end;
        let is = |codes: &[u32], c: u32| codes.contains(&c);
        let activation = u
            .events
            .iter()
            .find(|(t, c)| *t >= u.signup && is(&r.activation, *c))
            .map(|(t, _)| *t)
            .filter(|&t| t < end);
        if in_window(u.signup) {
            self.new_users += 1;
            if let Some(a) = activation {
                self.activated += 1;
                self.ttv.push((a - u.signup) as f64 / DAY_MS as f64);
            }
        }
        if let Some(a) = activation.filter(|&a| in_window(a) && a + 7 * DAY_MS <= end) {
            self.return_base += 1;
            let repeat = u
                .events
                .iter()
                .any(|(t, c)| *t > a && *t <= a + 7 * DAY_MS && is(&r.value, *c));
            self.returned += usize::from(repeat);
        }
    }

    /// The funnel steps a user reached.
    fn count_funnels(&mut self, u: &UserLog, r: &Roles, start: i64, end: i64) {
        for (f, (_, _, steps)) in r.funnels.iter().enumerate() {
            let Some(reached) = funnel_reached(u, steps, start, end) else {
                continue;
            };
            for count in &mut self.funnel_reached[f][..reached] {
                *count += 1;
            }
        }
    }

    fn metrics(self, r: &Roles, start: i64, end: i64) -> Metrics {
        let eligible = self.eligible;
        let days = ((end - start) as f64 / DAY_MS as f64).max(1.0);
        let mean_dau = self.daily.values().sum::<usize>() as f64 / days;
        Metrics {
            eligible_users: eligible,
            engagement_rate: ratio(self.engaged, eligible),
            new_users: self.new_users,
            activation_rate: ratio(self.activated, self.new_users),
            time_to_value_days: time_to_value(self.ttv),
            return_usage_rate: ratio(self.returned, self.return_base),
            stickiness: (eligible > 0).then(|| mean_dau / eligible as f64),
            depth: (eligible > 0).then(|| self.value_actions as f64 / eligible as f64),
            feature_adoption: r
                .core
                .iter()
                .zip(self.adopted)
                .filter_map(|((n, _), a)| ratio(a, eligible).map(|v| (n.clone(), v)))
                .collect(),
            funnels: funnel_steps(r, &self.funnel_reached),
            feedback_participation: ratio(self.feedback, eligible),
        }
    }
}

/// How many steps of a funnel a user reached: `None` without step 1 in the window, else
/// the steps done in order from there before the window's end.
fn funnel_reached(u: &UserLog, steps: &[u32], start: i64, end: i64) -> Option<usize> {
    let in_window = |t: i64| t >= start && t < end;
    let &first = steps.first()?;
    let t0 = u
        .events
        .iter()
        .find(|(t, c)| *c == first && in_window(*t))
        .map(|(t, _)| *t)?;
    let mut at = t0;
    let mut reached = 1;
    for &step in &steps[1..] {
        match u
            .events
            .iter()
            .find(|(t, c)| *t >= at && *t < end && *c == step)
        {
            Some((t, _)) => {
                at = *t;
                reached += 1;
            }
            None => break,
        }
    }
    Some(reached)
}

/// Median and mean of the activated new users' times to value.
fn time_to_value(mut ttv: Vec<f64>) -> Option<Summary> {
    ttv.sort_by(f64::total_cmp);
    (!ttv.is_empty()).then(|| {
        let n = ttv.len();
        let median = if n % 2 == 1 {
            ttv[n / 2]
        } else {
            (ttv[n / 2 - 1] + ttv[n / 2]) / 2.0
        };
        Summary {
            n,
            median,
            mean: ttv.iter().sum::<f64>() / n as f64,
        }
    })
}

/// Each funnel's steps with the users who reached them and the drop-off to the next.
fn funnel_steps(r: &Roles, funnel_reached: &[Vec<usize>]) -> BTreeMap<String, Vec<FunnelStep>> {
    r.funnels
        .iter()
        .zip(funnel_reached)
        .map(|((name, steps, codes), reached)| {
            let rows = steps
                .iter()
                .enumerate()
                .map(|(k, step)| {
                    let found = codes.len() == steps.len();
                    let here = if found { reached[k] } else { 0 };
                    let next = reached.get(k + 1).copied();
                    FunnelStep {
                        step: step.clone(),
                        reached: here,
                        drop_off: next
                            .filter(|_| found && here > 0)
                            .map(|n| (here - n) as f64 / here as f64),
                    }
                })
                .collect();
            (name.clone(), rows)
        })
        .collect()
}

/// Per-user histories of events before `end`, with signup times. A user the users table
/// says signed up at `end` or later is not one yet (their visits before sign-up are theirs
/// only through a later identify call), as in the scored population.
fn user_logs(
    events: &Events,
    users: Option<&Users>,
    end: i64,
) -> Result<(HashMap<String, UserLog>, Vec<String>)> {
    let df = super::sorted_log(events, col("ts").lt(lit(end)))?;
    let ids = df.column("user_id")?.str()?;
    let ts = df.column("ts")?.i64()?;
    let ev = df.column("event")?.str()?;
    let mut names: Vec<String> = Vec::new();
    let mut index: HashMap<String, u32> = HashMap::new();
    let mut logs: HashMap<String, UserLog> = HashMap::new();
    for ((id, t), e) in ids.iter().zip(ts.iter()).zip(ev.iter()) {
        let (Some(id), Some(t), Some(e)) = (id, t, e) else {
            continue;
        };
        let code = match index.get(e) {
            Some(&c) => c,
            None => {
                names.push(e.to_string());
                index.insert(e.to_string(), names.len() as u32 - 1);
                names.len() as u32 - 1
            }
        };
        logs.entry(id.to_string())
            .or_insert_with(|| UserLog {
                signup: t,
                events: Vec::new(),
            })
            .events
            .push((t, code));
    }
    if let Some(users) = users {
        let uid = users.df.column("user_id")?.str()?;
        let signup = users.df.column("signup_ts")?.i64()?;
        for (id, s) in uid.iter().zip(signup.iter()) {
            if let (Some(id), Some(s)) = (id, s) {
                if s >= end {
                    logs.remove(id);
                } else if let Some(log) = logs.get_mut(id) {
                    log.signup = s;
                }
            }
        }
    }
    Ok((logs, names))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::events;

    const D: i64 = DAY_MS;
    /// 2026-01-05, a Monday.
    const MON: i64 = 1_767_571_200_000;

    fn spec() -> FeatureSpec {
        let text = r#"
[events]
login = ["login"]
value = ["report"]
activation = ["report"]
core = ["report", "share"]
feedback = ["nps"]
[[funnels]]
name = "onboarding"
steps = ["start", "connect", "report"]
"#;
        FeatureSpec::from_toml(text, std::path::Path::new("t.toml")).unwrap()
    }

    /// Four users, a 14-day window starting on MON:
    /// - a: signed up before (day −10, first event), in the window logs in on days 0 and
    ///   1, reports on day 1, answers NPS;
    /// - b: signs up day 2 (start), connects day 3, reports day 5 (activation, 3 days),
    ///   reports again day 8 (a return within 7 days), shares day 8;
    /// - c: signs up day 4 (start), logs in day 4, nothing else;
    /// - d: active only before the window.
    fn log() -> Events {
        events(&[
            ("a", MON - 10 * D, "login"),
            ("a", MON, "login"),
            ("a", MON + D, "login"),
            ("a", MON + D + 1000, "report"),
            ("a", MON + D + 2000, "nps"),
            ("b", MON + 2 * D, "start"),
            ("b", MON + 3 * D, "connect"),
            ("b", MON + 5 * D, "report"),
            ("b", MON + 8 * D, "report"),
            ("b", MON + 8 * D + 1000, "share"),
            ("c", MON + 4 * D, "start"),
            ("c", MON + 4 * D + 1000, "login"),
            ("d", MON - 20 * D, "login"),
        ])
    }

    #[test]
    fn every_formula_on_a_hand_computed_log() {
        let e = engagement(&log(), None, &spec(), MON, MON + 14 * D).unwrap();
        let m = &e.overall;
        assert_eq!(m.eligible_users, 3);
        // a and b did a value action: 2 of 3.
        assert_eq!(m.engagement_rate, Some(2.0 / 3.0));
        // New in the window: b and c; b activated.
        assert_eq!(m.new_users, 2);
        assert_eq!(m.activation_rate, Some(0.5));
        let ttv = m.time_to_value_days.unwrap();
        assert_eq!((ttv.n, ttv.median, ttv.mean), (1, 3.0, 3.0));
        // Activated in the window with 7 days left: b (day 5 ≤ day 7) and a (day 1); b
        // repeated on day 8, a did not.
        assert_eq!(m.return_usage_rate, Some(0.5));
        // Active user-days: a 2, b 4 (days 2, 3, 5, 8), c 1 → 7 over 14 days = 0.5 DAU;
        // 3 users active in the window.
        assert!((m.stickiness.unwrap() - 0.5 / 3.0).abs() < 1e-12);
        // Value actions 1 (a) + 2 (b) over 3 eligible.
        assert_eq!(m.depth, Some(1.0));
        assert_eq!(m.feature_adoption["report"], 2.0 / 3.0);
        assert_eq!(m.feature_adoption["share"], 1.0 / 3.0);
        // Funnel: b and c started; b connected; b reported.
        let f = &m.funnels["onboarding"];
        assert_eq!(f.iter().map(|s| s.reached).collect::<Vec<_>>(), [2, 1, 1]);
        assert_eq!(f[0].drop_off, Some(0.5));
        assert_eq!(f[1].drop_off, Some(0.0));
        assert_eq!(f[2].drop_off, None);
        assert_eq!(m.feedback_participation, Some(1.0 / 3.0));
    }

    #[test]
    fn cohorts_and_retention_by_signup_week() {
        let e = engagement(&log(), None, &spec(), MON, MON + 14 * D).unwrap();
        // a signed up on MON − 10 days (week of MON − 14), d on MON − 20 (week MON − 21),
        // b and c in the week of MON.
        let cohort = format_date(MON);
        assert_eq!(e.cohort_sizes[&cohort], 2);
        assert_eq!(e.by_cohort[&cohort].new_users, 2);
        // Week 0: both active; week 1: only b (day 8).
        assert_eq!(e.retention[&cohort], vec![1.0, 0.5]);
        let a_week = format_date(MON - 14 * D);
        // a: active in week 0 (its signup), not week 1, week 2 (MON…), week 3 (MON+7: no).
        assert_eq!(e.retention[&a_week], vec![1.0, 0.0, 1.0, 0.0]);
        assert!(!e.by_cohort.contains_key(&format_date(MON - 21 * D)));
        assert_eq!(week_start(MON + 3 * D + 5), MON);
        // The users table says b signs up after the window: not a user yet (its visits
        // are stitched through an identify call after the report's date).
        let users = crate::ingest::Users {
            dates_read: None,
            df: df!("user_id" => ["b"], "signup_ts" => [MON + 20 * D]).unwrap(),
        };
        let e = engagement(&log(), Some(&users), &spec(), MON, MON + 14 * D).unwrap();
        assert_eq!(e.cohort_sizes[&cohort], 1);
    }
}
