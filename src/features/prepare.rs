//! The log prepared once for every as-of date: regrouped by user (`index`), each event
//! name's roles, the typical gap between value actions, and the event types worth a
//! feature of their own.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use polars::prelude::*;
use rayon::prelude::*;

use super::bgnbd::Summary;
use super::index::{EventIndex, ACTIVATION, CORE, FEEDBACK, FRICTION, PRESENCE, VALUE};
use super::spec::FeatureSpec;
use super::tally::days;
use crate::base::time::DAY_MS;
use crate::error::Result;
use crate::ingest::Events;

/// The event log regrouped by user with the role flags of a feature spec, ready for any
/// as-of date.
#[derive(Clone)]
pub struct Prepared {
    pub(super) index: Arc<EventIndex>,
    /// Every event name of the log → a small integer.
    pub(super) codes: Arc<HashMap<String, u32>>,
    /// The log's first event: nobody is observable before it.
    pub(super) min_ts: i64,
}

/// Numbers the event names, flags each with its roles and regroups the log by user.
pub fn prepare(events: &Events, spec: &FeatureSpec) -> Result<Prepared> {
    let (codes, role_of) = event_roles(events, spec)?;
    let clock = std::time::Instant::now();
    let index = EventIndex::build(events, &codes, &role_of)?;
    tracing::debug!("events grouped by user in {:?}", clock.elapsed());
    Ok(Prepared {
        index: Arc::new(index),
        codes: Arc::new(codes),
        min_ts: events.min_ts,
    })
}

/// As [`prepare`], for a caller that reads the log no more: its rows are given away and
/// freed column by column as the index takes them in, which lowers the run's peak memory
/// by about the size of the log's text columns.
pub fn prepare_owned(events: Events, spec: &FeatureSpec) -> Result<Prepared> {
    let (codes, role_of) = event_roles(&events, spec)?;
    let clock = std::time::Instant::now();
    let min_ts = events.min_ts;
    let index = EventIndex::from_rows(events.df, events.groups, &codes, &role_of)?;
    tracing::debug!("events grouped by user in {:?}", clock.elapsed());
    Ok(Prepared {
        index: Arc::new(index),
        codes: Arc::new(codes),
        min_ts,
    })
}

/// Every event name of the log numbered, and each number's role flags.
pub(super) fn event_roles(
    events: &Events,
    spec: &FeatureSpec,
) -> Result<(HashMap<String, u32>, Vec<u8>)> {
    let e = &spec.file.events;
    let codes: HashMap<String, u32> = event_names(events)?
        .into_iter()
        .enumerate()
        .map(|(i, name)| (name, i as u32))
        .collect();
    // Without login events every event marks presence.
    let mut role_of = vec![if e.login.is_empty() { PRESENCE } else { 0 }; codes.len()];
    for (names, bit) in [
        (&e.login, PRESENCE),
        (&e.value, VALUE),
        (&e.activation, ACTIVATION),
        (&e.core, CORE),
        (&e.feedback, FEEDBACK),
        (&e.friction, FRICTION),
    ] {
        for c in names.iter().filter_map(|n| codes.get(n)) {
            role_of[*c as usize] |= bit;
        }
    }
    Ok((codes, role_of))
}

impl Prepared {
    /// The ids of the users with an event in `[from, to)` (with `events`, one of those
    /// event names), read off the index: each user's times are sorted, so a user costs two
    /// binary searches (and, with `events`, a look at the rows between) instead of a pass
    /// over the whole log. In no particular order.
    pub fn users_with(&self, from: i64, to: i64, events: Option<&[String]>) -> Vec<String> {
        let ix = &*self.index;
        let wanted: Option<Vec<u32>> = events.map(|names| {
            names
                .iter()
                .filter_map(|n| self.codes.get(n).copied())
                .collect()
        });
        // Users in the index's order, so their rows are read in sequence, on the threads.
        let mut users: Vec<(&String, u32)> = ix.users.iter().map(|(id, &u)| (id, u)).collect();
        users.sort_unstable_by_key(|&(_, u)| u);
        users
            .into_par_iter()
            .filter(|&(_, u)| {
                let rows = ix.rows(u);
                let ts = &ix.ts[rows.clone()];
                let lo = rows.start + ts.partition_point(|&t| t < from);
                let hi = rows.start + ts.partition_point(|&t| t < to);
                match &wanted {
                    None => lo < hi,
                    Some(codes) => ix.code[lo..hi].iter().any(|c| codes.contains(c)),
                }
            })
            .map(|(id, _)| id.clone())
            .collect()
    }
}

/// One user's value actions before a date: rows of the first and last, how many, and on
/// how many distinct days (UTC).
struct ValueSpan {
    first: usize,
    last: usize,
    actions: usize,
    days: usize,
}

impl Prepared {
    /// User `u`'s value actions before `before`; `None` without any.
    fn value_span(&self, u: u32, before: i64) -> Option<ValueSpan> {
        let ix = &*self.index;
        let rows = ix.rows(u);
        let end = rows.start + ix.ts[rows.clone()].partition_point(|&t| t < before);
        let mut value = (rows.start..end).filter(|&i| ix.role[i] & VALUE != 0);
        let first = value.next()?;
        let day = |i: usize| ix.ts[i].div_euclid(DAY_MS);
        let span = ValueSpan {
            first,
            last: first,
            actions: 1,
            days: 1,
        };
        Some(value.fold(span, |s, i| ValueSpan {
            last: i,
            actions: s.actions + 1,
            days: s.days + usize::from(day(i) != day(s.last)),
            ..s
        }))
    }

    /// The log's typical gap between a user's value actions before `before`, in days: the
    /// median over users with at least two of each user's mean gap (first to last value
    /// action over their count − 1). `None` when nobody did two.
    pub fn typical_value_gap(&self, before: i64) -> Option<f64> {
        let ix = &*self.index;
        let mut gaps: Vec<f64> = ix
            .users
            .par_iter()
            .filter_map(|(_, &u)| {
                let s = self.value_span(u, before)?;
                let n = s.actions;
                (n >= 2).then(|| days(ix.ts[s.last] - ix.ts[s.first]) / (n - 1) as f64)
            })
            .collect();
        if gaps.is_empty() {
            return None;
        }
        let mid = gaps.len() / 2;
        let (_, m, _) = gaps.select_nth_unstable_by(mid, f64::total_cmp);
        Some(*m)
    }

    /// Every user's value actions before `before` as the BG/NBD model counts them (a day
    /// with several is one transaction), for
    /// users with at least one, in the index's user order (so a fit's sample is the same
    /// on every run).
    pub fn value_summaries(&self, before: i64) -> Vec<Summary> {
        let ix = &*self.index;
        let mut found: Vec<(u32, Summary)> = ix
            .users
            .par_iter()
            .filter_map(|(_, &u)| {
                let s = self.value_span(u, before)?;
                let (first, last) = (ix.ts[s.first], ix.ts[s.last]);
                Some((u, Summary::new(first, last, s.days as f64, before)))
            })
            .collect();
        found.sort_unstable_by_key(|&(u, _)| u);
        found.into_iter().map(|(_, s)| s).collect()
    }
}

/// An event type the feature definitions name that the log stopped having: none in its
/// last days, where its own pace before would have brought many (a renamed event: a
/// tracking plan's release renamed `task_completed` to `task_done`, and every user read as
/// doing no value action from then on, without a word).
#[derive(Debug, Clone, PartialEq)]
pub struct Stopped {
    pub name: String,
    /// Its role in the definitions: "value action", "login", …
    pub role: &'static str,
    /// Its last event, and how many there were.
    pub last: i64,
    pub rows: u64,
    /// The events its pace would have brought from its last to the log's last.
    pub expected: f64,
    /// Event types first seen around when it stopped (by rows, most first): a rename's
    /// new name is likely among them.
    pub new_types: Vec<(String, u64)>,
}

/// The named event types that stopped: no event in the 7 days or more before the log's
/// last one, where their rate between their own first and last events would have brought
/// 20 or more (a chance of e^-20 that such a silence is chance).
pub fn stopped_events(events: &Events, spec: &FeatureSpec) -> Result<Vec<Stopped>> {
    let e = &spec.file.events;
    let mut roles: Vec<(&str, &'static str)> = Vec::new();
    for (names, role) in [
        (&e.value, "value action"),
        (&e.activation, "activation"),
        (&e.core, "core feature"),
        (&e.login, "login"),
        (&e.friction, "friction event"),
        (&e.feedback, "feedback event"),
    ] {
        roles.extend(names.iter().map(|n| (n.as_str(), role)));
    }
    for f in &spec.file.funnels {
        roles.extend(f.steps.iter().map(|n| (n.as_str(), "funnel step")));
    }
    if roles.is_empty() || events.df.height() == 0 {
        return Ok(Vec::new());
    }
    let spans = events
        .df
        .clone()
        .lazy()
        .group_by([col("event")])
        .agg([
            len().cast(DataType::UInt64).alias("n"),
            col("ts").min().alias("first"),
            col("ts").max().alias("last"),
        ])
        .collect()?;
    let (names, n) = (spans.column("event")?.str()?, spans.column("n")?.u64()?);
    let (first, last) = (spans.column("first")?.i64()?, spans.column("last")?.i64()?);
    let types: Vec<(&str, u64, i64, i64)> = (0..spans.height())
        .filter_map(|i| Some((names.get(i)?, n.get(i)?, first.get(i)?, last.get(i)?)))
        .collect();
    let end = types.iter().map(|t| t.3).max().unwrap_or(i64::MIN);
    let start = types.iter().map(|t| t.2).min().unwrap_or(i64::MAX);
    let ts = events.df.column("ts")?.i64()?;
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for &(name, role) in &roles {
        let Some(&(_, rows, a, b)) = types.iter().find(|t| t.0 == name) else {
            continue;
        };
        if !seen.insert(name) {
            continue;
        }
        let silent = days(end - b);
        let expected = rows as f64 / days(b - a).max(1.0) * silent;
        if silent < 7.0 || expected < 20.0 {
            continue;
        }
        // A log that went quiet as a whole since (an off-season, an outage) is not a
        // rename: the rest of the log still runs at a quarter of its pace before, or more.
        let after = ts.iter().flatten().filter(|&t| t > b).count() as f64;
        let before = events.df.height() as f64 - after;
        let pace = |rows: f64, span: f64| rows / span.max(1.0);
        if pace(after, silent) < 0.25 * pace(before, days(b - start)) {
            continue;
        }
        // An event type that was this quiet before (a yearly shop's add-on out of season,
        // a school's assignments over the holidays) pauses; it has not stopped.
        if longest_gap(events, name)? >= end - b {
            continue;
        }
        // Gone longer than it ever ran (a game's live event, a campaign): it has ended. A
        // rename is told in its first weeks, not every night after.
        if end - b > b - a {
            continue;
        }
        // New around then: first seen within a week of its last, after the log's first
        // week, and not rare.
        let mut new_types: Vec<(String, u64)> = types
            .iter()
            .filter(|t| (t.2 - b).abs() <= 7 * DAY_MS && t.2 > start + 7 * DAY_MS && t.1 >= 20)
            .map(|t| (t.0.to_string(), t.1))
            .collect();
        // A new name given the same role is the rename written down (`value = ["old",
        // "new"]` keeps the history before it): nothing to say.
        let renamed = new_types
            .iter()
            .any(|(n, _)| roles.iter().any(|&(r, what)| r == n && what == role));
        if renamed {
            continue;
        }
        new_types.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
        new_types.truncate(3);
        out.push(Stopped {
            name: name.to_string(),
            role,
            last: b,
            rows,
            expected,
            new_types,
        });
    }
    Ok(out)
}

/// The longest time between two consecutive events of type `name` in the log (0 with
/// fewer than two).
fn longest_gap(events: &Events, name: &str) -> Result<i64> {
    let mut ts: Vec<i64> = {
        let df = events
            .df
            .clone()
            .lazy()
            .filter(col("event").eq(lit(name)))
            .select([col("ts")])
            .collect()?;
        df.column("ts")?.i64()?.iter().flatten().collect()
    };
    ts.sort_unstable();
    Ok(ts.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0))
}

/// The distinct event names in the log.
pub fn event_names(events: &Events) -> Result<BTreeSet<String>> {
    if let Some(names) = events.names.get() {
        return Ok(names.clone());
    }
    let names: BTreeSet<String> = crate::ingest::keys::distinct(events.df.column("event")?.str()?)
        .into_iter()
        .collect();
    let _ = events.names.set(names.clone());
    Ok(names)
}

/// The `k` most frequent event types before `before` (ties by name), for per-event rates.
pub fn top_event_types(
    events: &Events,
    before: i64,
    k: usize,
    exclude: &[String],
) -> Result<Vec<String>> {
    if k == 0 {
        return Ok(Vec::new());
    }
    Ok(event_type_rows(events, before)?
        .into_iter()
        .map(|(e, _)| e)
        .filter(|e| !exclude.contains(e))
        .take(k)
        .collect())
}

/// Each event type with its rows before `before`, most first (ties by name).
pub fn event_type_rows(events: &Events, before: i64) -> Result<Vec<(String, u64)>> {
    let counts = events
        .df
        .clone()
        .lazy()
        .filter(col("ts").lt(lit(before)))
        .group_by([col("event")])
        .agg([len().cast(DataType::UInt64).alias("n")])
        .sort_by_exprs(
            [col("n"), col("event")],
            SortMultipleOptions::default().with_order_descending_multi([true, false]),
        )
        .collect()?;
    let rows = counts.column("n")?.u64()?;
    Ok(counts
        .column("event")?
        .str()?
        .iter()
        .zip(rows.iter())
        .filter_map(|(e, n)| Some((e?.to_string(), n?)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::events;

    /// A value event renamed on day 40 of 60: named alone it has stopped, and the new name
    /// is offered; named beside the new one (the rename written down) it has not. A rare
    /// event's silence of the same length is chance, not a stop.
    #[test]
    fn a_renamed_event_is_found_and_a_rare_one_is_not() {
        let t0 = crate::base::time::parse_timestamp("2026-01-05").unwrap();
        let mut rows: Vec<(String, i64, &str)> = Vec::new();
        for day in 0..60i64 {
            for k in 0..5i64 {
                let at = t0 + day * DAY_MS + k * 3_600_000;
                let user = format!("u{k}");
                rows.push((
                    user.clone(),
                    at,
                    if day < 40 { "done_old" } else { "done_new" },
                ));
                rows.push((user, at + 60_000, "login"));
            }
            if day % 10 == 0 && day <= 30 {
                rows.push(("u0".into(), t0 + day * DAY_MS, "rare"));
            }
        }
        let rows: Vec<(&str, i64, &str)> = rows.iter().map(|r| (r.0.as_str(), r.1, r.2)).collect();
        let ev = events(&rows);
        let spec = |text: &str| FeatureSpec::from_toml(text, "f.toml".as_ref()).unwrap();
        let alone =
            spec("[events]\nlogin = [\"login\"]\nvalue = [\"done_old\"]\nfriction = [\"rare\"]\n");
        let found = stopped_events(&ev, &alone).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        let s = &found[0];
        assert_eq!(
            (s.name.as_str(), s.role, s.rows),
            ("done_old", "value action", 200)
        );
        assert_eq!(s.last, t0 + 39 * DAY_MS + 4 * 3_600_000);
        // 200 events over 39 days, silent for 20 of them: about 103 expected.
        assert!((s.expected - 103.0).abs() < 1.0, "{}", s.expected);
        assert_eq!(s.new_types, [("done_new".to_string(), 100)]);
        let both = spec("[events]\nlogin = [\"login\"]\nvalue = [\"done_old\", \"done_new\"]\n");
        assert_eq!(stopped_events(&ev, &both).unwrap(), []);
        // An off-season: after day 40 the whole log goes quiet (a login every 4 days): no
        // rename to speak of.
        let season: Vec<(&str, i64, &str)> = rows
            .iter()
            .filter(|r| r.1 < t0 + 40 * DAY_MS && r.2 != "done_new")
            .copied()
            .chain(
                (40..60)
                    .step_by(4)
                    .map(|d| ("u1", t0 + d * DAY_MS, "login")),
            )
            .collect();
        assert_eq!(stopped_events(&events(&season), &alone).unwrap(), []);
        // A seasonal event: already as quiet once before (days 5 to 30), so its silence
        // since day 40 is a pause.
        let paused: Vec<(&str, i64, &str)> = rows
            .iter()
            .filter(|r| r.2 != "done_new")
            .filter(|r| r.2 != "done_old" || !(t0 + 5 * DAY_MS..t0 + 30 * DAY_MS).contains(&r.1))
            .copied()
            .collect();
        assert_eq!(stopped_events(&events(&paused), &alone).unwrap(), []);
        // A live event run on days 30 to 39 and gone for the 20 since: longer than it ran,
        // so it has ended.
        let live: Vec<(&str, i64, &str)> = rows
            .iter()
            .filter(|r| r.2 != "done_old" || r.1 >= t0 + 30 * DAY_MS)
            .copied()
            .collect();
        assert_eq!(stopped_events(&events(&live), &alone).unwrap(), []);
    }
}
