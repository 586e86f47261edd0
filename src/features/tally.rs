//! One user's pass over their events before an as-of date: the windows of a date (`Plan`)
//! and the counts, distinct days and sessions they hold (`Tally`).

use std::collections::{BTreeSet, HashMap};

use super::bgnbd::BgNbd;
use super::index::{EventIndex, ACTIVATION, CORE, FEEDBACK, FRICTION, PRESENCE, VALUE};
use super::prepare::Prepared;
use super::spec::FeatureSpec;
use crate::base::time::DAY_MS;

/// Which days (ages: 0 is the last day before T) a counter counts.
#[derive(Debug, Clone, Copy)]
pub(super) enum Window {
    /// Every event before T.
    All,
    /// Ages in `lo..hi`.
    Ages(i64, i64),
}

impl Window {
    pub(super) fn holds(self, age: i64) -> bool {
        match self {
            Window::All => true,
            Window::Ages(lo, hi) => age >= lo && age < hi,
        }
    }
}

/// What one as-of date counts per event name, fixed before the pass over users.
pub(super) struct Plan {
    pub(super) r: i64,
    pub(super) p: i64,
    pub(super) l: i64,
    /// Presence days older than this are not needed by any window.
    pub(super) horizon: i64,
    /// The day number of the last day that began before T.
    pub(super) last_day: i64,
    /// Per event code: the counters (slot, window) its rows add to.
    pub(super) counters: Vec<Vec<(usize, Window)>>,
    pub(super) slots: usize,
    /// Per event code: its place among the core features, if it is one.
    pub(super) core_slot: Vec<Option<usize>>,
    pub(super) core_count: usize,
    /// Counter slots of each funnel's steps, of each ratio's numerator and denominator,
    /// and of each event type's recent, prior, long and lifetime counts.
    pub(super) funnels: Vec<Vec<usize>>,
    pub(super) ratios: Vec<(usize, usize)>,
    pub(super) rates: Vec<[usize; 4]>,
    /// The log's typical gap between value actions (days), for users with fewer than two.
    pub(super) typical_gap: f64,
    /// The fitted BG/NBD model, if training made one.
    pub(super) bgnbd: Option<BgNbd>,
    /// Days after T in which a subscription's renewal is due (subscription definition).
    pub(super) renewal_horizon: Option<i64>,
}

impl Plan {
    pub(super) fn new(
        prepared: &Prepared,
        spec: &FeatureSpec,
        event_types: &[String],
        as_of: i64,
    ) -> Self {
        let w = &spec.windows;
        let (r, p, l) = (
            w.recent_days as i64,
            w.prior_days as i64,
            w.long_days as i64,
        );
        let codes = &*prepared.codes;
        let mut counters: Vec<Vec<(usize, Window)>> = vec![Vec::new(); codes.len()];
        let mut slots = 0;
        let mut add = |name: &str, window: Window| {
            let slot = slots;
            slots += 1;
            if let Some(&c) = codes.get(name) {
                counters[c as usize].push((slot, window));
            }
            slot
        };
        let funnels = spec
            .file
            .funnels
            .iter()
            .map(|f| f.steps.iter().map(|s| add(s, Window::All)).collect())
            .collect();
        let mut ratio_slot: HashMap<&str, usize> = HashMap::new();
        let mut ratio_events: BTreeSet<&str> = BTreeSet::new();
        for ratio in &spec.file.ratios {
            ratio_events.insert(&ratio.numerator);
            ratio_events.insert(&ratio.denominator);
        }
        for e in ratio_events {
            ratio_slot.insert(e, add(e, Window::Ages(0, l)));
        }
        let ratios = spec
            .file
            .ratios
            .iter()
            .map(|x| {
                (
                    ratio_slot[x.numerator.as_str()],
                    ratio_slot[x.denominator.as_str()],
                )
            })
            .collect();
        let rates = event_types
            .iter()
            .map(|e| {
                [
                    add(e, Window::Ages(0, r)),
                    add(e, Window::Ages(r, r + p)),
                    add(e, Window::Ages(0, l)),
                    add(e, Window::All),
                ]
            })
            .collect();
        let mut core_slot = vec![None; codes.len()];
        let mut core_count = 0;
        for name in &spec.file.events.core {
            if let Some(&c) = codes.get(name) {
                if core_slot[c as usize].is_none() {
                    core_slot[c as usize] = Some(core_count);
                    core_count += 1;
                }
            }
        }
        Plan {
            r,
            p,
            l,
            horizon: (r + p).max(l).max(7 * SLOPE_WEEKS),
            // Windows are whole calendar days (UTC): age 0 is the last day that began before T.
            last_day: (as_of + DAY_MS - 1).div_euclid(DAY_MS) - 1,
            counters,
            slots,
            core_slot,
            core_count,
            funnels,
            ratios,
            rates,
            typical_gap: spec.typical_gap_days,
            bgnbd: spec.bgnbd,
            renewal_horizon: spec.renewal_horizon_days.map(i64::from),
        }
    }
}

/// One user's raw figures before T.
#[derive(Debug, Default, Clone)]
pub(super) struct Tally {
    pub(super) first_ts: Option<i64>,
    pub(super) last_ts: Option<i64>,
    pub(super) first_value_ts: Option<i64>,
    pub(super) last_value_ts: Option<i64>,
    pub(super) activation_ts: Option<i64>,
    pub(super) events_total: f64,
    pub(super) value_total: f64,
    /// Distinct calendar days (UTC) with a value action.
    pub(super) value_days: f64,
    /// Value actions in the recent, prior and long windows.
    pub(super) value: Windows,
    /// Sum and count of the amounts of value actions with one in the long window.
    pub(super) value_amount_long: f64,
    pub(super) value_amounts_long: f64,
    /// Sum and count of the value amounts of every value action with one.
    pub(super) value_amount_all: f64,
    pub(super) value_amounts: f64,
    /// Distinct weeks (7-day steps back from T) with presence.
    pub(super) active_weeks: f64,
    pub(super) feedback_long: f64,
    pub(super) friction_recent: f64,
    /// Days with presence in the recent, prior and long windows.
    pub(super) active: Windows,
    pub(super) weeks: [f64; SLOPE_WEEKS as usize],
    pub(super) core_used: f64,
    pub(super) sessions_recent: f64,
    pub(super) session_minutes: f64,
    pub(super) counts: Vec<f64>,
}

/// Counts in the recent, prior and long windows.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Windows {
    pub(super) recent: f64,
    pub(super) prior: f64,
    pub(super) long: f64,
}

impl Windows {
    pub(super) fn count(&mut self, age: i64, plan: &Plan) {
        let (r, p, l) = (plan.r, plan.p, plan.l);
        if age < r {
            self.recent += 1.0;
        }
        if age >= r && age < r + p {
            self.prior += 1.0;
        }
        if age < l {
            self.long += 1.0;
        }
    }
}

/// Per-thread buffers, reused across users.
#[derive(Default)]
pub(super) struct Scratch {
    pub(super) recent_sessions: Vec<u32>,
    pub(super) long_sessions: Vec<(u32, i64)>,
    pub(super) minutes: Vec<f64>,
    pub(super) core_seen: Vec<bool>,
}

/// Reads rows `rows` of the index (one user, in time order) up to T.
pub(super) fn tally(
    ix: &EventIndex,
    rows: std::ops::Range<usize>,
    as_of: i64,
    plan: &Plan,
    s: &mut Scratch,
) -> Tally {
    let mut t = Tally {
        counts: vec![0.0; plan.slots],
        ..Tally::default()
    };
    let start = rows.start;
    let end = start + ix.ts[rows].partition_point(|&ts| ts < as_of);
    if end == start {
        return t;
    }
    let (r, l) = (plan.r, plan.l);
    s.recent_sessions.clear();
    s.long_sessions.clear();
    s.core_seen.clear();
    s.core_seen.resize(plan.core_count, false);
    let mut last_active_age = i64::MIN;
    let mut last_active_week = i64::MIN;
    t.first_ts = Some(ix.ts[start]);
    t.last_ts = Some(ix.ts[end - 1]);
    for i in start..end {
        let ts = ix.ts[i];
        let age = plan.last_day - ts / DAY_MS;
        let role = ix.role[i];
        let code = ix.code[i] as usize;
        let recent = age < r;
        let long = age < l;
        t.events_total += 1.0;
        if role & VALUE != 0 {
            t.value_total += 1.0;
            let day = ts.div_euclid(DAY_MS);
            if t.last_value_ts.is_none_or(|p| p.div_euclid(DAY_MS) != day) {
                t.value_days += 1.0;
            }
            t.first_value_ts.get_or_insert(ts);
            t.last_value_ts = Some(ts);
            let v = ix.value[i];
            if !v.is_nan() {
                t.value_amount_all += v;
                t.value_amounts += 1.0;
            }
            t.value.count(age, plan);
            if long {
                let v = ix.value[i];
                if !v.is_nan() {
                    t.value_amount_long += v;
                    t.value_amounts_long += 1.0;
                }
            }
        }
        if role & ACTIVATION != 0 && t.activation_ts.is_none() {
            t.activation_ts = Some(ts);
        }
        if role & FEEDBACK != 0 && long {
            t.feedback_long += 1.0;
        }
        if role & FRICTION != 0 && recent {
            t.friction_recent += 1.0;
        }
        if role & PRESENCE != 0 && age.div_euclid(7) != last_active_week {
            last_active_week = age.div_euclid(7);
            t.active_weeks += 1.0;
        }
        if role & PRESENCE != 0 && age < plan.horizon && age != last_active_age {
            // Times ascend, so a user's presence days arrive once each, newest last.
            last_active_age = age;
            t.active.count(age, plan);
            if age < 7 * SLOPE_WEEKS {
                t.weeks[(age / 7) as usize] += 1.0;
            }
        }
        if role & CORE != 0 && long {
            if let Some(k) = plan.core_slot.get(code).copied().flatten() {
                s.core_seen[k] = true;
            }
        }
        if let Some(cs) = plan.counters.get(code) {
            for &(slot, window) in cs {
                if window.holds(age) {
                    t.counts[slot] += 1.0;
                }
            }
        }
        if recent {
            s.recent_sessions.push(ix.session[i]);
        }
        if long {
            s.long_sessions.push((ix.session[i], ts));
        }
    }
    t.core_used = s.core_seen.iter().filter(|&&b| b).count() as f64;
    t.sessions_recent = distinct(&mut s.recent_sessions) as f64;
    t.session_minutes = median_session_minutes(&mut s.long_sessions, &mut s.minutes);
    t
}

/// Number of distinct values (sorts only when needed: a user's sessions usually arrive in
/// order).
pub(super) fn distinct(v: &mut [u32]) -> usize {
    if v.windows(2).any(|w| w[0] > w[1]) {
        v.sort_unstable();
    }
    v.iter()
        .enumerate()
        .filter(|&(i, x)| i == 0 || v[i - 1] != *x)
        .count()
}

/// Median over sessions of (last − first event) in minutes; 0 without sessions.
pub(super) fn median_session_minutes(v: &mut [(u32, i64)], minutes: &mut Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    if v.windows(2).any(|w| w[0].0 > w[1].0) {
        v.sort_unstable();
    }
    minutes.clear();
    let mut i = 0;
    while i < v.len() {
        let (session, first) = v[i];
        let (mut lo, mut hi) = (first, first);
        while i < v.len() && v[i].0 == session {
            lo = lo.min(v[i].1);
            hi = hi.max(v[i].1);
            i += 1;
        }
        minutes.push((hi - lo) as f64 * (1.0 / 60_000.0));
    }
    minutes.sort_unstable_by(f64::total_cmp);
    let n = minutes.len();
    if n % 2 == 1 {
        minutes[n / 2]
    } else {
        // polars' linear interpolation at the 0.5 quantile, to the bit.
        let (lower, upper) = (minutes[n / 2 - 1], minutes[n / 2]);
        0.5 * (upper - lower) + lower
    }
}

/// Weeks in the activity slope.
pub(super) const SLOPE_WEEKS: i64 = 6;

/// Milliseconds as days. Multiplied by the reciprocal, as polars divides a column by a
/// constant: the figures, and so the lists, stay the same to the bit as when these
/// features were a polars query.
pub(super) fn days(ms: i64) -> f64 {
    ms as f64 * (1.0 / DAY_MS as f64)
}
