//! Reading the users and subscriptions tables.

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
    /// opens a new one.
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
        for (user, start, end) in rows {
            match periods.last_mut() {
                Some((u, _, last))
                    if *u == user && last.is_none_or(|e| start <= e.saturating_add(gap)) =>
                {
                    *last = last.zip(end).map(|(a, b)| a.max(b));
                }
                _ => periods.push((user, start, end)),
            }
        }
        let periods = df!(
            "user_id" => periods.iter().map(|p| p.0).collect::<Vec<_>>(),
            "start_ts" => periods.iter().map(|p| p.1).collect::<Vec<_>>(),
            "end_ts" => periods.iter().map(|p| p.2).collect::<Vec<_>>(),
        )?;
        Ok(Subscriptions {
            df: periods,
            rows: df.height(),
        })
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
