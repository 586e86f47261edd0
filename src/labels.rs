//! Who is scored at an as-of date T (the population) and who churned after it (labels).
//!
//! - Inactivity definition (default): the population is every user with an event in the
//!   `active_days` before T; a user churned when they did no value action (or, with
//!   [`Signal::AnyEvent`], no event at all) in `[T, T + horizon)`.
//! - Subscription definition: the population is every user with a subscription running at
//!   T (`start ≤ T < end`, no end = running); a user churned when their active period ends
//!   by `T + horizon`. Active periods join a user's rows that renew one another (a monthly
//!   plan's row per month, a lapse of at most [`RENEWAL_GAP_DAYS`] days between them), so
//!   a renewal is not a churn ([`Subscriptions::from_rows`]).
//!
//! Labels read events at and after T by design; features never do.
//!
//! Who had events in a window is read off the features' per-user index when the caller
//! has built it ([`Sources::prepared`]; `score` and `train` do), else queried from the log.

use polars::prelude::*;

use crate::base::time::DAY_MS;
use crate::error::Result;
use crate::features::Prepared;
use crate::ingest::{Events, Renewals, Subscriptions, Users, RENEWAL_GAP_DAYS};

/// Which churn definition applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Definition {
    Inactivity,
    Subscription,
}

impl Definition {
    /// Why a user listed before is not scored now: out of the population, churned.
    pub fn left_reason(self) -> &'static str {
        match self {
            Definition::Inactivity => {
                "no activity in the activity window: churned by the definition"
            }
            Definition::Subscription => "no subscription running: churned by the definition",
        }
    }
}

/// Days after T in which churn is observed, unless set (`--horizon-days`, `[labels]`).
pub const HORIZON_DAYS: u32 = 28;
/// Days before T in which one event makes a user active, unless set.
pub const ACTIVE_DAYS: u32 = 28;

/// What counts as "still using it" under the inactivity definition (`value_action` or
/// `any_event`; the command line's `value-action` and `any-event` are read too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// A value action in the horizon means retained.
    #[serde(alias = "value-action")]
    ValueAction,
    /// Any event in the horizon means retained.
    #[serde(alias = "any-event")]
    AnyEvent,
}

/// The label rule, stored in model files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LabelRule {
    pub definition: Definition,
    /// Days after T in which churn is observed (default 28).
    pub horizon_days: u32,
    /// Days before T in which an event makes a user active (default 28).
    pub active_days: u32,
    pub signal: Signal,
}

impl LabelRule {
    /// Days after a date by which its label is known: the horizon, and under the
    /// subscription definition the renewal gap after it too (a period ending near the end
    /// of the horizon is a churn only once no renewal came within the gap). Panel dates lie
    /// at least this long before T, so no label waits on rows the table cannot hold yet.
    pub fn settle_days(&self) -> i64 {
        let gap = match self.definition {
            Definition::Inactivity => 0,
            Definition::Subscription => RENEWAL_GAP_DAYS,
        };
        self.horizon_days as i64 + gap
    }

    /// The horizon against which a subscription's next renewal is read (`renewal_due`):
    /// under the subscription definition only.
    pub fn renewal_horizon_days(&self) -> Option<u32> {
        (self.definition == Definition::Subscription).then_some(self.horizon_days)
    }
}

/// The tables a population and its labels come from.
#[derive(Clone, Copy)]
pub struct Sources<'a> {
    pub events: &'a Events,
    pub users: Option<&'a Users>,
    pub subscriptions: Option<&'a Subscriptions>,
    /// The features' per-user index of `events`, once built: who had events in a window
    /// is then read off it (two binary searches a user) instead of a query over the log.
    /// Both give the same users.
    pub prepared: Option<&'a Prepared>,
}

impl<'a> Sources<'a> {
    /// These sources with the features' per-user index of their events at hand.
    pub fn with_index(self, prepared: &'a Prepared) -> Self {
        Sources {
            prepared: Some(prepared),
            ..self
        }
    }
}

/// The users of `src.events` with an event in `[from, to)` (with `names`, one of those
/// events), as a one-column frame `user_id`.
fn users_with(src: &Sources, from: i64, to: i64, names: Option<&[String]>) -> Result<LazyFrame> {
    if let Some(p) = src.prepared {
        let ids = p.users_with(from, to, names);
        return Ok(DataFrame::new(ids.len(), vec![Column::new("user_id".into(), ids)])?.lazy());
    }
    let mut window = col("ts").gt_eq(lit(from)).and(col("ts").lt(lit(to)));
    if let Some(names) = names {
        let any = names
            .iter()
            .map(|n| col("event").eq(lit(n.as_str())))
            .reduce(|a, b| a.or(b))
            .unwrap_or(lit(false));
        window = window.and(any);
    }
    Ok(src
        .events
        .df
        .clone()
        .lazy()
        .filter(window)
        .select([col("user_id")])
        .unique(None, UniqueKeepStrategy::Any))
}

/// The users scored at `as_of`: `user_id`, `signup_ts` (i64 or null), sorted by `user_id`;
/// under the subscription definition also `renewal_ts`, the next renewal after `as_of`, and
/// `cancel_ts`, when a cancellation still pending at `as_of` was asked for (null: none),
/// `in_trial`, whether the subscription's trial runs at `as_of`, and `renewals`, how many
/// renewals fall in the horizon.
pub fn population(src: &Sources, rule: &LabelRule, as_of: i64) -> Result<DataFrame> {
    // The active periods running at T, read once: who is scored, and their renewals.
    let running = match rule.definition {
        Definition::Inactivity => None,
        Definition::Subscription => Some(running_subscriptions(src, as_of)?.collect()?),
    };
    let ids = match &running {
        None => users_with(src, as_of - rule.active_days as i64 * DAY_MS, as_of, None)?,
        Some(periods) => periods
            .clone()
            .lazy()
            .select([col("user_id")])
            .unique(None, UniqueKeepStrategy::Any),
    };
    let mut signup = match src.users {
        Some(u) => ids.join(
            u.df.clone()
                .lazy()
                .select([col("user_id"), col("signup_ts")]),
            [col("user_id")],
            [col("user_id")],
            JoinArgs::new(JoinType::Left),
        ),
        None => ids.with_column(lit(NULL).cast(DataType::Int64).alias("signup_ts")),
    };
    if let Some(s) = src.subscriptions {
        let first_start =
            s.df.clone()
                .lazy()
                .group_by([col("user_id")])
                .agg([col("start_ts").min().alias("first_start")]);
        signup = signup
            .join(
                first_start,
                [col("user_id")],
                [col("user_id")],
                JoinArgs::new(JoinType::Left),
            )
            .with_column(coalesce(&[col("signup_ts"), col("first_start")]).alias("signup_ts"))
            .select([col("user_id"), col("signup_ts")]);
    }
    // A user the users table says signed up on or after T is not one yet at T: their
    // visits before sign-up are theirs only through an identify call after T (a past
    // date's panel or backtest would otherwise score them).
    let mut out = signup
        .filter(
            col("signup_ts")
                .is_null()
                .or(col("signup_ts").lt(lit(as_of))),
        )
        .sort(["user_id"], SortMultipleOptions::default())
        .collect()?;
    if let (Some(periods), Some(subs)) = (&running, src.subscriptions) {
        let until = as_of + rule.horizon_days as i64 * DAY_MS;
        let columns = subscriber_columns(&subs.renewals, periods, &out, as_of, until)?;
        out.hstack_mut(&columns)?;
    }
    Ok(out)
}

/// For the population's rows, in one pass: `renewal_ts`, each user's next renewal after
/// `as_of` ([`Renewals::next_after`]) in the active period `running` at `as_of`;
/// `cancel_ts` ([`Renewals::cancel_pending`]); `in_trial` ([`Renewals::in_trial`]);
/// `renewals`, those after `as_of` and by `until` ([`Renewals::renewals_by`]); `paused`
/// ([`Renewals::paused`]).
fn subscriber_columns(
    renewals: &Renewals,
    running: &DataFrame,
    population: &DataFrame,
    as_of: i64,
    until: i64,
) -> Result<[Column; 5]> {
    let users = running.column("user_id")?.str()?;
    let starts = running.column("start_ts")?.i64()?;
    let period_start: std::collections::HashMap<&str, i64> = users
        .iter()
        .zip(starts.iter())
        .filter_map(|(u, s)| Some((u?, s?)))
        .collect();
    let ids = population.column("user_id")?.str()?;
    let n = ids.len();
    let (mut next, mut asked, mut trial, mut count, mut paused) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for u in ids.iter() {
        let start = u.and_then(|u| Some((u, *period_start.get(u)?)));
        next.push(start.and_then(|(u, s)| renewals.next_after(u, s, as_of)));
        count.push(start.map_or(0, |(u, s)| renewals.renewals_by(u, s, as_of, until)));
        asked.push(u.and_then(|u| renewals.cancel_pending(u, as_of)));
        trial.push(u.map(|u| renewals.in_trial(u, as_of)));
        paused.push(u.map(|u| renewals.paused(u, as_of)));
    }
    Ok([
        Column::new("renewal_ts".into(), next),
        Column::new("cancel_ts".into(), asked),
        Column::new("in_trial".into(), trial),
        Column::new("renewals".into(), count),
        Column::new("paused".into(), paused),
    ])
}

/// Churn labels for a population at `as_of`, in the population's row order.
pub fn labels(
    src: &Sources,
    rule: &LabelRule,
    spec_value: &[String],
    population: &DataFrame,
    as_of: i64,
) -> Result<Vec<bool>> {
    let until = as_of + rule.horizon_days as i64 * DAY_MS;
    let retained = match rule.definition {
        Definition::Inactivity => {
            let names = match rule.signal {
                Signal::AnyEvent => None,
                Signal::ValueAction => Some(spec_value),
            };
            users_with(src, as_of, until, names)?.with_column(lit(true).alias("retained"))
        }
        Definition::Subscription => running_subscriptions(src, as_of)?
            .filter(col("end_ts").is_null().or(col("end_ts").gt(lit(until))))
            .select([col("user_id")])
            .unique(None, UniqueKeepStrategy::Any)
            .with_column(lit(true).alias("retained")),
    };
    let out = population
        .clone()
        .lazy()
        .select([col("user_id")])
        .join(
            retained,
            [col("user_id")],
            [col("user_id")],
            JoinArgs::new(JoinType::Left),
        )
        .select([col("retained").is_null().alias("churned")])
        .collect()?;
    Ok(out
        .column("churned")?
        .bool()?
        .iter()
        .map(|v| v.unwrap_or(false))
        .collect())
}

/// Subscriptions running at `as_of`: `start ≤ T < end`, a missing end meaning "running".
fn running_subscriptions(src: &Sources, as_of: i64) -> Result<LazyFrame> {
    let subs = src
        .subscriptions
        .ok_or_else(|| crate::error::Error::InvalidArgument {
            name: "subscriptions".into(),
            message: "the subscription churn definition needs a subscriptions table".into(),
        })?;
    Ok(subs.df.clone().lazy().filter(
        col("start_ts")
            .lt_eq(lit(as_of))
            .and(col("end_ts").is_null().or(col("end_ts").gt(lit(as_of)))),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::time::parse_timestamp;

    fn ts(s: &str) -> i64 {
        parse_timestamp(s).unwrap()
    }

    fn events() -> Events {
        let df = df!(
            "user_id" => ["a", "a", "b", "c", "d"],
            "ts" => [ts("2026-03-20"), ts("2026-04-10"), ts("2026-03-30"), ts("2026-01-01"), ts("2026-04-01T12:00:00")],
            "event" => ["make", "make", "login", "make", "login"],
            "value" => [None::<f64>; 5],
            "session_id" => ["1", "2", "3", "4", "5"],
        )
        .unwrap();
        Events {
            df,
            path: "e.csv".into(),
            min_ts: 0,
            max_ts: 0,
            sessions_derived: false,
            groups: None,
            names: Default::default(),
            files: Vec::new(),
            identity: Default::default(),
        }
    }

    fn rule(definition: Definition) -> LabelRule {
        LabelRule {
            definition,
            horizon_days: 28,
            active_days: 28,
            signal: Signal::ValueAction,
        }
    }

    #[test]
    fn inactivity_population_and_labels() {
        let ev = events();
        let spec = crate::features::FeatureSpec::from_toml(
            "[events]\nvalue = [\"make\"]\n",
            std::path::Path::new("t.toml"),
        )
        .unwrap();
        let prepared = crate::features::prepare(&ev, &spec).unwrap();
        // The same answers from a query over the log and from the features' index.
        for prepared in [None, Some(&prepared)] {
            inactivity_from(
                Sources {
                    events: &ev,
                    users: None,
                    subscriptions: None,
                    prepared,
                },
                prepared.is_some(),
            );
        }
    }

    #[test]
    fn a_user_who_signs_up_after_the_date_is_not_in_its_population() {
        // b's visits before T are theirs only through a sign-up on 04-05, after T.
        let ev = events();
        let users = crate::ingest::Users {
            dates_read: None,
            df: df!(
                "user_id" => ["a", "b"],
                "signup_ts" => [Some(ts("2026-03-01")), Some(ts("2026-04-05"))],
            )
            .unwrap(),
        };
        let src = Sources {
            events: &ev,
            users: Some(&users),
            subscriptions: None,
            prepared: None,
        };
        let ids = |as_of: &str| {
            let pop = population(&src, &rule(Definition::Inactivity), ts(as_of)).unwrap();
            let ids = pop.column("user_id").unwrap().str().unwrap().clone();
            ids.iter().flatten().map(String::from).collect::<Vec<_>>()
        };
        assert_eq!(ids("2026-04-01"), ["a"]);
        // Once signed up, b is scored (d, unknown to the users table, is kept too).
        assert_eq!(ids("2026-04-11"), ["a", "b", "d"]);
    }

    #[test]
    fn the_index_and_the_query_agree_on_a_generated_log() {
        let (_dir, ev) = crate::fixtures::loaded_sample(300);
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let spec = crate::features::FeatureSpec::load(&root.join("features/default.toml")).unwrap();
        let prepared = crate::features::prepare(&ev, &spec).unwrap();
        let query = Sources {
            events: &ev,
            users: None,
            subscriptions: None,
            prepared: None,
        };
        let indexed = query.with_index(&prepared);
        let value = &spec.file.events.value;
        for as_of in ["2026-03-02", "2026-05-17", "2026-06-08"] {
            for signal in [Signal::ValueAction, Signal::AnyEvent] {
                let rule = LabelRule {
                    signal,
                    ..rule(Definition::Inactivity)
                };
                let t = ts(as_of);
                let a = population(&query, &rule, t).unwrap();
                let b = population(&indexed, &rule, t).unwrap();
                assert!(a.height() > 50, "{as_of}: {} users", a.height());
                assert!(a.equals_missing(&b), "{as_of}: populations differ");
                let (ya, yb) = (
                    labels(&query, &rule, value, &a, t).unwrap(),
                    labels(&indexed, &rule, value, &b, t).unwrap(),
                );
                assert_eq!(ya, yb, "{as_of} {signal:?}");
                assert!(ya.iter().any(|&c| c) && ya.iter().any(|&c| !c));
            }
        }
    }

    fn inactivity_from(src: Sources, indexed: bool) {
        let as_of = ts("2026-04-01");
        let pop = population(&src, &rule(Definition::Inactivity), as_of).unwrap();
        let ids: Vec<_> = pop
            .column("user_id")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .flatten()
            .collect();
        // c was last seen in January; d's only event is after T.
        assert_eq!(ids, ["a", "b"], "indexed: {indexed}");
        let y = labels(
            &src,
            &rule(Definition::Inactivity),
            &["make".into()],
            &pop,
            as_of,
        )
        .unwrap();
        // a made something on 04-10 (retained); b only logged in before T (churned).
        assert_eq!(y, [false, true], "indexed: {indexed}");
        let any = LabelRule {
            signal: Signal::AnyEvent,
            ..rule(Definition::Inactivity)
        };
        assert_eq!(
            labels(&src, &any, &["make".into()], &pop, as_of).unwrap(),
            [false, true]
        );
    }

    #[test]
    fn a_subscription_label_settles_a_renewal_gap_after_the_horizon() {
        assert_eq!(rule(Definition::Inactivity).settle_days(), 28);
        assert_eq!(
            rule(Definition::Subscription).settle_days(),
            28 + RENEWAL_GAP_DAYS
        );
    }

    #[test]
    fn subscription_population_and_labels() {
        let ev = events();
        // a: a running row and an overlapping one; b: ends inside the horizon; c: ended
        // before T; d: monthly rows, each renewing the last (one ending 3 days before the
        // next starts: a lapse inside the renewal gap), running past the horizon; f: monthly
        // rows, the last ending inside the horizon and resumed 11 days later (a churn);
        // e: starts after T.
        let rows = df!(
            "user_id" => ["a", "a", "b", "c", "e", "d", "d", "d", "d", "f", "f", "f"],
            "start_ts" => [
                "2026-01-01", "2026-02-01", "2026-01-01", "2026-01-01", "2026-05-01",
                "2026-02-15", "2026-03-15", "2026-04-15", "2026-05-15",
                "2026-02-20", "2026-03-20", "2026-05-01",
            ].map(ts),
            "end_ts" => [
                None, Some("2026-04-10"), Some("2026-04-20"), Some("2026-03-01"), None,
                Some("2026-03-15"), Some("2026-04-12"), Some("2026-05-15"), Some("2026-06-15"),
                Some("2026-03-20"), Some("2026-04-20"), Some("2026-06-01"),
            ].map(|d| d.map(ts)),
        )
        .unwrap();
        let subs = Subscriptions::from_rows(&rows).unwrap();
        assert_eq!((subs.rows, subs.df.height()), (12, 7));
        let src = Sources {
            events: &ev,
            users: None,
            subscriptions: Some(&subs),
            prepared: None,
        };
        let as_of = ts("2026-04-01");
        let pop = population(&src, &rule(Definition::Subscription), as_of).unwrap();
        let ids: Vec<_> = pop
            .column("user_id")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .flatten()
            .collect();
        assert_eq!(ids, ["a", "b", "d", "f"]);
        assert_eq!(
            pop.column("signup_ts").unwrap().i64().unwrap().get(0),
            Some(ts("2026-01-01"))
        );
        let y = labels(&src, &rule(Definition::Subscription), &[], &pop, as_of).unwrap();
        assert_eq!(y, [false, true, false, true]);
        // Next renewals, from start dates only. a: rows from 01-01 and 02-01, a month
        // apart: 02-01 + 2 months (04-01 is T itself, not after it). b: one row, so the
        // table's typical cycle (intervals of 31, 28, 31, 30 and 28 days: a month) from
        // 01-01. d: its rows of 02-15 and 03-15 (the one of 04-15 starts after T). f: its
        // period running at T joins 02-20 and 03-20; the row of 05-01 is a later period.
        let next: Vec<_> = pop
            .column("renewal_ts")
            .unwrap()
            .i64()
            .unwrap()
            .iter()
            .collect();
        let want = ["2026-05-01", "2026-05-01", "2026-04-15", "2026-04-20"].map(|d| Some(ts(d)));
        assert_eq!(next, want);
        // Renewals by T + 28 days (04-29): d's and f's one each.
        let count: Vec<_> = pop
            .column("renewals")
            .unwrap()
            .u32()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(count, [Some(0), Some(0), Some(1), Some(1)]);
        // The table says nothing of cancellations: none pending.
        assert_eq!(pop.column("cancel_ts").unwrap().null_count(), 4);
        // Nor of trials.
        let trial = pop.column("in_trial").unwrap().bool().unwrap();
        assert_eq!(trial.sum(), Some(0));
        // The inactivity definition's population has no renewals.
        let pop = population(&src, &rule(Definition::Inactivity), as_of).unwrap();
        assert!(pop.column("renewal_ts").is_err());
        assert!(pop.column("cancel_ts").is_err());
    }
}
