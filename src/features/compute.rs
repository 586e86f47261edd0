//! Per-user features at an as-of date: one lazy polars query over the prepared events,
//! joined onto the population. Only events strictly before the as-of date are read.
//! It computes raw figures; scaling and the model matrix are `model::matrix`'s job.

use std::collections::{BTreeSet, HashMap};

use polars::prelude::*;

use super::catalog::{catalog, rate_long_name, rate_prior_name, rate_recent_name, FeatureDef};
use super::spec::FeatureSpec;
use crate::error::Result;
use crate::ingest::{Events, DAY_MS};

/// Raw figures kept beside the features because reasons quote them.
pub const AUX_COLUMNS: [&str; 2] = ["value_actions_recent", "value_actions_prior"];

/// Weeks in the activity slope.
const SLOPE_WEEKS: i64 = 6;

/// Features of one population at one as-of date.
#[derive(Debug, Clone)]
pub struct FeatureFrame {
    /// `user_id`, then every feature in catalog order, then [`AUX_COLUMNS`]; sorted by
    /// `user_id`; raw (untransformed) `f64` values without nulls.
    pub df: DataFrame,
    pub defs: Vec<FeatureDef>,
}

/// The event log with the role flags of a feature spec, ready for any as-of date.
#[derive(Clone)]
pub struct Prepared {
    lf: LazyFrame,
    /// Every event name of the log → a small integer: the features compare integers, not
    /// strings (about 60 comparisons per event row).
    codes: Arc<HashMap<String, u32>>,
    /// The log's first event: nobody is observable before it.
    min_ts: i64,
}

/// Adds a day number, the event's code and one boolean column per event role.
pub fn prepare(events: &Events, spec: &FeatureSpec) -> Result<Prepared> {
    let e = &spec.file.events;
    let codes: HashMap<String, u32> = event_names(events)?
        .into_iter()
        .enumerate()
        .map(|(i, name)| (name, i as u32))
        .collect();
    let codes = Arc::new(codes);
    let presence = if e.login.is_empty() {
        lit(true)
    } else {
        any_of(&codes, &e.login)
    };
    let lookup = codes.clone();
    let code = col("event").map(
        move |c: Column| {
            let out: UInt32Chunked = c
                .str()?
                .iter()
                .map(|e| Some(e.and_then(|e| lookup.get(e).copied()).unwrap_or(NO_CODE)))
                .collect();
            Ok(out.with_name(c.name().clone()).into_column())
        },
        |_: &Schema, _: &Field| Ok(Field::new("code".into(), DataType::UInt32)),
    );
    let lf = events
        .df
        .clone()
        .lazy()
        .with_column(code.alias("code"))
        .with_columns([
            (col("ts") / lit(DAY_MS)).alias("day"),
            presence.alias("is_presence"),
            any_of(&codes, &e.value).alias("is_value"),
            any_of(&codes, &e.activation).alias("is_activation"),
            any_of(&codes, &e.core).alias("is_core"),
            any_of(&codes, &e.feedback).alias("is_feedback"),
            any_of(&codes, &e.friction).alias("is_friction"),
        ]);
    Ok(Prepared {
        lf,
        codes,
        min_ts: events.min_ts,
    })
}

/// The code of a name no event has: never equal to an event's.
const NO_CODE: u32 = u32::MAX;

/// Whether the event is `name` (an integer comparison on the event's code).
fn is_event(codes: &HashMap<String, u32>, name: &str) -> Expr {
    col("code").eq(lit(codes.get(name).copied().unwrap_or(NO_CODE - 1)))
}

/// The distinct event names in the log.
pub fn event_names(events: &Events) -> Result<BTreeSet<String>> {
    let names = events
        .df
        .clone()
        .lazy()
        .select([col("event").unique()])
        .collect()?;
    Ok(names
        .column("event")?
        .str()?
        .iter()
        .flatten()
        .map(String::from)
        .collect())
}

/// The `k` most frequent event types before `before` (ties by name), for per-event rates.
pub fn top_event_types(events: &Events, before: i64, k: usize) -> Result<Vec<String>> {
    if k == 0 {
        return Ok(Vec::new());
    }
    let counts = events
        .df
        .clone()
        .lazy()
        .filter(col("ts").lt(lit(before)))
        .group_by([col("event")])
        .agg([len().alias("n")])
        .sort_by_exprs(
            [col("n"), col("event")],
            SortMultipleOptions::default().with_order_descending_multi([true, false]),
        )
        .slice(0, k as IdxSize)
        .collect()?;
    Ok(counts
        .column("event")?
        .str()?
        .iter()
        .flatten()
        .map(String::from)
        .collect())
}

/// Computes every feature for `population` (`user_id`, `signup_ts`: i64 or null) at `as_of`.
/// Users without events before `as_of` get the values of "no activity".
pub fn compute(
    prepared: &Prepared,
    population: &DataFrame,
    as_of: i64,
    spec: &FeatureSpec,
    event_types: &[String],
) -> Result<FeatureFrame> {
    let w = &spec.file.windows;
    let (r, p, l) = (
        w.recent_days as i64,
        w.prior_days as i64,
        w.long_days as i64,
    );
    // Windows are whole calendar days (UTC): age 0 is the last day that began before T.
    let last_day = (as_of + DAY_MS - 1).div_euclid(DAY_MS) - 1;
    let codes = &*prepared.codes;
    let events = prepared
        .lf
        .clone()
        .filter(col("ts").lt(lit(as_of)))
        .with_column((lit(last_day) - col("day")).alias("age"));

    // Every aggregation below is a plain sum/min/max over a full-column expression, which
    // polars runs on its vectorized group-by path; distinct counts come from small
    // de-duplicated frames instead of per-group `n_unique` on filtered values.
    let within = |lo: i64, hi: i64| col("age").gt_eq(lit(lo)).and(col("age").lt(lit(hi)));
    let count_if = |cond: Expr| cond.cast(DataType::Float64).sum();
    let ts_if = |cond: Expr| {
        when(cond)
            .then(col("ts"))
            .otherwise(lit(NULL).cast(DataType::Int64))
    };

    let mut per = PerUser::default();
    per.plain(col("ts").min().alias("first_ts"));
    per.plain(col("ts").max().alias("last_ts"));
    per.max(ts_if(col("is_value")), "last_value_ts");
    per.min(ts_if(col("is_activation")), "activation_ts");
    per.count(col("is_value").and(within(0, r)), "value_actions_recent");
    per.count(col("is_value").and(within(r, r + p)), "value_actions_prior");
    per.count(col("is_value").and(within(0, l)), "value_actions_long");
    per.plain(len().cast(DataType::Float64).alias("events_total"));
    per.count(col("is_value"), "value_total");
    per.sum(
        when(col("is_value").and(within(0, l)))
            .then(col("value"))
            .otherwise(lit(0.0)),
        "value_amount_long",
    );
    per.count(col("is_feedback").and(within(0, l)), "feedback_long");
    per.count(col("is_friction").and(within(0, r)), "friction_recent");
    for funnel in &spec.file.funnels {
        for (i, step) in funnel.steps.iter().enumerate() {
            per.count(
                is_event(codes, step),
                &format!("funnel_{}_{i}", funnel.name),
            );
        }
    }
    let mut ratio_events: BTreeSet<&str> = BTreeSet::new();
    for ratio in &spec.file.ratios {
        ratio_events.insert(&ratio.numerator);
        ratio_events.insert(&ratio.denominator);
    }
    for e in &ratio_events {
        per.count(
            is_event(codes, e).and(within(0, l)),
            &format!("ratio_n_{e}"),
        );
    }
    for e in event_types {
        per.count(is_event(codes, e).and(within(0, r)), &rate_recent_name(e));
        per.count(
            is_event(codes, e).and(within(r, r + p)),
            &rate_prior_name(e),
        );
        per.count(is_event(codes, e).and(within(0, l)), &rate_long_name(e));
    }
    // The conditions are evaluated as plain columns first (vectorized, in parallel), so
    // that the group-by only sums, mins and maxes columns: its fast path. Conditions
    // evaluated inside the aggregation took 8.5 s of 11.7 s on 10M events.
    let per_user = events
        .clone()
        .with_columns(per.columns)
        .group_by([col("user_id")])
        .agg(per.aggs);

    // Active days: one row per (user, day with presence).
    let horizon = (r + p).max(l).max(7 * SLOPE_WEEKS);
    let mut day_aggs = vec![
        count_if(within(0, r)).alias("active_days_recent"),
        count_if(within(r, r + p)).alias("active_days_prior"),
        count_if(within(0, l)).alias("active_days_long"),
    ];
    for week in 0..SLOPE_WEEKS {
        day_aggs.push(count_if(within(7 * week, 7 * week + 7)).alias(format!("week_{week}")));
    }
    let active_days = events
        .clone()
        .filter(col("is_presence").and(col("age").lt(lit(horizon))))
        .select([col("user_id"), col("age")])
        .unique(None, UniqueKeepStrategy::Any)
        .group_by([col("user_id")])
        .agg(day_aggs);
    let core_used = events
        .clone()
        .filter(col("is_core").and(within(0, l)))
        .select([col("user_id"), col("code")])
        .unique(None, UniqueKeepStrategy::Any)
        .group_by([col("user_id")])
        .agg([len().cast(DataType::Float64).alias("core_features_used")]);
    let sessions = events
        .clone()
        .filter(within(0, r))
        .select([col("user_id"), col("session_id")])
        .unique(None, UniqueKeepStrategy::Any)
        .group_by([col("user_id")])
        .agg([len().cast(DataType::Float64).alias("sessions_recent")]);

    let session_minutes = events
        .filter(within(0, l))
        .group_by([col("user_id"), col("session_id")])
        .agg([
            ((col("ts").max() - col("ts").min()).cast(DataType::Float64) / lit(60_000.0))
                .alias("minutes"),
        ])
        .group_by([col("user_id")])
        .agg([col("minutes").median().alias("session_minutes")]);

    let joined = [per_user, session_minutes, active_days, core_used, sessions]
        .into_iter()
        .fold(
            population
                .clone()
                .lazy()
                .select([col("user_id"), col("signup_ts")]),
            |acc, part| {
                acc.join(
                    part,
                    [col("user_id")],
                    [col("user_id")],
                    JoinArgs::new(JoinType::Left),
                )
            },
        );

    let defs = catalog(spec, event_types);
    let day = |e: Expr| e.cast(DataType::Float64) / lit(DAY_MS as f64);
    let signup = coalesce(&[col("signup_ts"), col("first_ts"), lit(as_of)]);
    let tenure = at_least(day(lit(as_of) - signup.clone()), 0.0);
    let (rf, pf) = (r as f64, p as f64);
    let log_ratio = |recent: &str, prior: &str| {
        ((col(recent) + lit(1.0)) / (col(prior) * lit(rf / pf) + lit(1.0)))
            .log(lit(std::f64::consts::E))
    };
    // Least-squares slope of weekly active days against time (week 0 is the latest).
    let mean_x = (SLOPE_WEEKS - 1) as f64 / 2.0;
    let sxx: f64 = (0..SLOPE_WEEKS).map(|k| (k as f64 - mean_x).powi(2)).sum();
    let slope = (0..SLOPE_WEEKS)
        .map(|k| col(format!("week_{k}")) * lit((mean_x - k as f64) / sxx))
        .reduce(|a, b| a + b)
        .unwrap_or(lit(0.0));

    let counts: Vec<String> = [
        "active_days_recent",
        "active_days_prior",
        "active_days_long",
        "value_actions_recent",
        "value_actions_prior",
        "value_actions_long",
        "core_features_used",
        "sessions_recent",
        "events_total",
        "value_total",
        "value_amount_long",
        "feedback_long",
        "friction_recent",
        "session_minutes",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain((0..SLOPE_WEEKS).map(|k| format!("week_{k}")))
    .chain(
        spec.file
            .funnels
            .iter()
            .flat_map(|f| (0..f.steps.len()).map(move |i| format!("funnel_{}_{i}", f.name))),
    )
    .chain(ratio_events.iter().map(|e| format!("ratio_n_{e}")))
    .chain(
        event_types
            .iter()
            .flat_map(|e| [rate_recent_name(e), rate_prior_name(e), rate_long_name(e)]),
    )
    .collect();
    let filled = joined.with_columns(
        counts
            .iter()
            .map(|c| col(c.as_str()).fill_null(lit(0.0)))
            .collect::<Vec<_>>(),
    );

    let mut derived = vec![
        tenure.clone().alias("tenure_days"),
        day(lit(as_of) - col("last_ts"))
            .fill_null(tenure.clone())
            .alias("days_since_last_event"),
        day(lit(as_of) - col("last_value_ts"))
            .fill_null(tenure.clone())
            .alias("days_since_last_value"),
        col("activation_ts")
            .is_not_null()
            .cast(DataType::Float64)
            .alias("activated"),
        at_least(day(col("activation_ts") - signup.clone()), 0.0)
            .fill_null(tenure.clone())
            .alias("time_to_value_days"),
        log_ratio("active_days_recent", "active_days_prior").alias("activity_change"),
        log_ratio("value_actions_recent", "value_actions_prior").alias("value_trend"),
        slope.alias("activity_slope"),
        (col("value_actions_long") / at_least(col("active_days_long"), 1.0))
            .alias("value_per_active_day"),
        (col("events_total") * lit(7.0) / at_least(tenure.clone(), 1.0)).alias("events_per_week"),
        (col("value_total") * lit(7.0) / at_least(tenure, 1.0)).alias("value_per_week"),
    ];
    // Per-event-type counts become rates over the part of each window in which the user
    // could be seen (from signup or the log's start; at least a week, as in *Fighting Churn
    // with Data*), so a user who signed up 5 days ago is not read as a quiet one. Too new
    // for a prior window: no change is assumed.
    let observed_from = when(signup.clone().gt(lit(prepared.min_ts)))
        .then(signup.clone())
        .otherwise(lit(prepared.min_ts));
    let exposure = |end: i64, cap: i64| {
        let days = day(lit(end) - observed_from.clone());
        when(days.clone().gt(lit(cap as f64)))
            .then(lit(cap as f64))
            .otherwise(days)
    };
    let min_exposure = |cap: i64| (7.min(cap)) as f64;
    let scale =
        |end: i64, cap: i64| lit(cap as f64) / at_least(exposure(end, cap), min_exposure(cap));
    let prior_seen = exposure(as_of - r * DAY_MS, p).gt_eq(lit(min_exposure(p)));
    for e in event_types {
        let (nr, np, nl) = (rate_recent_name(e), rate_prior_name(e), rate_long_name(e));
        let recent = col(nr.as_str()) * scale(as_of, r);
        derived.push(
            when(prior_seen.clone())
                .then(col(np.as_str()) * scale(as_of - r * DAY_MS, p))
                .otherwise(recent.clone() * lit(p as f64 / r as f64))
                .alias(np.as_str()),
        );
        derived.push(recent.alias(nr.as_str()));
        derived.push((col(nl.as_str()) * scale(as_of, l)).alias(nl.as_str()));
    }
    for funnel in &spec.file.funnels {
        // Steps reached in order: step k counts only if every step before it was reached.
        let mut reached = lit(true);
        let mut total = lit(0.0);
        for i in 0..funnel.steps.len() {
            reached = reached.and(col(format!("funnel_{}_{i}", funnel.name)).gt(lit(0.0)));
            total = total + reached.clone().cast(DataType::Float64);
        }
        derived.push(
            (total / lit(funnel.steps.len() as f64)).alias(format!("funnel_{}", funnel.name)),
        );
    }
    for ratio in &spec.file.ratios {
        let num = col(format!("ratio_n_{}", ratio.numerator));
        let den = col(format!("ratio_n_{}", ratio.denominator));
        derived.push(
            when(den.clone().gt(lit(0.0)))
                .then(num / den)
                .otherwise(lit(0.0))
                .alias(format!("ratio_{}", ratio.name)),
        );
    }
    let mut out = vec![col("user_id")];
    out.extend(
        defs.iter()
            .map(|d| col(d.name.as_str()).cast(DataType::Float64)),
    );
    out.extend(AUX_COLUMNS.iter().map(|c| col(*c)));
    // polars' streaming engine: measured on 10M events it runs every part of this query
    // faster than the in-memory engine (the per-user sums 3.3 s against 5.7 s, session
    // lengths 0.8 s against 2.0 s) — and it keeps memory to the aggregates.
    let df = filled
        .with_columns(derived)
        .select(out)
        .sort(["user_id"], SortMultipleOptions::default())
        .collect_with_engine(Engine::Streaming)?
        .unwrap_single();
    Ok(FeatureFrame { df, defs })
}

/// `max(e, floor)`, keeping nulls null.
fn at_least(e: Expr, floor: f64) -> Expr {
    when(e.clone().lt(lit(floor))).then(lit(floor)).otherwise(e)
}

/// `event` is any of `names` (false for an empty list).
/// The per-user aggregations of the event rows: each condition or value becomes a
/// column, and the group-by aggregates columns.
#[derive(Default)]
struct PerUser {
    columns: Vec<Expr>,
    aggs: Vec<Expr>,
}

impl PerUser {
    fn column(&mut self, e: Expr) -> Expr {
        let name = format!("__c{}", self.columns.len());
        self.columns.push(e.alias(name.as_str()));
        col(name.as_str())
    }

    /// Rows where `cond` holds, as `f64`.
    fn count(&mut self, cond: Expr, name: &str) {
        let c = self.column(cond);
        self.aggs.push(c.sum().cast(DataType::Float64).alias(name));
    }

    fn sum(&mut self, value: Expr, name: &str) {
        let c = self.column(value);
        self.aggs.push(c.sum().cast(DataType::Float64).alias(name));
    }

    fn min(&mut self, value: Expr, name: &str) {
        let c = self.column(value);
        self.aggs.push(c.min().alias(name));
    }

    fn max(&mut self, value: Expr, name: &str) {
        let c = self.column(value);
        self.aggs.push(c.max().alias(name));
    }

    /// An aggregation of the rows' own columns.
    fn plain(&mut self, agg: Expr) {
        self.aggs.push(agg);
    }
}

fn any_of(codes: &HashMap<String, u32>, names: &[String]) -> Expr {
    names
        .iter()
        .map(|n| is_event(codes, n))
        .reduce(|a, b| a.or(b))
        .unwrap_or(lit(false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::parse_timestamp;
    use std::path::Path;

    fn events(rows: &[(&str, &str, &str)]) -> Events {
        let user: Vec<&str> = rows.iter().map(|r| r.0).collect();
        let ts: Vec<i64> = rows.iter().map(|r| parse_timestamp(r.1).unwrap()).collect();
        let event: Vec<&str> = rows.iter().map(|r| r.2).collect();
        let session: Vec<String> = rows
            .iter()
            .map(|r| format!("{}-{}", r.0, &r.1[..10]))
            .collect();
        let df = df!(
            "user_id" => user,
            "ts" => ts,
            "event" => event,
            "value" => vec![None::<f64>; rows.len()],
            "session_id" => session,
        )
        .unwrap();
        Events {
            df,
            path: "t.csv".into(),
            min_ts: 0,
            max_ts: 0,
            sessions_derived: false,
        }
    }

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
        assert!((value(&ff, "a", "activity_change") - ln(3.0 / 2.0)).abs() < 1e-12);
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
        assert_eq!(top_event_types(&ev, before, 2).unwrap(), ["y", "x"]);
    }
}
