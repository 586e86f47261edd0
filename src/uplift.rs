//! Do the plays work? A past list, the event log since, and (optionally) the CRM's
//! contacts export, compared arm against arm.
//!
//! For a list written at T, the users on it (status `new` or `still_at_risk`) are split
//! by the list's `group` column into treatment and control (see `experiment`). Then, per
//! recommended play and overall:
//! - **re-engagement rate** = users with a value action in (T, T + `window_days`] ÷ users
//!   in the arm (intent to treat: the whole treatment arm, contacted or not, so that the
//!   comparison with control stays fair);
//! - **uplift** = treatment rate − control rate, with a 95% Wald interval
//!   `± 1.96 · √(p_t(1−p_t)/n_t + p_c(1−p_c)/n_c)`;
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

use crate::error::Result;
use crate::ingest::{Events, DAY_MS};

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
    /// Treatment rate − control rate.
    pub uplift: Option<f64>,
    /// 95% interval of the uplift.
    pub ci95: Option<(f64, f64)>,
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
    // Per listed user: time of the first value action in (T, T + window], and all event
    // times after T (for retention).
    let wanted: std::collections::HashSet<&str> =
        listed.iter().map(|l| l.user_id.as_str()).collect();
    let df = events
        .df
        .clone()
        .lazy()
        .filter(col("ts").gt(lit(as_of)))
        .select([col("user_id"), col("ts"), col("event")])
        .sort(["user_id", "ts"], SortMultipleOptions::default())
        .collect()?;
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
    let log_end = events.max_ts;
    let outcome = |id: &str, from: i64| -> (bool, Option<bool>) {
        let Some(evs) = after.get(id) else {
            return (false, None);
        };
        let back = evs
            .iter()
            .find(|(t, is_value)| *is_value && *t > from && *t <= end)
            .map(|(t, _)| *t);
        let Some(b) = back else {
            return (false, None);
        };
        let check = b + i64::from(w.retention_days) * DAY_MS;
        if check > log_end {
            return (true, None);
        }
        let active = evs
            .iter()
            .any(|(t, _)| *t > check - 7 * DAY_MS && *t <= check);
        (true, Some(active))
    };
    let mut groups: BTreeMap<String, Vec<&Listed>> = BTreeMap::new();
    for l in listed {
        groups.entry(l.play.clone()).or_default().push(l);
    }
    let compare = |members: &[&Listed]| -> Comparison {
        let arm = |pick: &dyn Fn(&Listed) -> Option<i64>| {
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
                let (back, retained) = outcome(&l.user_id, from);
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
        };
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
        let (uplift, ci95) = match (treatment.rate, control.rate) {
            (Some(pt), Some(pc)) => {
                let d = pt - pc;
                let se = (pt * (1.0 - pt) / treatment.users as f64
                    + pc * (1.0 - pc) / control.users as f64)
                    .sqrt();
                (Some(d), Some((d - 1.96 * se, d + 1.96 * se)))
            }
            _ => (None, None),
        };
        Comparison {
            treatment,
            control,
            uplift,
            ci95,
            contacted,
        }
    };
    let all: Vec<&Listed> = listed.iter().collect();
    Ok(Measurement {
        list_as_of: crate::ingest::format_date(as_of),
        window_days: w.window_days,
        retention_days: w.retention_days,
        window_complete: log_end >= end,
        overall: compare(&all),
        by_play: groups
            .iter()
            .map(|(play, members)| (play.clone(), compare(members)))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: i64 = DAY_MS;
    const T: i64 = 1_767_571_200_000; // 2026-01-05

    fn events(rows: &[(&str, i64, &str)]) -> Events {
        let df = DataFrame::new(
            rows.len(),
            vec![
                Column::new(
                    "user_id".into(),
                    rows.iter().map(|r| r.0).collect::<Vec<_>>(),
                ),
                Column::new("ts".into(), rows.iter().map(|r| r.1).collect::<Vec<_>>()),
                Column::new("event".into(), rows.iter().map(|r| r.2).collect::<Vec<_>>()),
            ],
        )
        .unwrap();
        Events {
            df,
            path: "e.csv".into(),
            min_ts: T - 10 * D,
            max_ts: rows.iter().map(|r| r.1).max().unwrap(),
            sessions_derived: true,
            groups: None,
            names: Default::default(),
            files: Vec::new(),
            identity: Default::default(),
        }
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
        assert_eq!(re.uplift, Some(0.0));
        // se = √(0.25/4 + 0.25/2) = √0.1875.
        let (lo, hi) = re.ci95.unwrap();
        assert!((hi - 1.96 * 0.1875f64.sqrt()).abs() < 1e-12 && (lo + hi).abs() < 1e-12);
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
        // The log ends on day 9: the 28-day window is not complete.
        assert!(!m.window_complete);
        let c = m.overall.contacted.unwrap();
        assert_eq!((c.users, c.reengaged), (1, 1));
        // Retention 28 days after day 8 is beyond the log: not observed.
        assert_eq!(c.retention_observed, 0);
        assert_eq!(m.overall.treatment.rate, Some(1.0));
        assert_eq!(m.overall.control.rate, Some(0.0));
    }
}
