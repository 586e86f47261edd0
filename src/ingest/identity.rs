//! Who an event belongs to. Analytics exports carry two ids: the identified user (set
//! once someone signs in) and an anonymous device or cookie id (set from the first
//! visit). The list is about identified users only, so:
//!
//! - an event carrying both ids links the anonymous id to the user (the earliest such
//!   event wins when a device is shared);
//! - an event with only an anonymous id belongs to the user that id is linked to (the
//!   visits before sign-up count as that user's), and is anonymous traffic — counted,
//!   never scored, never a reject — when it is linked to none;
//! - identity calls (Segment `identify`, Mixpanel `$identify`, …) link ids and are then
//!   dropped: they are not product use.
//!
//! A user id that equals the row's anonymous id, or starts with an anonymous prefix
//! (Mixpanel's `$device:`), is anonymous.

use std::collections::{HashMap, HashSet};

use foldhash::fast::FixedState;

use polars::prelude::*;
use serde::Serialize;

use super::mapping::ColumnMap;
use crate::error::Result;

/// The anonymous-id column of the frame being resolved (dropped by [`resolve`]).
pub(super) const ANON: &str = "anon_id";

/// What identity resolution did to a log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct IdentitySummary {
    /// Rows whose only id is an anonymous one linked to no user: not scored.
    pub anonymous_rows: u64,
    /// Distinct anonymous ids among them (visitors who never identified).
    pub anonymous_visitors: u64,
    /// Rows of identity calls (not product use).
    pub identity_calls: u64,
    /// Rows of other events that are not product use ([`ColumnMap::not_use`]).
    pub not_use: u64,
    /// Anonymous rows attributed to the user their anonymous id is linked to.
    pub stitched_rows: u64,
    /// Distinct anonymous ids whose rows were attributed to a user.
    pub stitched_ids: u64,
}

impl IdentitySummary {
    /// One line for `check` and the logs; `None` when nothing was resolved.
    pub fn describe(&self) -> Option<String> {
        if *self
            == (IdentitySummary {
                not_use: self.not_use,
                ..IdentitySummary::default()
            })
        {
            return None;
        }
        Some(format!(
            "identity: {} rows of {} anonymous visitors who never identified (not scored); \
             {} anonymous rows of {} visitors attributed to the user they identified as; \
             {} identity calls (not product use)",
            self.anonymous_rows,
            self.anonymous_visitors,
            self.stitched_rows,
            self.stitched_ids,
            self.identity_calls
        ))
    }
}

/// Whether `map` asks for identity resolution at all (the canonical layout does not).
pub(super) fn applies(map: &ColumnMap) -> bool {
    !map.anonymous_id.is_empty()
        || !map.anonymous_prefixes.is_empty()
        || map.identified_flag.is_some()
        || !map.identity_events.is_empty()
        || !map.not_use.is_empty()
}

/// Resolves `df`'s `user_id` (and [`ANON`], when present) to the identified user and
/// drops anonymous traffic and identity calls. Rows with no id at all are kept, for the
/// checks to reject as a missing `user_id`.
pub(super) fn resolve(df: DataFrame, map: &ColumnMap) -> Result<(DataFrame, IdentitySummary)> {
    resolve_in(&df, map).and_then(|(user, keep, summary)| finish(df, user, keep, summary))
}

/// The resolved user column, the rows to keep, and the counts.
fn resolve_in(
    df: &DataFrame,
    map: &ColumnMap,
) -> Result<(StringChunked, BooleanChunked, IdentitySummary)> {
    let n = df.height();
    let user = df.column("user_id")?.str()?;
    let no_anon;
    let anon = match df.column(ANON) {
        Ok(c) => c.str()?,
        Err(_) => {
            no_anon = StringChunked::full_null(ANON.into(), n);
            &no_anon
        }
    };
    let event = df.column("event")?.str()?;
    let ts = df.column("ts")?.i64()?;
    let prefixes = &map.anonymous_prefixes;
    let identity: HashSet<&str> = map.identity_events.iter().map(String::as_str).collect();
    let not_use: HashSet<&str> = map.not_use.iter().map(String::as_str).collect();

    let ids = |u, a| split_ids(u, a, prefixes);
    let rows = || user.iter().zip(anon.iter());

    // Links: anonymous id → the user of its earliest event carrying both.
    let mut links: HashMap<&str, (i64, &str), FixedState> = HashMap::default();
    for ((u, a), t) in rows().zip(ts.iter()) {
        if let (Some(u), Some(a)) = ids(u, a) {
            let t = t.unwrap_or(i64::MAX);
            let e = links.entry(a).or_insert((t, u));
            if t < e.0 {
                *e = (t, u);
            }
        }
    }
    // A row's user: its own, the one its anonymous id is linked to, or none.
    let owner = |u, a| match ids(u, a) {
        (Some(u), _) => Ok(Some(u)),
        (None, Some(a)) => links.get(a).map(|&(_, u)| Some(u)).ok_or(a),
        (None, None) => Ok(None),
    };

    let mut summary = IdentitySummary::default();
    let mut anonymous: HashSet<&str, FixedState> = HashSet::default();
    let mut stitched: HashSet<&str, FixedState> = HashSet::default();
    let mut keep: Vec<bool> = Vec::with_capacity(n);
    // Whether any row's user is not the one its column holds.
    let mut changed = false;
    for ((u, a), e) in rows().zip(event.iter()) {
        // Not product use (an uninstall): dropped, neither a visit nor a call.
        if e.is_some_and(|e| not_use.contains(e)) {
            summary.not_use += 1;
            keep.push(false);
            continue;
        }
        let call = e.is_some_and(|e| identity.contains(e));
        summary.identity_calls += u64::from(call);
        let who = match ids(u, a) {
            (Some(who), _) => Some(who),
            (None, Some(a)) => match links.get(a) {
                Some(&(_, who)) => {
                    if !call {
                        summary.stitched_rows += 1;
                        stitched.insert(a);
                    }
                    Some(who)
                }
                None => {
                    if !call {
                        summary.anonymous_rows += 1;
                        anonymous.insert(a);
                    }
                    keep.push(false);
                    continue;
                }
            },
            (None, None) => None,
        };
        changed |= who != u.filter(|u| !u.is_empty());
        keep.push(!call);
    }
    summary.anonymous_visitors = anonymous.len() as u64;
    summary.stitched_ids = stitched.len() as u64;
    let resolved = if changed {
        rows()
            .map(|(u, a)| owner(u, a).ok().flatten())
            .collect::<StringChunked>()
    } else {
        user.clone()
    };
    let keep: BooleanChunked = keep.into_iter().map(Some).collect();
    Ok((resolved, keep, summary))
}

/// A row's identified user and anonymous id, from its two id columns.
fn split_ids<'s>(
    user: Option<&'s str>,
    anon: Option<&'s str>,
    anonymous_prefixes: &[String],
) -> (Option<&'s str>, Option<&'s str>) {
    let a = anon.filter(|a| !a.is_empty());
    match user.filter(|u| !u.is_empty()) {
        Some(u) => match anonymous_prefixes
            .iter()
            .find(|p| u.starts_with(p.as_str()))
        {
            Some(p) => (None, a.or(Some(&u[p.len()..]).filter(|s| !s.is_empty()))),
            None if Some(u) == a => (None, a),
            None => (Some(u), a),
        },
        None => (None, a),
    }
}

/// `df` with the resolved user column, without [`ANON`], and only the rows kept.
fn finish(
    mut df: DataFrame,
    user: StringChunked,
    keep: BooleanChunked,
    summary: IdentitySummary,
) -> Result<(DataFrame, IdentitySummary)> {
    df.with_column(user.with_name("user_id".into()).into_column())?;
    if df.column(ANON).is_ok() {
        df = df.drop(ANON)?;
    }
    let df = if keep.all() { df } else { df.filter(&keep)? };
    Ok((df, summary))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::Preset;

    fn frame(rows: &[(Option<&str>, Option<&str>, i64, &str)]) -> DataFrame {
        df!(
            "user_id" => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            ANON => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            "ts" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            "event" => rows.iter().map(|r| r.3).collect::<Vec<_>>(),
        )
        .unwrap()
    }

    fn users(df: &DataFrame) -> Vec<(Option<String>, String)> {
        let u = df.column("user_id").unwrap().str().unwrap();
        let e = df.column("event").unwrap().str().unwrap();
        u.iter()
            .zip(e.iter())
            .map(|(u, e)| (u.map(String::from), e.unwrap_or("").to_string()))
            .collect()
    }

    #[test]
    fn visits_before_sign_up_belong_to_the_user_and_strangers_are_not_scored() {
        let df = frame(&[
            (None, Some("d-2"), 1, "page"),
            (None, Some("d-2"), 2, "pricing_viewed"),
            (Some("u2"), Some("d-2"), 3, "identify"),
            (Some("u2"), Some("d-2"), 4, "login"),
            (None, Some("v-9"), 5, "page"),
            (None, Some("v-9"), 6, "page"),
            (Some("u3"), None, 7, "identify"),
            (None, None, 8, "page"),
        ]);
        let map = ColumnMap::preset(Preset::Segment);
        let (out, s) = resolve(df, &map).unwrap();
        let got = users(&out);
        let want: Vec<(Option<String>, String)> = vec![
            (Some("u2".into()), "page".into()),
            (Some("u2".into()), "pricing_viewed".into()),
            (Some("u2".into()), "login".into()),
            // No id at all: kept for the checks to reject as a missing user_id.
            (None, "page".into()),
        ];
        assert_eq!(got, want);
        assert!(out.column(ANON).is_err());
        assert_eq!(
            s,
            IdentitySummary {
                anonymous_rows: 2,
                anonymous_visitors: 1,
                identity_calls: 2,
                stitched_rows: 2,
                stitched_ids: 1,
                not_use: 0,
            }
        );
        assert!(s
            .describe()
            .unwrap()
            .contains("2 rows of 1 anonymous visitors"));
    }

    /// Events that are not product use are dropped and counted, whoever sent them; with
    /// nothing else resolved there is no identity line.
    #[test]
    fn events_that_are_not_product_use_are_dropped_and_counted() {
        let df = frame(&[
            (Some("u1"), None, 1, "level_complete"),
            (Some("u1"), None, 2, "uninstall"),
            (Some("u2"), None, 3, "uninstall"),
        ]);
        let map = ColumnMap {
            not_use: vec!["uninstall".into()],
            ..ColumnMap::default()
        };
        assert!(applies(&map));
        let (out, s) = resolve(df, &map).unwrap();
        assert_eq!(users(&out), [(Some("u1".into()), "level_complete".into())]);
        assert_eq!(s.not_use, 2);
        assert_eq!(s.describe(), None);
        assert!(ColumnMap::preset(Preset::Ga4)
            .not_use
            .contains(&"app_remove".to_string()));
    }

    #[test]
    fn mixpanel_device_ids_are_anonymous_and_a_shared_device_goes_to_its_first_user() {
        let df = frame(&[
            (Some("$device:d-2"), Some("d-2"), 1, "page"),
            (Some("$device:d-4"), None, 2, "page"),
            // Original ID merge: distinct_id is the device id itself.
            (Some("d-5"), Some("d-5"), 3, "page"),
            (Some("u2"), Some("d-2"), 10, "login"),
            (Some("u7"), Some("d-2"), 9, "login"),
        ]);
        let map = ColumnMap::preset(Preset::Mixpanel);
        let (out, s) = resolve(df, &map).unwrap();
        let got: Vec<_> = users(&out).into_iter().map(|(u, _)| u.unwrap()).collect();
        // d-2's earliest link is to u7 (time 9).
        assert_eq!(got, ["u7", "u2", "u7"]);
        assert_eq!(s.anonymous_rows, 2);
        assert_eq!(s.anonymous_visitors, 2);
        assert_eq!(s.stitched_rows, 1);
    }

    #[test]
    fn the_canonical_layout_needs_no_resolution() {
        assert!(!applies(&ColumnMap::default()));
        assert!(applies(&ColumnMap::preset(Preset::Ga4)));
    }
}
