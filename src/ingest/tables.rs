//! Reading the users and subscriptions tables.

use std::collections::HashMap;
use std::path::Path;

use polars::prelude::*;

use super::billing::{stated_cycle, Resolved, SubscriptionColumns, NEVER_STARTED};
use super::checks::{set_aside, time_checks, Check};
use super::columns::{apply_column_arguments, column_position, text, timestamp_expr};
use super::dedup::drop_repeats;
use super::files::{guarded, is_csv, open, table_header, Origin};
use super::reader::split_by_another;
use super::{
    ReadPolicy, RejectClass, Rejects, Shard, Subscriptions, TimestampUnit, Unread, Users,
    CRM_COLUMNS, LINE,
};
use crate::error::{Error, Result};

/// `[inputs.user_columns]` (and `--user-column FIELD=COLUMN`): the users table's column
/// for each field, when it is not named as the field (a company's table: `id`,
/// `created_at`, `company_name`). A column named here must be in the table.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserColumns {
    pub user_id: Option<String>,
    pub signup_at: Option<String>,
    pub email: Option<String>,
    pub crm_id: Option<String>,
    pub account: Option<String>,
    pub plan: Option<String>,
}

impl UserColumns {
    const FIELDS: [&'static str; 6] =
        ["user_id", "signup_at", "email", "crm_id", "account", "plan"];

    fn get(&self, field: &str) -> Option<&str> {
        match field {
            "user_id" => self.user_id.as_deref(),
            "signup_at" => self.signup_at.as_deref(),
            "email" => self.email.as_deref(),
            "crm_id" => self.crm_id.as_deref(),
            "account" => self.account.as_deref(),
            "plan" => self.plan.as_deref(),
            _ => None,
        }
    }

    /// The table's column for `field`.
    fn source<'a>(&'a self, field: &'a str) -> &'a str {
        self.get(field).unwrap_or(field)
    }

    /// The place of `field`'s column (`None`: no such field).
    fn slot<'a>(&'a mut self, field: &str) -> Option<&'a mut Option<String>> {
        match field {
            "user_id" => Some(&mut self.user_id),
            "signup_at" => Some(&mut self.signup_at),
            "email" => Some(&mut self.email),
            "crm_id" => Some(&mut self.crm_id),
            "account" => Some(&mut self.account),
            "plan" => Some(&mut self.plan),
            _ => None,
        }
    }

    /// These columns with `FIELD=COLUMN` arguments over them (the command line wins).
    pub fn with_arguments(mut self, args: &[String]) -> Result<Self> {
        apply_column_arguments(&mut self, args, "user column", &Self::FIELDS, Self::slot)?;
        Ok(self)
    }
}

/// Reads the users table: `user_id` and `signup_at` required, CRM columns optional, each
/// under its own name or the column `columns` names. A second row for a user is set aside
/// (the first is kept): a copy as a duplicate, one that differs as a conflict (a loss).
pub fn load_users(
    path: &Path,
    columns: &UserColumns,
    policy: &ReadPolicy,
    rejects: &mut Rejects,
) -> Result<Users> {
    let header = table_header(path, policy)?;
    for field in UserColumns::FIELDS {
        let source = columns.source(field);
        let required = matches!(field, "user_id" | "signup_at");
        let named = columns.get(field).is_some();
        if (required || named) && column_position(&header, source).is_none() {
            let found = header.join(", ");
            return Err(if named {
                Error::MappedColumnMissing {
                    path: path.into(),
                    column: source.to_string(),
                    found,
                }
            } else {
                Error::MissingUsersColumn {
                    path: path.into(),
                    field,
                    found,
                }
            });
        }
    }
    let (user, signup) = (columns.source("user_id"), columns.source("signup_at"));
    let mut wanted = vec![user, signup];
    wanted.extend(CRM_COLUMNS.iter().map(|c| columns.source(c)));
    let (lf, schema) = open(path, &wanted, &[user, signup], policy, rejects)?;
    let mut exprs = vec![
        text(path, &schema, user)?.alias("user_id"),
        timestamp_expr(path, &schema, signup, TimestampUnit::Auto)?.alias("signup_ts"),
        col(signup).alias("signup_at"),
        col(LINE),
    ];
    let mut raw = vec!["user_id", "signup_at"];
    for name in CRM_COLUMNS {
        let source = columns.source(name);
        if schema.contains(source) {
            exprs.push(text(path, &schema, source)?.alias(name));
            raw.push(name);
        } else {
            exprs.push(lit(NULL).cast(DataType::String).alias(name));
        }
    }
    let df = select_rows(lf, exprs, path, rejects)?;
    let (df, dates_read) = slash_dates(df, path)?;
    let mut checks = vec![Check::missing("user_id"), Check::empty("signup_at")];
    checks.extend(time_checks("signup_ts", "signup_at", policy));
    let df = set_aside(df, Origin::single(path), &checks, &raw, rejects)?;
    // A copy of a user's row loses nothing; a second row that says something else (another
    // email, CRM id, plan) loses what it says, and is counted as such.
    let df = drop_repeats(
        df,
        Origin::single(path),
        &raw,
        RejectClass::DuplicateUser,
        "a copy of line",
        &raw,
        rejects,
    )?;
    let df = drop_repeats(
        df,
        Origin::single(path),
        &["user_id"],
        RejectClass::ConflictingUser,
        "same user_id, other cells, as line",
        &raw,
        rejects,
    )?;
    let mut keep = vec!["user_id", "signup_ts"];
    keep.extend(CRM_COLUMNS);
    Ok(Users {
        df: df.select(keep)?,
        dates_read,
    })
}

/// Signup dates a CRM report writes in its locale's order (Salesforce's US export:
/// `12/28/2024 8:48 AM`), read where ISO-8601 did not: month first when some cell's second
/// number passes 12, day first when some first one does — decided by the column, never by a
/// cell. A column that shows neither (or both) is left unread: its rows are set aside as
/// unparseable, with the advice to export ISO-8601.
fn slash_dates(df: DataFrame, path: &Path) -> Result<(DataFrame, Option<String>)> {
    let raw = df.column("signup_at")?.cast(&DataType::String)?;
    let raw = raw.str()?;
    let parsed = df.column("signup_ts")?.i64()?;
    // (first, second, year, the rest) of each unread cell that is a slash date.
    let split = |text: &str| -> Option<(u32, u32, String)> {
        let text = text.trim();
        let (date, _) = text.split_once(' ').unwrap_or((text, ""));
        let mut parts = date.split('/');
        let (a, b, y) = (parts.next()?, parts.next()?, parts.next()?);
        let number = |p: &str, len: std::ops::RangeInclusive<usize>| {
            (len.contains(&p.len()) && p.bytes().all(|c| c.is_ascii_digit()))
                .then(|| p.parse::<u32>().ok())
                .flatten()
        };
        let (a, b) = (number(a, 1..=2)?, number(b, 1..=2)?);
        number(y, 4..=4)?;
        (parts.next().is_none()).then(|| (a, b, text.to_string()))
    };
    let unread: Vec<(usize, (u32, u32, String))> = raw
        .iter()
        .zip(parsed.iter())
        .enumerate()
        .filter_map(|(i, (r, t))| Some((i, split(r.filter(|_| t.is_none())?)?)))
        .collect();
    if unread.is_empty() {
        return Ok((df, None));
    }
    let day_first = unread.iter().any(|(_, (a, _, _))| *a > 12);
    let month_first = unread.iter().any(|(_, (_, b, _))| *b > 12);
    let date = match (month_first, day_first) {
        (true, false) => "%m/%d/%Y",
        (false, true) => "%d/%m/%Y",
        _ => return Ok((df, None)),
    };
    let parse = |text: &str| {
        let date_only = chrono::NaiveDate::parse_from_str(text, date)
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0));
        date_only
            .or_else(|| {
                ["%I:%M %p", "%I:%M:%S %p", "%H:%M", "%H:%M:%S"]
                    .iter()
                    .find_map(|time| {
                        chrono::NaiveDateTime::parse_from_str(text, &format!("{date} {time}")).ok()
                    })
            })
            .map(|dt| dt.and_utc().timestamp_millis())
    };
    let mut ts: Vec<Option<i64>> = parsed.iter().collect();
    let mut read = 0;
    for (i, (_, _, text)) in &unread {
        if let Some(ms) = parse(text) {
            ts[*i] = Some(ms);
            read += 1;
        }
    }
    let said = format!(
        "{}: {read} signup dates read {} (a CRM report's own order, e.g. {:?}; taken as UTC)",
        path.display(),
        if month_first {
            "month first"
        } else {
            "day first"
        },
        unread[0].1 .2
    );
    let mut df = df;
    df.with_column(Column::new("signup_ts".into(), ts))?;
    Ok((df, Some(said)))
}

/// Reads the subscriptions table: `user_id`, `start_date`, `end_date` (empty while active),
/// and optionally a plan's `interval` (and `interval_count`), `status`, `trial_end` and
/// `canceled_at` — under these names, the names billing exports use, or as `columns` maps them
/// ([`billing`](super::billing)). Rows of a subscription that never started (Stripe's
/// `incomplete`, `incomplete_expired`) are left out and counted.
pub fn load_subscriptions(
    path: &Path,
    columns: &SubscriptionColumns,
    policy: &ReadPolicy,
    rejects: &mut Rejects,
) -> Result<Subscriptions> {
    let header = table_header(path, policy)?;
    // A table of one column is read with the wrong delimiter, whatever a mapping names.
    if let [one] = header.as_slice() {
        let delimiter = policy.delimiter.unwrap_or(b',');
        let fits = |parts: &[String]| columns.resolve(path, parts).is_ok();
        if let Some(e) = split_by_another(path, one, delimiter, fits) {
            return Err(e);
        }
    }
    let resolved = columns.resolve(path, &header)?;
    let read = resolved.all();
    let (lf, schema) = open(path, &read, &read, policy, rejects)?;
    // `resolve` found every required field.
    let source = |field: &'static str| resolved.column(field).unwrap_or(field);
    let (user, start, end) = (source("user_id"), source("start_date"), source("end_date"));
    let mut exprs = vec![
        text(path, &schema, user)?.alias("user_id"),
        timestamp_expr(path, &schema, start, TimestampUnit::Auto)?.alias("start_ts"),
        col(start).alias("start_date"),
        timestamp_expr(path, &schema, end, TimestampUnit::Auto)?.alias("end_ts"),
        col(end).alias("end_date"),
        col(LINE),
    ];
    for field in ["interval", "interval_count", "status"] {
        if let Some(c) = resolved.column(field) {
            exprs.push(text(path, &schema, c)?.alias(field));
        }
    }
    // A trial end or cancellation time that does not parse is none for its row (counted
    // in `unread`); nothing else reads them.
    for (field, name) in OPTIONAL_TIMES {
        if let Some(c) = resolved.column(field) {
            exprs.push(timestamp_expr(path, &schema, c, TimestampUnit::Auto)?.alias(name));
            exprs.push(col(c).cast(DataType::String).alias(field));
        }
    }
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
    let raw = ["user_id", "start_date", "end_date"];
    let df = set_aside(df, Origin::single(path), &checks, &raw, rejects)?;
    let (df, never_started) = drop_never_started(df)?;
    let mut subs = Subscriptions::from_rows(&df)?;
    subs.never_started = never_started;
    subs.unread = unread_cells(&df, &resolved)?;
    subs.columns = resolved;
    subs.path = path.into();
    Ok(subs)
}

/// The optional time fields and the column their parsed value is kept in.
const OPTIONAL_TIMES: [(&str, &str); 4] = [
    ("trial_end", "trial_end_ts"),
    ("canceled_at", "canceled_ts"),
    ("current_period_start", "period_start_ts"),
    ("current_period_end", "period_end_ts"),
];

/// Optional cells that hold something churnrisk cannot read: a `trial_end` or
/// `canceled_at` that is not a date, an `interval` (with its `interval_count`) that is not
/// a plan's interval. Their rows are kept and read without them.
fn unread_cells(df: &DataFrame, resolved: &Resolved) -> Result<Vec<Unread>> {
    fn given(s: Option<&str>) -> Option<&str> {
        s.filter(|s| !s.trim().is_empty())
    }
    let mut unread = Vec::new();
    let mut note = |field: &'static str, bad: Vec<&str>| {
        if let (Some(example), Some(column)) = (bad.first(), resolved.column(field)) {
            unread.push(Unread {
                field,
                column: column.to_string(),
                rows: bad.len(),
                example: example.to_string(),
            });
        }
    };
    for (field, parsed) in OPTIONAL_TIMES {
        let (Ok(raw), Ok(ts)) = (df.column(field), df.column(parsed)) else {
            continue;
        };
        let (raw, ts) = (raw.str()?, ts.i64()?);
        let bad = raw
            .iter()
            .zip(ts.iter())
            .filter_map(|(r, t)| given(r).filter(|_| t.is_none()))
            .collect();
        note(field, bad);
    }
    if let Ok(interval) = df.column("interval") {
        let count = df
            .column("interval_count")
            .ok()
            .map(|c| c.str())
            .transpose()?;
        let bad = interval
            .str()?
            .iter()
            .enumerate()
            .filter_map(|(i, iv)| {
                let iv = given(iv)?;
                let n = count.and_then(|c| c.get(i));
                stated_cycle(iv, n).is_none().then_some(iv)
            })
            .collect();
        note("interval", bad);
    }
    Ok(unread)
}

/// The rows whose `status` says the subscription never started ([`NEVER_STARTED`]), taken
/// out and counted.
fn drop_never_started(df: DataFrame) -> Result<(DataFrame, usize)> {
    let Ok(status) = df.column("status") else {
        return Ok((df, 0));
    };
    let keep: BooleanChunked = status
        .str()?
        .iter()
        .map(|s| {
            let s = s.unwrap_or_default().trim().to_ascii_lowercase();
            !NEVER_STARTED.contains(&s.as_str())
        })
        .collect();
    let dropped = keep.iter().filter(|k| *k == Some(false)).count();
    if dropped == 0 {
        return Ok((df, 0));
    }
    Ok((df.filter(&keep)?, dropped))
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
        let text = |name: &str| df.column(name).ok().map(|c| c.str()).transpose();
        let (interval, count) = (text("interval")?, text("interval_count")?);
        let status = text("status")?;
        let time = |name: &str| df.column(name).ok().map(|c| c.i64()).transpose();
        let (trial_ends, canceled) = (time("trial_end_ts")?, time("canceled_ts")?);
        let (period_starts, period_ends) = (time("period_start_ts")?, time("period_end_ts")?);
        let mut rows: Vec<(&str, Billed)> = (0..df.height())
            .filter_map(|i| {
                let start = starts.get(i)?;
                let billed = Billed {
                    start,
                    // Billing starts when a trial ends.
                    anchor: trial_ends
                        .and_then(|t| t.get(i))
                        .filter(|&t| t > start)
                        .unwrap_or(start),
                    cycle: interval
                        .and_then(|c| c.get(i))
                        .and_then(|iv| stated_cycle(iv, count.and_then(|c| c.get(i)))),
                    canceled: canceled.and_then(|c| c.get(i)),
                    end: ends.get(i),
                    paused: status
                        .and_then(|c| c.get(i))
                        .is_some_and(|s| s.trim().eq_ignore_ascii_case("paused")),
                    period_start: period_starts.and_then(|c| c.get(i)),
                    period_end: period_ends.and_then(|c| c.get(i)),
                };
                Some((users.get(i)?, billed))
            })
            .collect();
        rows.sort_by(|a, b| (a.0, a.1.start).cmp(&(b.0, b.1.start)));
        let gap = RENEWAL_GAP_DAYS * crate::base::time::DAY_MS;
        let mut periods: Vec<(&str, i64, Option<i64>)> = Vec::with_capacity(rows.len());
        // Start-to-start intervals of rows that renew one another, the current user's, and
        // each user's median: the billing cycle. A weekly plan's rows outnumber an annual
        // plan's 52 to 1, so the table's typical cycle is the median over subscribers.
        let (mut own, mut intervals): (Vec<i64>, Vec<i64>) = (Vec::new(), Vec::new());
        let mut billed: HashMap<String, Vec<Billed>> = HashMap::new();
        // The start of the row before (the same user's whenever a row joins a period).
        let mut previous_start = 0;
        for (i, &(user, row)) in rows.iter().enumerate() {
            let (start, end) = (row.start, row.end);
            if i > 0 && rows[i - 1].0 != user {
                intervals.extend(median(&mut own));
                own.clear();
            }
            match periods.last_mut() {
                Some((u, _, last))
                    if *u == user && last.is_none_or(|e| start <= e.saturating_add(gap)) =>
                {
                    *last = last.zip(end).map(|(a, b)| a.max(b));
                    own.push(start - previous_start);
                }
                _ => periods.push((user, start, end)),
            }
            previous_start = start;
            match billed.get_mut(user) {
                Some(v) => v.push(row),
                None => {
                    billed.insert(user.to_string(), vec![row]);
                }
            }
        }
        intervals.extend(median(&mut own));
        // The current periods' lengths state the cycle outright (a Recurly export of weekly
        // boxes has no interval column): their median is the table's. It is every
        // subscriber's, running or ended, since only a running one's row has a current
        // period: a cycle read off that row alone would tell the survivors in training.
        let mut lengths: Vec<i64> = rows
            .iter()
            .filter_map(|(_, r)| Some(r.period_end? - r.period_start?))
            .filter(|&l| l > 0)
            .collect();
        let lengths_n = lengths.len();
        let typical = median(&mut lengths)
            .or_else(|| median(&mut intervals))
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
            never_started: 0,
            unread: Vec::new(),
            columns: Resolved::own(),
            path: Default::default(),
            latest_ts: rows
                .iter()
                .flat_map(|(_, r)| [Some(r.start), r.end, r.canceled])
                .flatten()
                .max(),
            renewals: Renewals {
                stated: rows.iter().filter(|r| r.1.cycle.is_some()).count(),
                periods: rows.iter().filter(|r| r.1.period_end.is_some()).count(),
                lengths: lengths_n,
                requests: rows.iter().filter(|r| r.1.canceled.is_some()).count(),
                rows: rows.len(),
                billed,
                typical,
                intervals: intervals.len(),
            },
        })
    }
}

/// How many of a table's subscribers the log knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlap {
    /// Distinct users of the table (of its shard, when read for one).
    pub subscribers: usize,
    /// Those with no event in the log.
    pub without_events: usize,
    /// A subscriber without events and a user of the log, for a message.
    pub example: Option<(String, String)>,
}

impl Subscriptions {
    /// The optional fields that date renewals, trials and cancellation requests which the
    /// table has a column for: a model trained on them needs them to score.
    pub fn dating_fields(&self) -> Vec<String> {
        [
            "interval",
            "trial_end",
            "canceled_at",
            "current_period_start",
            "current_period_end",
        ]
        .into_iter()
        .filter(|f| self.columns.column(f).is_some())
        .map(String::from)
        .collect()
    }

    /// The table's column of user ids.
    pub fn user_column(&self) -> &str {
        self.columns.column("user_id").unwrap_or("user_id")
    }

    /// The subscribers `shard` holds, as a worker scoring that shard of the log reads them;
    /// the table's typical cycle stays the whole table's, so every shard dates renewals as
    /// one unsharded run does.
    pub fn in_shard(mut self, shard: Shard) -> Result<Self> {
        self.df = self
            .df
            .lazy()
            .filter(shard.mask(col("user_id")))
            .collect()?;
        self.renewals
            .billed
            .retain(|user, _| shard.holds(Some(user)));
        Ok(self)
    }

    /// How many of the subscribers have events in `events` (a shard's worker: of its own,
    /// [`Subscriptions::in_shard`]); `None` when the log has no grouping to look users up in.
    pub fn overlap(&self, events: &super::Events) -> Result<Option<Overlap>> {
        let Some(groups) = events.groups.as_ref() else {
            return Ok(None);
        };
        let mut seen = std::collections::HashSet::new();
        let (mut without, mut example) = (0, None);
        for user in self.df.column("user_id")?.str()?.iter().flatten() {
            if !seen.insert(user) {
                continue;
            }
            if !groups.users.contains_key(user) {
                without += 1;
                if example.is_none() {
                    example = groups
                        .users
                        .keys()
                        .next()
                        .map(|e| (user.to_string(), e.clone()));
                }
            }
        }
        Ok(Some(Overlap {
            subscribers: seen.len(),
            without_events: without,
            example,
        }))
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

impl Cycle {
    /// The fewest milliseconds one cycle can last (a month of 28 days).
    pub fn shortest_ms(self) -> i64 {
        let days = match self {
            Cycle::Days(d) => i64::from(d),
            Cycle::Months(m) => 28 * i64::from(m),
        };
        days * crate::base::time::DAY_MS
    }

    /// The first date after `t` of the renewals through `grid`: `grid` plus or minus a
    /// whole number of cycles (a date before `grid` counts back from it); none past the
    /// calendar's range.
    pub fn on_grid_after(self, grid: i64, t: i64) -> Option<i64> {
        use chrono::{DateTime, Datelike, Months};
        match self {
            Cycle::Days(d) => {
                let step = d as i64 * crate::base::time::DAY_MS;
                let k = t.checked_sub(grid)?.div_euclid(step) + 1;
                grid.checked_add(k.checked_mul(step)?)
            }
            Cycle::Months(m) => {
                let from = DateTime::from_timestamp_millis(grid)?;
                let to = DateTime::from_timestamp_millis(t)?;
                let apart = (to.year() as i64 - from.year() as i64) * 12 + to.month() as i64
                    - from.month() as i64;
                let mut k = apart.div_euclid(m as i64) - 1;
                loop {
                    let months = u32::try_from(k.checked_mul(m as i64)?.unsigned_abs()).ok()?;
                    let date = if k >= 0 {
                        from.checked_add_months(Months::new(months))?
                    } else {
                        from.checked_sub_months(Months::new(months))?
                    };
                    if date.timestamp_millis() > t {
                        return Some(date.timestamp_millis());
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

/// What a row says of its billing: when it started, when billing is counted from (the
/// end of a trial, else the start), the plan's stated cycle and when a cancellation was
/// asked for, if the table has them, and its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Billed {
    start: i64,
    anchor: i64,
    cycle: Option<Cycle>,
    canceled: Option<i64>,
    end: Option<i64>,
    /// The billing period running at the export: its end is the next renewal for a date
    /// inside it (a subscription reactivated under its id, or moved to another billing
    /// day, no longer renews on its start's grid). Only a running subscription's row has
    /// one, so it says nothing of earlier dates: the training panel's would tell the
    /// survivors.
    period_start: Option<i64>,
    period_end: Option<i64>,
    /// Its status says paused (Recurly's, Chargebee's, Stripe's `paused`): a status at the
    /// export, for the list only.
    paused: bool,
}

/// When subscriptions renew, read off what is known from a row's start: its start date, a
/// trial's end and the plan's interval (an end date may have been written when the
/// subscription ended, after the date a feature looks from). A user's cycle is the one
/// their latest row states; else the interval between the last two rows of their active
/// period that started by then (a billing export's row per period); with one row, the
/// table's typical cycle (the median over subscribers of each one's median such interval),
/// and every month in a table of one row per subscription. The same rows say whether a
/// trial runs and whether a cancellation is pending at a date.
#[derive(Debug, Clone)]
pub struct Renewals {
    /// Each user's rows, sorted by start.
    billed: HashMap<String, Vec<Billed>>,
    /// The table's typical cycle.
    pub typical: Cycle,
    /// Subscribers with rows renewing one another, whose own cycles the typical one is the
    /// median of.
    pub intervals: usize,
    /// Rows stating their plan's interval, of `rows`.
    pub stated: usize,
    /// Rows stating their current billing period's end, of `rows`.
    pub periods: usize,
    /// Current periods (start and end) whose median length is the table's cycle.
    pub lengths: usize,
    /// Rows with the time a cancellation was asked for.
    pub requests: usize,
    pub rows: usize,
}

impl Renewals {
    /// How renewals are dated, for `train`'s summary and the model file.
    pub fn describe(&self) -> String {
        let requests = match self.requests {
            0 => String::new(),
            n => format!(
                "; {n} rows say when a cancellation was asked for (`cancel_requested` while one is pending)"
            ),
        };
        // The current periods: inside one, its end is the next renewal.
        let periods = match self.periods {
            0 => String::new(),
            n => format!(
                "{n} of {} rows state their current billing period, whose end is the next renewal at a date inside it; otherwise ",
                self.rows
            ),
        };
        if self.stated > 0 && self.stated == self.rows {
            return format!("{periods}every row states its plan's interval: a subscriber renews on it from their latest row's start (or trial end){requests}");
        }
        let stated = if self.stated == 0 {
            String::new()
        } else {
            format!(
                "{} of {} rows state their plan's interval, and a subscriber whose latest row does renews on it from that row's start (or trial end); for the others, ",
                self.stated, self.rows
            )
        };
        if self.lengths > 0 {
            return format!(
                "{periods}{stated}a subscription renews {} from its start (the median length of {} current periods){requests}",
                self.typical, self.lengths
            );
        }
        if self.intervals == 0 {
            return format!(
                "{periods}{stated}no subscriber has two rows that renew one another, so each subscription renews {} from its start{requests}",
                self.typical
            );
        }
        format!(
            "{periods}{stated}a subscriber's next renewal is their latest row's start plus their own cycle (the interval between their last two rows), else the table's: {} (the median of {} subscribers' own){requests}",
            self.typical, self.intervals
        )
    }

    /// When `user` asked to cancel a subscription still running at `t` (the latest such
    /// request by `t`): one set to end at its period's end, or on a date after `t`. A
    /// cancellation that took effect when asked (the end equal to the request) never is.
    pub fn cancel_pending(&self, user: &str, t: i64) -> Option<i64> {
        self.pending(user, t).filter_map(|r| r.canceled).max()
    }

    /// `user`'s rows with a cancellation asked for by `t` and not yet in effect at `t`.
    fn pending(&self, user: &str, t: i64) -> impl Iterator<Item = &Billed> {
        self.started_by(user, t).iter().filter(move |r| {
            r.canceled
                .is_some_and(|asked| asked <= t && r.end.is_none_or(|e| e > t && e > asked))
        })
    }

    /// Whether `user`'s latest subscription started by `t` is still running at `t` with a
    /// status of `paused`. The status is the table's at its export: said on the list, never
    /// a model feature (a training date's would be the export's).
    pub fn paused(&self, user: &str, t: i64) -> bool {
        self.started_by(user, t)
            .last()
            .is_some_and(|last| last.paused && last.end.is_none_or(|e| e > t))
    }

    /// Whether `user`'s latest subscription started by `t` is in its trial at `t` (billing
    /// starts after `t`).
    pub fn in_trial(&self, user: &str, t: i64) -> bool {
        self.started_by(user, t)
            .last()
            .is_some_and(|last| last.anchor > t)
    }

    /// `user`'s rows started by `t`, in start order (none for a user not in the table).
    fn started_by(&self, user: &str, t: i64) -> &[Billed] {
        let rows = self.billed.get(user).map_or(&[][..], Vec::as_slice);
        &rows[..rows.partition_point(|r| r.start <= t)]
    }

    /// The next renewal after `t` of `user`'s active period that started at
    /// `period_start` and is running at `t`; none for a user without a row started by `t`.
    /// With a cancellation pending at `t`, the end its row states is the date, when it
    /// comes no later than the renewal after the next: a period's end set when the
    /// cancellation was asked for (Chargebee's `cancelled_at`, where a subscription
    /// reactivated under its id bills from another day than its start), or a date the
    /// customer picked. A later end was written after `t` (the request was taken back, the
    /// subscription ran on) and is not known then.
    pub fn next_after(&self, user: &str, period_start: i64, t: i64) -> Option<i64> {
        let billing = self.billing(user, period_start, t)?;
        let next = billing.renewal_after(t)?;
        let following = billing.renewal_after(next).unwrap_or(i64::MAX);
        let stated = self
            .pending(user, t)
            .filter_map(|r| r.end)
            .filter(|&e| e <= following)
            .min();
        Some(stated.unwrap_or(next))
    }

    /// How many renewals of the same period fall after `t` and by `until` (inclusive): 0
    /// when the next one is later, 4 for a weekly plan over 28 days. A pending cancellation
    /// does not stop the count: what the renewals are worth is the model's to learn.
    pub fn renewals_by(&self, user: &str, period_start: i64, t: i64, until: i64) -> u32 {
        let Some(billing) = self.billing(user, period_start, t) else {
            return 0;
        };
        let (mut n, mut at) = (0, t);
        while let Some(next) = billing.renewal_after(at).filter(|&r| r <= until) {
            (n, at) = (n + 1, next);
        }
        n
    }

    /// What `user`'s renewals at `t` count from, and their cycle (see [`Renewals`]); none
    /// for a user without a row started by `t`.
    fn billing(&self, user: &str, period_start: i64, t: i64) -> Option<Billing> {
        let rows = self.started_by(user, t);
        let (last, earlier) = rows.split_last()?;
        let own = || {
            earlier
                .last()
                .filter(|before| before.start >= period_start)
                .and_then(|before| Cycle::from_interval(last.start - before.start))
        };
        let cycle = last.cycle.or_else(own).unwrap_or(self.typical);
        // Inside the stated current period, its end is the next renewal and the ones after
        // it follow on its grid.
        let grid = last.period_end.filter(|&end| {
            let start = last
                .period_start
                .or_else(|| end.checked_sub(cycle.shortest_ms()));
            t < end && start.is_some_and(|s| s <= t)
        });
        // And the period's own length is the cycle there (a monthly subscriber in a table
        // of weekly ones).
        let own_period = grid
            .zip(last.period_start)
            .and_then(|(end, start)| Cycle::from_interval(end - start));
        Some(Billing {
            anchor: last.anchor,
            grid,
            cycle: last.cycle.or(own_period).unwrap_or(cycle),
        })
    }
}

/// How one subscriber's renewals fall.
#[derive(Debug, Clone, Copy)]
struct Billing {
    /// Billing starts here (a trial's end, else the row's start).
    anchor: i64,
    /// A renewal date the table states (the current period's end), when it does.
    grid: Option<i64>,
    cycle: Cycle,
}

impl Billing {
    /// The first renewal after `t`: the anchor while it is ahead (a trial ends there and
    /// billing starts), else on the stated period's grid, else a whole number of cycles
    /// from the anchor.
    fn renewal_after(self, t: i64) -> Option<i64> {
        if self.anchor > t {
            return Some(self.anchor);
        }
        match self.grid {
            Some(grid) => self.cycle.on_grid_after(grid, t),
            None => self.cycle.next_after(self.anchor, t),
        }
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
    use crate::ingest::SubscriptionColumns;

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

    /// A subscriptions table read in its own or Stripe's columns, as of 2026-11-30.
    fn load_at_end_of_november(path: &Path) -> (Subscriptions, Rejects) {
        let policy = ReadPolicy::new(ts("2026-11-30"));
        let mut rejects = Rejects::default();
        let columns = SubscriptionColumns::default();
        let subs = load_subscriptions(path, &columns, &policy, &mut rejects).unwrap();
        (subs, rejects)
    }

    #[test]
    fn renewals_fall_on_the_stated_periods_grid_before_and_after_it() {
        let weekly = Cycle::Days(7);
        let end = ts("2026-12-03 06:00");
        // After the export, and at the panel's earlier dates: whole weeks either side.
        assert_eq!(weekly.on_grid_after(end, ts("2026-12-01")), Some(end));
        assert_eq!(
            weekly.on_grid_after(end, ts("2026-12-03 06:00")),
            Some(ts("2026-12-10 06:00"))
        );
        assert_eq!(
            weekly.on_grid_after(end, ts("2026-10-01")),
            Some(ts("2026-10-01 06:00"))
        );
        let monthly = Cycle::Months(1);
        let end = ts("2026-12-20 11:00");
        assert_eq!(
            monthly.on_grid_after(end, ts("2026-09-25")),
            Some(ts("2026-10-20 11:00"))
        );
        assert_eq!(
            monthly.on_grid_after(end, ts("2027-01-25")),
            Some(ts("2027-02-20 11:00"))
        );
        let yearly = Cycle::Months(12);
        assert_eq!(
            yearly.on_grid_after(ts("2027-06-03 14:40"), ts("2025-07-01")),
            Some(ts("2026-06-03 14:40"))
        );
    }

    /// A Recurly export (nu21): no interval column, weekly boxes, the current period's
    /// start and end; and a subscription whose billing day moved after a reactivation.
    #[test]
    fn a_current_period_dates_renewals_without_an_interval() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("recurly_subscriptions_export.csv");
        std::fs::write(
            &path,
            "uuid,account_code,state,activated_at,canceled_at,expires_at,current_period_started_at,current_period_ends_at\n\
             a1,usr_1,active,2025-06-09 04:27:53 UTC,,,2026-11-26 04:27:53 UTC,2026-12-03 04:27:53 UTC\n\
             a2,usr_2,paused,2024-02-10 10:00:00 UTC,,,2026-11-21 08:00:00 UTC,2026-12-21 08:00:00 UTC\n",
        )
        .unwrap();
        let columns = SubscriptionColumns::default()
            .with_arguments(&[
                "user_id=account_code".into(),
                "start_date=activated_at".into(),
                "end_date=expires_at".into(),
                "status=state".into(),
            ])
            .unwrap();
        let policy = ReadPolicy::new(ts("2026-12-01"));
        let mut rejects = Rejects::default();
        let subs = load_subscriptions(&path, &columns, &policy, &mut rejects).unwrap();
        assert_eq!(rejects.total(), 0);
        let r = &subs.renewals;
        assert_eq!(r.periods, 2);
        // Weekly, the periods' length. Inside the current period its end is the next
        // renewal; before it, the start's weekly grid, as for a subscription that ended
        // (only a running one states a current period).
        assert_eq!(r.typical, Cycle::Days(7));
        let start = ts("2025-06-09 04:27:53");
        assert_eq!(
            r.next_after("usr_1", start, ts("2026-12-01")),
            Some(ts("2026-12-03 04:27:53"))
        );
        assert_eq!(
            r.next_after("usr_1", start, ts("2026-11-20")),
            Some(ts("2026-11-23 04:27:53"))
        );
        assert_eq!(
            r.renewals_by("usr_1", start, ts("2026-12-01"), ts("2026-12-29")),
            4
        );
        // Monthly on the 21st, not on the 10th its start gives.
        assert_eq!(
            r.next_after("usr_2", ts("2024-02-10 10:00"), ts("2026-12-01")),
            Some(ts("2026-12-21 08:00"))
        );
        // The status at the export: usr_2 paused (said on the list), usr_1 not.
        assert!(r.paused("usr_2", ts("2026-12-01")) && !r.paused("usr_1", ts("2026-12-01")));
        assert_eq!(
            r.describe(),
            "2 of 2 rows state their current billing period, whose end is the next renewal at \
             a date inside it; otherwise a subscription renews every 7 days from its start (the \
             median length of 2 current periods)"
        );
    }

    #[test]
    fn a_stripe_export_dates_renewals_by_plan_and_trial() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/billing/stripe_dashboard_subscriptions.csv");
        let (subs, rejects) = load_at_end_of_november(&path);
        assert_eq!(rejects.total(), 0);
        // 12 rows, one never started; Hana's monthly plan ended a minute before her yearly
        // one began: one active period.
        assert_eq!(
            (subs.rows, subs.never_started, subs.df.height()),
            (11, 1, 10)
        );
        assert_eq!(subs.user_column(), "Customer ID");
        assert_eq!(subs.renewals.stated, 11);
        let t = ts("2026-11-30");
        let period_start = |user: &str| {
            let users = subs.df.column("user_id").unwrap().str().unwrap();
            let starts = subs.df.column("start_ts").unwrap().i64().unwrap();
            (0..subs.df.height())
                .find(|&i| users.get(i) == Some(user))
                .and_then(|i| starts.get(i))
                .unwrap()
        };
        for (user, next) in [
            ("cus_RaA1monthly01", "2026-12-15 09:12"),
            // Yearly: from the plan's interval, not the table's month.
            ("cus_RbB2yearly002", "2027-06-03 14:40"),
            // Set to cancel at the period end: still running, renewal date as any.
            ("cus_RdD4capend004", "2026-12-20 11:00"),
            // In a trial: billing starts when it ends.
            ("cus_RfF6trial0006", "2026-12-04 08:30"),
            ("cus_RgG7pastdue07", "2026-12-05 22:15"),
            // The latest row's plan: yearly from its start.
            ("cus_RhH8twosubs08", "2027-01-14 10:21"),
            ("cus_RkK1newbie011", "2026-12-28 17:20"),
        ] {
            assert_eq!(
                subs.renewals.next_after(user, period_start(user), t),
                Some(ts(next)),
                "{user}"
            );
        }
        // Cancellations asked for and pending: Dana's runs to its period's end; Chen's and
        // Ivan's were pending until they ended; Jo's took effect when asked (after failed
        // payments), as did Hana's monthly plan when she moved to a yearly one.
        let r = &subs.renewals;
        assert_eq!(r.requests, 5);
        assert_eq!(
            r.cancel_pending("cus_RdD4capend004", t),
            Some(ts("2026-11-18 16:45"))
        );
        assert_eq!(r.cancel_pending("cus_RaA1monthly01", t), None);
        assert_eq!(r.cancel_pending("cus_RcC3cancel003", t), None);
        assert_eq!(
            r.cancel_pending("cus_RcC3cancel003", ts("2025-09-05")),
            Some(ts("2025-09-02 07:30"))
        );
        assert_eq!(
            r.cancel_pending("cus_RcC3cancel003", ts("2025-09-01")),
            None
        );
        assert_eq!(
            r.cancel_pending("cus_RiI9yrcancel9", ts("2025-04-01")),
            Some(ts("2025-03-30 20:02"))
        );
        for at in ["2026-06-17 09:45", "2026-06-17 09:46", "2026-06-10"] {
            assert_eq!(r.cancel_pending("cus_RjJ0payfail10", ts(at)), None, "{at}");
        }
        assert_eq!(
            r.cancel_pending("cus_RhH8twosubs08", ts("2025-01-14 10:20")),
            None
        );
        assert!(r.describe().ends_with(
            "; 5 rows say when a cancellation was asked for (`cancel_requested` while one is pending)"
        ));
        assert!(subs.renewals.in_trial("cus_RfF6trial0006", t));
        assert!(!subs
            .renewals
            .in_trial("cus_RfF6trial0006", ts("2026-12-04 08:30")));
        assert!(!subs.renewals.in_trial("cus_RaA1monthly01", t));
        // After the trial, the monthly cycle runs from its end.
        assert_eq!(
            subs.renewals.next_after(
                "cus_RfF6trial0006",
                period_start("cus_RfF6trial0006"),
                ts("2026-12-10")
            ),
            Some(ts("2027-01-04 08:30"))
        );
    }

    #[test]
    fn unreadable_optional_cells_are_counted_and_their_rows_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("subs.csv");
        std::fs::write(
            &path,
            "user_id,start_date,end_date,interval,trial_end,canceled_at\n\
             a,2026-01-05,,month,2026-01-19,\n\
             b,2026-02-01,,fortnightly,31/12/2026,\n\
             c,2026-03-01,2026-06-01,year,,soon\n\
             d,2026-03-02,,,  ,2026-05-01\n\
             e,2026-03-03,,week,n/a,\n",
        )
        .unwrap();
        let (subs, rejects) = load_at_end_of_november(&path);
        // Every row is kept; only the cells that hold something unreadable are counted
        // (empty and blank cells are absent, not unread).
        assert_eq!((rejects.total(), subs.rows), (0, 5));
        let unread: Vec<(&str, usize, &str)> = subs
            .unread
            .iter()
            .map(|u| (u.field, u.rows, u.example.as_str()))
            .collect();
        assert_eq!(
            unread,
            [
                ("trial_end", 2, "31/12/2026"),
                ("canceled_at", 1, "soon"),
                ("interval", 1, "fortnightly"),
            ]
        );
        assert!(subs.renewals.in_trial("a", ts("2026-01-10")));
        assert!(!subs.renewals.in_trial("b", ts("2026-02-10")));
    }

    #[test]
    fn renewals_are_counted_up_to_a_date() {
        // wk: weekly plan; mo: monthly; yr: yearly; tr: a weekly plan in a trial to 01-12.
        let rows = df!(
            "user_id" => ["wk", "mo", "yr", "tr"],
            "start_ts" => ["2025-12-01", "2025-12-20", "2025-03-01", "2026-01-05"].map(ts),
            "end_ts" => [None::<i64>, None, None, None],
            "interval" => ["week", "month", "year", "week"],
            "trial_end_ts" => [None, None, None, Some(ts("2026-01-12"))],
        )
        .unwrap();
        let r = Subscriptions::from_rows(&rows).unwrap().renewals;
        let (t, until) = (ts("2026-01-10"), ts("2026-02-07"));
        let count = |u: &str| r.renewals_by(u, ts("2025-01-01"), t, until);
        // wk: 01-12, 01-19, 01-26, 02-02 (02-09 is past); mo: 01-20 (02-20 is past);
        // yr: 2026-03-01 is past; tr: the trial's end 01-12, then 01-19, 01-26, 02-02.
        assert_eq!(
            ["wk", "mo", "yr", "tr", "nobody"].map(count),
            [4, 1, 0, 4, 0]
        );
        // A renewal on `until` itself counts, as `renewal_due` counts one.
        assert_eq!(
            r.renewals_by("mo", ts("2025-01-01"), t, ts("2026-01-20")),
            1
        );
        assert_eq!(
            r.renewals_by("mo", ts("2025-01-01"), t, ts("2026-01-19")),
            0
        );
    }

    #[test]
    fn a_pending_cancellation_ends_on_its_stated_date() {
        // a: monthly since 2023-07-27, asked on 07-10 to end on 07-14 13:12 (Chargebee's
        // `cancelled_at` for a subscription reactivated under its id); b: asked to end at
        // the period's end; c: the stated end is months later (the request was taken
        // back and the subscription ran on: written after t); d: by its start it renews
        // on t's day, but it was reactivated and its term ends three days later.
        let rows = df!(
            "user_id" => ["a", "b", "c", "d"],
            "start_ts" => ["2023-07-27", "2025-01-20", "2025-01-20", "2024-03-14 09:00"].map(ts),
            "end_ts" => ["2025-07-14 13:12", "2025-07-20", "2025-11-20", "2025-07-17"].map(|d| Some(ts(d))),
            "interval" => ["month", "month", "month", "month"],
            "canceled_ts" => ["2025-07-10", "2025-07-01", "2025-07-01", "2025-07-02"].map(|d| Some(ts(d))),
        )
        .unwrap();
        let r = Subscriptions::from_rows(&rows).unwrap().renewals;
        let t = ts("2025-07-14");
        let next = |u: &str| r.next_after(u, ts("2023-01-01"), t);
        assert_eq!(next("a"), Some(ts("2025-07-14 13:12")));
        assert_eq!(next("b"), Some(ts("2025-07-20")));
        assert_eq!(next("c"), Some(ts("2025-07-20")));
        assert_eq!(next("d"), Some(ts("2025-07-17")));
        // Before the request, a renews on its cycle.
        assert_eq!(
            r.next_after("a", ts("2023-01-01"), ts("2025-07-05")),
            Some(ts("2025-07-27"))
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
            .contains("the table's: every month (the median of 2 subscribers' own)"));
        // No row started by t, or an unknown user: none.
        assert_eq!(r.next_after("v", ts("2025-07-15"), ts("2025-07-01")), None);

        // One weekly subscriber's 30 rows against two monthly subscribers' 3: the table's
        // cycle is the subscribers' (a month), not the rows' (a week).
        let week = |k: i64| ts("2025-01-06") + k * 7 * DAY_MS;
        let mut users = vec!["weekly"; 30];
        let mut starts: Vec<i64> = (0..30).map(week).collect();
        for (user, first) in [("m1", "2025-01-10"), ("m2", "2025-02-03")] {
            for k in 0..3 {
                users.push(user);
                starts.push(ts(first) + k * 30 * DAY_MS);
            }
        }
        let ends: Vec<Option<i64>> = vec![None; users.len()];
        let rows = df!("user_id" => users, "start_ts" => starts, "end_ts" => ends).unwrap();
        let r = Subscriptions::from_rows(&rows).unwrap().renewals;
        assert_eq!(r.typical, Cycle::Months(1));
        assert_eq!(r.intervals, 3);
        assert_eq!(r.next_after("x", 0, t), None);
    }
}
