//! Do the plays work? A past list, the event log since, and (optionally) the CRM's
//! contacts export, compared arm against arm.
//!
//! For a list written at T, the users on it (status `new` or `still_at_risk`) are split
//! by the list's `group` column into treatment and control (see `experiment`). Then, per
//! recommended play and overall:
//! - **re-engagement rate** = users with a value action in (T, T + `window_days`] ÷ users
//!   in the arm (intent to treat: the whole treatment arm, contacted or not, so that the
//!   comparison with control stays fair);
//! - **uplift** = treatment rate − control rate, with Newcombe's 95% hybrid score
//!   interval (his method 10: from the two arms' Wilson intervals), which keeps its
//!   coverage on small arms and rates near 0 or 1 where the normal approximation claims
//!   certainty it does not have (0 of 5 against 5 of 10 is not "+27 to +68 pts"). With
//!   fewer than [`MIN_ARM_USERS`] users in either arm there is no uplift at all: the
//!   report says there are too few users to tell;
//! - with a contacts file (`user_id, contacted_at, play`): the rate among the treatment
//!   users CS actually contacted (after contact), beside the arm's;
//! - **post-re-engagement retention** = re-engaged users with an event in the 7 days
//!   ending `retention_days` after their first value action back ÷ re-engaged users whose
//!   log reaches that far.
//!
//! Nothing is measured before the log covers T + `window_days`: the result says so.

use std::collections::{BTreeMap, HashMap};

use polars::prelude::*;
use serde::Serialize;

use crate::base::time::DAY_MS;
use crate::error::Result;
use crate::ingest::Events;

/// Fewer users than this in an arm: no uplift is stated, "too few users to tell".
pub const MIN_ARM_USERS: usize = 10;

/// The normal quantile of a two-sided 95% interval.
const Z95: f64 = 1.959_963_984_540_054;

/// Wilson's score interval for `x` successes of `n` (`n` > 0).
fn wilson(x: usize, n: usize, z: f64) -> (f64, f64) {
    let (x, n) = (x as f64, n as f64);
    let p = x / n;
    let z2 = z * z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / (1.0 + z2 / n);
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Newcombe's hybrid score interval (1998, method 10) for `x1/n1 − x2/n2` at 95%.
pub fn newcombe_interval(x1: usize, n1: usize, x2: usize, n2: usize) -> (f64, f64) {
    let (p1, p2) = (x1 as f64 / n1 as f64, x2 as f64 / n2 as f64);
    let (l1, u1) = wilson(x1, n1, Z95);
    let (l2, u2) = wilson(x2, n2, Z95);
    let d = p1 - p2;
    (
        d - ((p1 - l1).powi(2) + (u2 - p2).powi(2)).sqrt(),
        d + ((u1 - p1).powi(2) + (p2 - l2).powi(2)).sqrt(),
    )
}

/// One user of the past list.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    pub user_id: String,
    pub play: String,
    pub control: bool,
}

/// One arm's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Arm {
    pub users: usize,
    pub reengaged: usize,
    pub rate: Option<f64>,
    /// Re-engaged users whose log reaches the retention check, and how many were active.
    pub retention_observed: usize,
    pub retained: usize,
    pub retention_rate: Option<f64>,
}

/// Treatment against control for one play (or all).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub treatment: Arm,
    pub control: Arm,
    /// Treatment rate − control rate; `None` when an arm has fewer than
    /// [`MIN_ARM_USERS`] users (or none), or before the window ends (the first days'
    /// difference is noise, not an effect).
    pub uplift: Option<f64>,
    /// Newcombe's 95% interval of the uplift, when there is one.
    pub ci95: Option<(f64, f64)>,
    /// An arm has fewer than [`MIN_ARM_USERS`] users: too few to tell.
    pub too_few: bool,
    /// With a contacts file: the contacted treatment users' outcome.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contacted: Option<Arm>,
}

/// The measurement of one past list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measurement {
    pub list_as_of: String,
    pub window_days: u32,
    pub retention_days: u32,
    /// False when the log ends before T + window: nothing below is final.
    pub window_complete: bool,
    pub overall: Comparison,
    pub by_play: BTreeMap<String, Comparison>,
}

/// Settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Windows {
    /// Days after T in which a value action counts as coming back (default 28).
    pub window_days: u32,
    /// Days after coming back at which the user must still be active (default 28).
    pub retention_days: u32,
}

impl Default for Windows {
    fn default() -> Self {
        Windows {
            window_days: 28,
            retention_days: 28,
        }
    }
}

/// Measures the list written at `as_of` (epoch ms) against the events since.
pub fn measure(
    listed: &[Listed],
    as_of: i64,
    events: &Events,
    value_events: &[String],
    contacts: Option<&HashMap<String, i64>>,
    w: Windows,
) -> Result<Measurement> {
    let end = as_of + i64::from(w.window_days) * DAY_MS;
    let df = super::sorted_log(events, col("ts").gt(lit(as_of)))?;
    let outcomes = Outcomes {
        after: events_after(&df, listed, value_events)?,
        end,
        log_end: events.max_ts,
        retention_days: w.retention_days,
    };
    let mut groups: BTreeMap<String, Vec<&Listed>> = BTreeMap::new();
    for l in listed {
        groups.entry(l.play.clone()).or_default().push(l);
    }
    let complete = outcomes.log_end >= end;
    let compare = |members: &[&Listed]| {
        let mut c = compare(members, &outcomes, as_of, contacts);
        if !complete {
            (c.uplift, c.ci95) = (None, None);
        }
        c
    };
    let all: Vec<&Listed> = listed.iter().collect();
    Ok(Measurement {
        list_as_of: crate::base::time::format_date(as_of),
        window_days: w.window_days,
        retention_days: w.retention_days,
        window_complete: complete,
        overall: compare(&all),
        by_play: groups
            .iter()
            .map(|(play, members)| (play.clone(), compare(members)))
            .collect(),
    })
}

/// Per listed user: the times of their events in `df` (the log after T), each with
/// whether it is a value action.
fn events_after<'a>(
    df: &'a DataFrame,
    listed: &[Listed],
    value_events: &[String],
) -> Result<HashMap<&'a str, Vec<(i64, bool)>>> {
    let wanted: std::collections::HashSet<&str> =
        listed.iter().map(|l| l.user_id.as_str()).collect();
    let ids = df.column("user_id")?.str()?;
    let ts = df.column("ts")?.i64()?;
    let ev = df.column("event")?.str()?;
    let mut after: HashMap<&str, Vec<(i64, bool)>> = HashMap::new();
    for ((id, t), e) in ids.iter().zip(ts.iter()).zip(ev.iter()) {
        let (Some(id), Some(t), Some(e)) = (id, t, e) else {
            continue;
        };
        if wanted.contains(id) {
            after
                .entry(id)
                .or_default()
                .push((t, value_events.iter().any(|v| v == e)));
        }
    }
    Ok(after)
}

/// What became of the listed users after T.
struct Outcomes<'a> {
    /// Per listed user, their events after T (see [`events_after`]).
    after: HashMap<&'a str, Vec<(i64, bool)>>,
    /// T + the window: a value action after it does not count.
    end: i64,
    /// The log's last event.
    log_end: i64,
    retention_days: u32,
}

impl Outcomes<'_> {
    /// Whether the user came back (a value action in (`from`, end]), and whether they were
    /// still active `retention_days` later (`None` when not back or the log ends first).
    fn of(&self, id: &str, from: i64) -> (bool, Option<bool>) {
        let Some(evs) = self.after.get(id) else {
            return (false, None);
        };
        let back = evs
            .iter()
            .find(|(t, is_value)| *is_value && *t > from && *t <= self.end)
            .map(|(t, _)| *t);
        let Some(b) = back else {
            return (false, None);
        };
        let check = b + i64::from(self.retention_days) * DAY_MS;
        if check > self.log_end {
            return (true, None);
        }
        let active = evs
            .iter()
            .any(|(t, _)| *t > check - 7 * DAY_MS && *t <= check);
        (true, Some(active))
    }
}

/// Treatment against control among `members`, and the contacted treatment users.
fn compare(
    members: &[&Listed],
    outcomes: &Outcomes,
    as_of: i64,
    contacts: Option<&HashMap<String, i64>>,
) -> Comparison {
    let arm = |pick: &dyn Fn(&Listed) -> Option<i64>| arm(members, outcomes, pick);
    let treatment = arm(&|l| (!l.control).then_some(as_of));
    let control = arm(&|l| l.control.then_some(as_of));
    let contacted = contacts.map(|c| {
        arm(&|l| {
            c.get(&l.user_id)
                .copied()
                .filter(|_| !l.control)
                .map(|t| t.max(as_of))
        })
    });
    let too_few = treatment.users.min(control.users) < MIN_ARM_USERS;
    let (uplift, ci95) = match (treatment.rate, control.rate) {
        (Some(pt), Some(pc)) if !too_few => (
            Some(pt - pc),
            Some(newcombe_interval(
                treatment.reengaged,
                treatment.users,
                control.reengaged,
                control.users,
            )),
        ),
        _ => (None, None),
    };
    Comparison {
        treatment,
        control,
        uplift,
        ci95,
        too_few,
        contacted,
    }
}

/// The outcome of the members `pick` puts in the arm, each measured from the time it
/// gives (T, or the contact).
fn arm(members: &[&Listed], outcomes: &Outcomes, pick: &dyn Fn(&Listed) -> Option<i64>) -> Arm {
    let mut a = Arm {
        users: 0,
        reengaged: 0,
        rate: None,
        retention_observed: 0,
        retained: 0,
        retention_rate: None,
    };
    for l in members {
        let Some(from) = pick(l) else { continue };
        a.users += 1;
        let (back, retained) = outcomes.of(&l.user_id, from);
        a.reengaged += usize::from(back);
        if let Some(r) = retained {
            a.retention_observed += 1;
            a.retained += usize::from(r);
        }
    }
    a.rate = (a.users > 0).then(|| a.reengaged as f64 / a.users as f64);
    a.retention_rate =
        (a.retention_observed > 0).then(|| a.retained as f64 / a.retention_observed as f64);
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: i64 = DAY_MS;
    const T: i64 = 1_767_571_200_000; // 2026-01-05

    fn events(rows: &[(&str, i64, &str)]) -> Events {
        let mut ev = crate::fixtures::events(rows);
        ev.min_ts = T - 10 * D;
        ev
    }

    fn listed(id: &str, play: &str, control: bool) -> Listed {
        Listed {
            user_id: id.into(),
            play: play.into(),
            control,
        }
    }

    #[test]
    fn rates_uplift_interval_and_retention_by_hand() {
        // Treatment t1–t4 (Re-engagement), control c1–c2 (Re-engagement), r1 (Repeat Value).
        let list = [
            listed("t1", "Re-engagement", false),
            listed("t2", "Re-engagement", false),
            listed("t3", "Re-engagement", false),
            listed("t4", "Re-engagement", false),
            listed("c1", "Re-engagement", true),
            listed("c2", "Re-engagement", true),
            listed("r1", "Repeat Value", false),
        ];
        let log = events(&[
            ("t1", T - D, "report"),      // before T: does not count
            ("t1", T + 3 * D, "report"),  // back on day 3 …
            ("t1", T + 30 * D, "login"),  // … and active 28 days later (day 31 window: 24–31]
            ("t2", T + 10 * D, "report"), // back on day 10, not active 28 days later
            ("t3", T + 5 * D, "login"),   // a login is not value
            ("t4", T + 40 * D, "report"), // too late: after the 28-day window
            ("c1", T + 2 * D, "report"),  // control back on day 2
            ("x", T + 60 * D, "login"),   // the log runs to day 60
        ]);
        let value = vec!["report".to_string()];
        let m = measure(&list, T, &log, &value, None, Windows::default()).unwrap();
        assert!(m.window_complete);
        let re = &m.by_play["Re-engagement"];
        assert_eq!((re.treatment.users, re.treatment.reengaged), (4, 2));
        assert_eq!((re.control.users, re.control.reengaged), (2, 1));
        // 4 against 2 users: too few to tell, no number.
        assert!(re.too_few);
        assert_eq!((re.uplift, re.ci95), (None, None));
        // Retention: t1 active in (day 24, day 31], t2 not in (day 31, day 38].
        assert_eq!(
            (re.treatment.retention_observed, re.treatment.retained),
            (2, 1)
        );
        assert_eq!(re.treatment.retention_rate, Some(0.5));
        // Overall adds r1 (not back) to treatment.
        assert_eq!(
            (m.overall.treatment.users, m.overall.treatment.reengaged),
            (5, 2)
        );
        assert_eq!(m.by_play["Repeat Value"].uplift, None);
    }

    #[test]
    fn newcombe_interval_matches_the_published_cases() {
        // Newcombe (1998), Statistics in Medicine 17:873–890, table II, method 10.
        let cases = [
            ((56, 70, 48, 80), (0.0524, 0.3339)),
            ((9, 10, 3, 10), (0.1705, 0.8090)),
            ((6, 7, 2, 7), (0.0582, 0.8062)),
            ((5, 56, 0, 29), (-0.0381, 0.1926)),
            ((0, 10, 0, 20), (-0.1611, 0.2775)),
            ((0, 10, 0, 10), (-0.2775, 0.2775)),
            ((10, 10, 0, 20), (0.6791, 1.0000)),
            ((10, 10, 0, 10), (0.6075, 1.0000)),
        ];
        for ((x1, n1, x2, n2), (lo, hi)) in cases {
            let (l, h) = newcombe_interval(x1, n1, x2, n2);
            assert!(
                (l - lo).abs() < 6e-5 && (h - hi).abs() < 6e-5,
                "{x1}/{n1} − {x2}/{n2}: ({l:.4}, {h:.4}) vs ({lo}, {hi})"
            );
        }
        // The case, 0 of 5 against 5 of 10 (read as treatment 5/10, control 0/5),
        // is no longer "+27.4 to +68.2": the interval is wide and reaches below +6 pts.
        let (l, h) = newcombe_interval(5, 10, 0, 5);
        assert!(l < 0.06 && h > 0.75, "({l}, {h})");
    }

    #[test]
    fn arms_of_ten_or_more_get_an_uplift_and_its_interval() {
        let mut list = Vec::new();
        let mut rows = vec![("x", T + 60 * D, "login")];
        let names: Vec<String> = (0..30).map(|i| format!("u{i}")).collect();
        for (i, name) in names.iter().enumerate() {
            // 20 treated (12 back), 10 control (3 back).
            let control = i >= 20;
            list.push(listed(name, "Re-engagement", control));
            if (!control && i < 12) || (control && i < 23) {
                rows.push((name.as_str(), T + 2 * D, "report"));
            }
        }
        let log = events(&rows);
        let value = vec!["report".to_string()];
        let m = measure(&list, T, &log, &value, None, Windows::default()).unwrap();
        let c = &m.overall;
        assert!(!c.too_few);
        assert_eq!((c.treatment.reengaged, c.control.reengaged), (12, 3));
        assert!((c.uplift.unwrap() - 0.3).abs() < 1e-12);
        let (lo, hi) = c.ci95.unwrap();
        let (l, h) = newcombe_interval(12, 20, 3, 10);
        assert_eq!((lo, hi), (l, h));
        assert!(lo < 0.0 && hi > 0.5, "({lo}, {hi})");
    }

    #[test]
    fn contacts_and_an_incomplete_window() {
        let list = [
            listed("t1", "Re-engagement", false),
            listed("t2", "Re-engagement", false),
            listed("c1", "Re-engagement", true),
        ];
        let log = events(&[
            ("t1", T + 2 * D, "report"), // before the contact on day 5: not after contact
            ("t1", T + 8 * D, "report"), // after it
            ("t2", T + 3 * D, "report"),
            ("c1", T + 9 * D, "login"),
        ]);
        let contacts: HashMap<String, i64> = [("t1".to_string(), T + 5 * D)].into();
        let value = vec!["report".to_string()];
        let m = measure(&list, T, &log, &value, Some(&contacts), Windows::default()).unwrap();
        // The log ends on day 9: the 28-day window is not complete, and no uplift is given.
        assert!(!m.window_complete);
        assert_eq!((m.overall.uplift, m.overall.ci95), (None, None));
        let c = m.overall.contacted.unwrap();
        assert_eq!((c.users, c.reengaged), (1, 1));
        // Retention 28 days after day 8 is beyond the log: not observed.
        assert_eq!(c.retention_observed, 0);
        assert_eq!(m.overall.treatment.rate, Some(1.0));
        assert_eq!(m.overall.control.rate, Some(0.0));
    }
}
