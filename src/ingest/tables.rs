//! Reading the users and subscriptions tables.

use std::collections::HashMap;
use std::path::Path;

use polars::prelude::*;

use super::checks::{set_aside, time_checks, Check};
use super::columns::{text, timestamp_expr};
use super::dedup::drop_repeats;
use super::files::{guarded, is_csv, open, Origin};
use super::{
    ReadPolicy, RejectClass, Rejects, Subscriptions, TimestampUnit, Users, CRM_COLUMNS, LINE,
};
use crate::error::{Error, Result};

/// Reads the users table: `user_id` and `signup_at` required, CRM columns optional. A
/// second row for a user is set aside (the first is kept).
pub fn load_users(path: &Path, policy: &ReadPolicy, rejects: &mut Rejects) -> Result<Users> {
    let mut wanted = vec!["user_id", "signup_at"];
    wanted.extend(CRM_COLUMNS);
    let (lf, schema) = open(path, &wanted, &["user_id", "signup_at"], policy, rejects)?;
    let mut exprs = vec![
        text(path, &schema, "user_id")?,
        timestamp_expr(path, &schema, "signup_at", TimestampUnit::Auto)?.alias("signup_ts"),
        col("signup_at"),
        col(LINE),
    ];
    let mut raw = vec!["user_id", "signup_at"];
    for name in CRM_COLUMNS {
        if schema.contains(name) {
            exprs.push(text(path, &schema, name)?);
            raw.push(name);
        } else {
            exprs.push(lit(NULL).cast(DataType::String).alias(name));
        }
    }
    let df = select_rows(lf, exprs, path, rejects)?;
    let mut checks = vec![Check::missing("user_id"), Check::empty("signup_at")];
    checks.extend(time_checks("signup_ts", "signup_at", policy));
    let df = set_aside(df, Origin::single(path), &checks, &raw, rejects)?;
    let df = drop_repeats(
        df,
        Origin::single(path),
        &["user_id"],
        RejectClass::DuplicateUser,
        "same user_id as line",
        &raw,
        rejects,
    )?;
    let mut keep = vec!["user_id", "signup_ts"];
    keep.extend(CRM_COLUMNS);
    Ok(Users {
        df: df.select(keep)?,
    })
}

/// Reads the subscriptions table: `user_id`, `start_date`, `end_date` (empty while active).
pub fn load_subscriptions(
    path: &Path,
    policy: &ReadPolicy,
    rejects: &mut Rejects,
) -> Result<Subscriptions> {
    let required = ["user_id", "start_date", "end_date"];
    let (lf, schema) = open(path, &required, &required, policy, rejects)?;
    let exprs = vec![
        text(path, &schema, "user_id")?,
        timestamp_expr(path, &schema, "start_date", TimestampUnit::Auto)?.alias("start_ts"),
        col("start_date"),
        timestamp_expr(path, &schema, "end_date", TimestampUnit::Auto)?.alias("end_ts"),
        col("end_date"),
        col(LINE),
    ];
    let df = select_rows(lf, exprs, path, rejects)?;
    let mut checks = vec![Check::missing("user_id"), Check::empty("start_date")];
    checks.extend(time_checks("start_ts", "start_date", policy));
    // An empty end date means "still active"; anything else must parse.
    checks.push(Check::new(
        col("end_date").is_not_null().and(col("end_ts").is_null()),
        RejectClass::UnparseableTimestamp,
        "end_date",
        "not ISO-8601 or epoch seconds/milliseconds",
    ));
    checks.push(Check::new(
        col("end_ts").lt(lit(0i64)),
        RejectClass::Before1970,
        "end_date",
        "before 1970-01-01",
    ));
    checks.push(Check::new(
        col("end_ts").lt(col("start_ts")),
        RejectClass::EndBeforeStart,
        "end_date",
        "before the start_date",
    ));
    let df = set_aside(df, Origin::single(path), &checks, &required, rejects)?;
    Subscriptions::from_rows(&df)
}

/// Days a subscription may lapse and still count as renewed, not churned: a row starting
/// within this many days of the end of the user's row before continues its period (as
/// *Fighting Churn with Data* joins subscriptions into active periods; a payment retry or
/// an inclusive end date leaves such a gap).
pub const RENEWAL_GAP_DAYS: i64 = 7;

impl Subscriptions {
    /// Joins the rows (`user_id`, `start_ts`, `end_ts`: null = running) into active
    /// periods per user: sorted by start, a row starting by the current period's end plus
    /// [`RENEWAL_GAP_DAYS`] extends it (a running row makes it running), any other row
    /// opens a new one. The rows' starts are kept for [`Renewals`].
    pub fn from_rows(df: &DataFrame) -> Result<Self> {
        let users = df.column("user_id")?.str()?;
        let starts = df.column("start_ts")?.i64()?;
        let ends = df.column("end_ts")?.i64()?;
        let mut rows: Vec<(&str, i64, Option<i64>)> = (0..df.height())
            .filter_map(|i| Some((users.get(i)?, starts.get(i)?, ends.get(i))))
            .collect();
        rows.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        let gap = RENEWAL_GAP_DAYS * crate::base::time::DAY_MS;
        let mut periods: Vec<(&str, i64, Option<i64>)> = Vec::with_capacity(rows.len());
        // Start-to-start intervals of rows that renew one another: the billing cycle.
        let mut intervals: Vec<i64> = Vec::new();
        let mut row_starts: HashMap<String, Vec<i64>> = HashMap::new();
        // The start of the row before (the same user's whenever a row joins a period).
        let mut previous_start = 0;
        for &(user, start, end) in &rows {
            match periods.last_mut() {
                Some((u, _, last))
                    if *u == user && last.is_none_or(|e| start <= e.saturating_add(gap)) =>
                {
                    *last = last.zip(end).map(|(a, b)| a.max(b));
                    intervals.push(start - previous_start);
                }
                _ => periods.push((user, start, end)),
            }
            previous_start = start;
            match row_starts.get_mut(user) {
                Some(v) => v.push(start),
                None => {
                    row_starts.insert(user.to_string(), vec![start]);
                }
            }
        }
        let typical = median(&mut intervals)
            .and_then(Cycle::from_interval)
            .unwrap_or(Cycle::Months(1));
        let periods = df!(
            "user_id" => periods.iter().map(|p| p.0).collect::<Vec<_>>(),
            "start_ts" => periods.iter().map(|p| p.1).collect::<Vec<_>>(),
            "end_ts" => periods.iter().map(|p| p.2).collect::<Vec<_>>(),
        )?;
        Ok(Subscriptions {
            df: periods,
            rows: df.height(),
            renewals: Renewals {
                starts: row_starts,
                typical,
                intervals: intervals.len(),
            },
        })
    }
}

/// The middle value (the lower of the two middle ones for an even count).
fn median(values: &mut [i64]) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    let mid = (values.len() - 1) / 2;
    Some(*values.select_nth_unstable(mid).1)
}

/// How often a subscription renews: every `n` calendar months, or every `n` days for a
/// cycle shorter than a month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cycle {
    Months(u32),
    Days(u32),
}

impl Cycle {
    /// The cycle a start-to-start interval shows: whole calendar months from 26 days on
    /// (28 to 31 days is one month), whole days from 7 days; none below a week (rows
    /// restarted within days, or overlapping, show no cycle).
    pub fn from_interval(ms: i64) -> Option<Cycle> {
        let days = ms as f64 / crate::base::time::DAY_MS as f64;
        if days >= 26.0 {
            Some(Cycle::Months(((days / 30.436875).round() as u32).max(1)))
        } else if days >= 7.0 {
            Some(Cycle::Days(days.round() as u32))
        } else {
            None
        }
    }

    /// The first renewal after `t` of a subscription (re)started at `start` (≤ `t`): `start`
    /// plus a whole number of cycles, counted from `start`; none past the calendar's range.
    pub fn next_after(self, start: i64, t: i64) -> Option<i64> {
        use chrono::{DateTime, Datelike, Months};
        match self {
            Cycle::Days(d) => {
                let step = d as i64 * crate::base::time::DAY_MS;
                let k = (t.checked_sub(start)?.div_euclid(step) + 1).max(1);
                start.checked_add(k.checked_mul(step)?)
            }
            Cycle::Months(m) => {
                let from = DateTime::from_timestamp_millis(start)?;
                let to = DateTime::from_timestamp_millis(t)?;
                let apart = (to.year() as i64 - from.year() as i64) * 12 + to.month() as i64
                    - from.month() as i64;
                // One or two cycles before the answer, then step: a month added to the
                // 31st ends on the month's last day.
                let mut k = (apart / m as i64 - 1).max(1);
                loop {
                    let months = u32::try_from(k.checked_mul(m as i64)?).ok()?;
                    let next = from.checked_add_months(Months::new(months))?;
                    if next.timestamp_millis() > t {
                        return Some(next.timestamp_millis());
                    }
                    k += 1;
                }
            }
        }
    }
}

impl std::fmt::Display for Cycle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cycle::Months(1) => write!(f, "every month"),
            Cycle::Months(12) => write!(f, "every year"),
            Cycle::Months(n) => write!(f, "every {n} months"),
            Cycle::Days(n) => write!(f, "every {n} days"),
        }
    }
}

/// When subscriptions renew, read off the table's start dates only (an end date may have
/// been written when the subscription ended, after the date a feature looks from; a start
/// is known from that day on). A user's cycle is the interval between the last two rows
/// of their active period that started by then (a billing export's row per period); with
/// one row, the table's typical cycle (the median such interval over every user), and
/// every month in a table of one row per subscription.
#[derive(Debug, Clone)]
pub struct Renewals {
    /// Each user's row starts, sorted.
    starts: HashMap<String, Vec<i64>>,
    /// The table's typical cycle.
    pub typical: Cycle,
    /// Start-to-start intervals of rows renewing one another the typical cycle comes from.
    pub intervals: usize,
}

impl Renewals {
    /// How renewals are dated, for `train`'s summary and the model file.
    pub fn describe(&self) -> String {
        if self.intervals == 0 {
            return format!(
                "no subscriber has two rows that renew one another, so each subscription renews {} from its start",
                self.typical
            );
        }
        format!(
            "a subscriber's next renewal is their latest row's start plus their own cycle (the interval between their last two rows), else the table's: {} (the median of {} such intervals)",
            self.typical, self.intervals
        )
    }

    /// The next renewal after `t` of `user`'s active period that started at
    /// `period_start` and is running at `t`; none for a user without a row started by `t`.
    pub fn next_after(&self, user: &str, period_start: i64, t: i64) -> Option<i64> {
        let starts = self.starts.get(user)?;
        let i = starts.partition_point(|&s| s <= t);
        let last = *starts.get(i.checked_sub(1)?)?;
        let own = i
            .checked_sub(2)
            .and_then(|j| starts.get(j))
            .filter(|&&before| before >= period_start)
            .and_then(|&before| Cycle::from_interval(last - before));
        own.unwrap_or(self.typical).next_after(last, t)
    }
}

/// Evaluates `exprs` over the opened file; fails on a file without rows and records the
/// rows read of a Parquet file (the CSV reader records its own).
fn select_rows(
    lf: LazyFrame,
    exprs: Vec<Expr>,
    path: &Path,
    rejects: &mut Rejects,
) -> Result<DataFrame> {
    let df = if is_csv(path) {
        lf.select(exprs).collect()?
    } else {
        guarded(path, || Ok(lf.select(exprs).collect()?))?
    };
    if df.height() == 0 {
        return Err(Error::EmptyInput { path: path.into() });
    }
    if !is_csv(path) {
        rejects.rows_read(path, df.height() as u64);
    }
    Ok(df)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::time::{parse_timestamp, DAY_MS};

    fn ts(s: &str) -> i64 {
        parse_timestamp(s).unwrap()
    }

    #[test]
    fn cycles_from_intervals() {
        let cycle = |days: i64| Cycle::from_interval(days * DAY_MS);
        assert_eq!(cycle(6), None);
        assert_eq!(cycle(7), Some(Cycle::Days(7)));
        assert_eq!(cycle(14), Some(Cycle::Days(14)));
        assert_eq!(cycle(28), Some(Cycle::Months(1)));
        assert_eq!(cycle(31), Some(Cycle::Months(1)));
        assert_eq!(cycle(92), Some(Cycle::Months(3)));
        assert_eq!(cycle(365), Some(Cycle::Months(12)));
        assert_eq!(cycle(366), Some(Cycle::Months(12)));
        assert_eq!(Cycle::Months(12).to_string(), "every year");
    }

    #[test]
    fn next_renewal_dates() {
        let monthly = Cycle::Months(1);
        let cases = [
            // A start on the 31st renews on each month's last day, counted from the start.
            (monthly, "2026-01-31", "2026-02-10", "2026-02-28"),
            (monthly, "2026-01-31", "2026-03-01", "2026-03-31"),
            // T on a renewal day: the next one.
            (monthly, "2025-06-05", "2026-04-05", "2026-05-05"),
            (monthly, "2026-04-05", "2026-04-05", "2026-05-05"),
            (Cycle::Months(12), "2024-02-29", "2026-01-10", "2026-02-28"),
            (Cycle::Days(7), "2026-01-01", "2026-01-08", "2026-01-15"),
            (
                Cycle::Days(7),
                "2026-01-01T12:00:00Z",
                "2026-01-01T13:00:00Z",
                "2026-01-08T12:00:00Z",
            ),
        ];
        for (cycle, start, t, want) in cases {
            assert_eq!(
                cycle.next_after(ts(start), ts(t)),
                Some(ts(want)),
                "{start} {t}"
            );
        }
        // Out of the calendar's range: no date, no panic.
        assert_eq!(monthly.next_after(i64::MAX - DAY_MS, i64::MAX - 1), None);
        assert_eq!(
            Cycle::Days(7).next_after(i64::MAX - DAY_MS, i64::MAX - 1),
            None
        );
    }

    #[test]
    fn renewals_follow_each_users_rows() {
        // u: yearly rows; v: one row (the table's cycle: u's year); w: rows restarted
        // within days (no cycle of its own: the table's).
        let rows = df!(
            "user_id" => ["u", "u", "v", "w", "w"],
            "start_ts" => ["2024-03-01", "2025-03-01", "2025-07-15", "2025-11-01", "2025-11-03"].map(ts),
            "end_ts" => [Some("2025-03-01"), None, None, Some("2025-11-04"), None].map(|d| d.map(ts)),
        )
        .unwrap();
        let subs = Subscriptions::from_rows(&rows).unwrap();
        let r = &subs.renewals;
        // Intervals: u's 365 days and w's 2 (below a week, but the median of two is the
        // lower one: 2 days, no cycle), so the table falls back to every month.
        assert_eq!(r.typical, Cycle::Months(1));
        let t = ts("2026-01-10");
        assert_eq!(
            r.next_after("u", ts("2024-03-01"), t),
            Some(ts("2026-03-01"))
        );
        assert_eq!(
            r.next_after("v", ts("2025-07-15"), t),
            Some(ts("2026-01-15"))
        );
        // w: monthly from its latest start, 11-03 (12-03 and 01-03 are before t).
        assert_eq!(
            r.next_after("w", ts("2025-11-01"), t),
            Some(ts("2026-02-03"))
        );
        assert!(r
            .describe()
            .contains("the table's: every month (the median of 2 such intervals)"));
        // No row started by t, or an unknown user: none.
        assert_eq!(r.next_after("v", ts("2025-07-15"), ts("2025-07-01")), None);
        assert_eq!(r.next_after("x", 0, t), None);
    }
}
