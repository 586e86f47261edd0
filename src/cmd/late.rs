//! A late or cut export, seen before a night scores it: `run` on a nightly night, and
//! `check --night` for an orchestrator's night (the Airflow DAG's and the Kubernetes
//! driver's check step), apply the same rule.

use anyhow::Result;
use tracing::warn;

use churnrisk::base::time::{format_date, DAY_MS};
use churnrisk::error::Error;

use super::Inputs;

/// Days between the subscriptions table's latest date and the night from which it is
/// called late.
const STALE_DAYS: i64 = 3;

/// How a night treats days without any event right before it.
pub struct Lateness {
    /// Days right before the night that may have no event (`max_missing_days`).
    pub allowed: u32,
    /// Refuse a log missing more (a scheduled night), or only warn (a date given on
    /// purpose: a backfill, a rerun).
    pub refuse: bool,
    /// The setting that allows more, as the caller names it.
    pub how_to_allow: &'static str,
    /// What a refusal means for the night, as the caller runs it.
    pub consequence: &'static str,
}

/// A refused `run`'s night.
pub const NOTHING_PUBLISHED: &str =
    "Nothing was published (the last night's list stays); rerun when the log is complete.";

impl Lateness {
    /// A log without events on the days right before the night is a late or cut export:
    /// everyone on it would look less active than they are (a missing day put 92 users new
    /// on a new user's list instead of 36, and its drift retrained the model). More such
    /// days than allowed refuse the night when `refuse`, else are warned about. A last day
    /// far thinner than usual, and a subscriptions table days older than the night, are
    /// warned about. Whether the last day was found thin: such a night's drift is the
    /// cut's, not the users'. (Days without events that are allowed are this product's
    /// normal; a date given on purpose is the operator's.)
    pub fn check(&self, inputs: &Inputs, as_of: i64) -> Result<bool> {
        let last = inputs.events.max_ts;
        let (last_day, night_day) = (last.div_euclid(DAY_MS), as_of.div_euclid(DAY_MS));
        let missing = night_day - last_day - 1;
        if missing > 0 {
            let first = format_date((last_day + 1) * DAY_MS);
            let days = match missing {
                1 => format!("the day ({first})"),
                n => format!(
                    "the {n} days ({first} to {})",
                    format_date((night_day - 1) * DAY_MS)
                ),
            };
            let have = if missing == 1 { "has" } else { "have" };
            if missing > i64::from(self.allowed) && self.refuse {
                return Err(Error::LogLate {
                    last_event: format_date(last),
                    night: format_date(as_of),
                    missing: days,
                    have,
                    advice: format!(
                        "{} Only if whole days without any event are normal for this product (a B2B tool's Sundays), allow them with {}; now {}.",
                        self.consequence, self.how_to_allow, self.allowed
                    ),
                }
                .into());
            }
            warn!(
                "the log's last event is on {}: {days} before this night ({}) {have} no event; is the export late?",
                format_date(last),
                format_date(as_of),
            );
        }
        let thin = if missing > 0 {
            None
        } else {
            thin_last_day(inputs, night_day)?
        };
        if let Some(line) = &thin {
            warn!("{line}");
        }
        let latest = inputs.subscriptions.as_ref().and_then(|s| s.latest_ts);
        if let Some(latest) = latest.filter(|&l| (as_of - l).div_euclid(DAY_MS) >= STALE_DAYS) {
            warn!(
                "the subscriptions table's latest date is {}, {} days before this night ({}): subscriptions that ended since are read as running; is the export late?",
                format_date(latest),
                (as_of - latest).div_euclid(DAY_MS),
                format_date(as_of)
            );
        }
        Ok(thin.is_some())
    }
}

/// A last day far thinner than the same weekday of the four weeks before (under a quarter
/// of their median, itself 100 events or more), or one that stops early: on those weekdays
/// 20 events or more (the median), and 5% of the day's or more, came after the time of
/// the log's last event. Either is a log cut during its last day, which the missing-days
/// check cannot see. A new user's log cut at 06:00 held 54 of the day's 3,075 events and
/// put 84 users on the list as new instead of 55; a game's hourly export missing its last
/// four hours put 46 evening players on it. With a shard, the counts are the shard's rows.
fn thin_last_day(inputs: &Inputs, night_day: i64) -> Result<Option<String>> {
    let ts = inputs.events.df.column("ts")?.i64()?;
    let day = |weeks_back: i64| (night_day - 1 - 7 * weeks_back) * DAY_MS;
    let stop = inputs.events.max_ts.rem_euclid(DAY_MS);
    // Per week back: the weekday's events, and those after the last event's time of day.
    let (mut counts, mut after) = ([0u64; 5], [0u64; 5]);
    for t in ts.iter().flatten() {
        let back = day(0) - t.div_euclid(DAY_MS) * DAY_MS;
        if back >= 0 && back % (7 * DAY_MS) == 0 && back / (7 * DAY_MS) < 5 {
            let k = (back / (7 * DAY_MS)) as usize;
            counts[k] += 1;
            after[k] += u64::from(t.rem_euclid(DAY_MS) > stop);
        }
    }
    let median = |n: &[u64; 5]| {
        let mut before = n[1..].to_vec();
        before.sort_unstable();
        (before[1] + before[2]) / 2
    };
    let (typical, late) = (median(&counts), median(&after));
    if typical < 100 {
        return Ok(None);
    }
    if counts[0] * 4 < typical {
        return Ok(Some(format!(
            "the log's last day ({}) has {} events, against {typical} on the same weekday of the four weeks before (median): is the export cut short during that day?",
            format_date(day(0)),
            counts[0]
        )));
    }
    // Events on the night's own day (a folder synced after midnight) show the day before
    // ran to its end: its early stop is only a question without them.
    let after_midnight = inputs.events.max_ts >= night_day * DAY_MS;
    if !after_midnight && late >= 20 && late * 20 >= typical {
        let hm = stop / 60_000;
        return Ok(Some(format!(
            "the log's last event is at {:02}:{:02} UTC on {}, and on the same weekday of the four weeks before {late} events of {typical} (median) came after that time: is the export cut short during that day (files of its last hours not yet landed)?",
            hm / 60,
            hm % 60,
            format_date(day(0)),
        )));
    }
    Ok(None)
}
