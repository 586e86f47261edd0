//! The event log regrouped for per-user work: every user's events contiguous and in time
//! order, as plain integer columns (event codes, role flags, session numbers). Built once
//! per log; every as-of date then reads each user's slice once. It holds no features.

use std::collections::HashMap;

use polars::prelude::*;
use rayon::prelude::*;

use crate::error::Result;
use crate::ingest::group::{split_by, times};
use crate::ingest::{keys, Events, Groups};

/// Role flags of an event row.
pub const PRESENCE: u8 = 1;
pub const VALUE: u8 = 2;
pub const ACTIVATION: u8 = 4;
pub const CORE: u8 = 8;
pub const FEEDBACK: u8 = 16;
pub const FRICTION: u8 = 32;

/// Events grouped by user (compressed rows: user `u` owns rows `offsets[u]..offsets[u + 1]`),
/// each user's rows sorted by time.
#[derive(Debug)]
pub struct EventIndex {
    /// User id → user number.
    pub users: PlHashMap<String, u32>,
    pub offsets: Vec<usize>,
    pub ts: Vec<i64>,
    /// Event name codes (see `codes`).
    pub code: Vec<u32>,
    /// Role flags ([`PRESENCE`], [`VALUE`], …) of the row's event.
    pub role: Vec<u8>,
    /// The `value` column; NaN where it is empty.
    pub value: Vec<f64>,
    /// Session numbers within the user: equal exactly when the `session_id`s are equal.
    pub session: Vec<u32>,
}

impl EventIndex {
    /// Regroups `events`; `codes` numbers every event name, `role_of[code]` its flags.
    pub fn build(events: &Events, codes: &HashMap<String, u32>, role_of: &[u8]) -> Result<Self> {
        let df = &events.df;
        let n = df.height();
        let clock = std::time::Instant::now();
        let ts_all = times(df.column("ts")?.i64()?);
        let built;
        let groups = match &events.groups {
            Some(g) => g.as_ref(),
            None => {
                built = Groups::build(df.column("user_id")?.str()?, &ts_all)?;
                &built
            }
        };
        let (users, offsets, order) = (groups.users.clone(), groups.offsets.clone(), &groups.order);
        debug_assert_eq!(order.len(), n);
        tracing::trace!(
            "index: {} users grouped by {:?}",
            users.len(),
            clock.elapsed()
        );
        let ts = gather(&ts_all, order);
        drop(ts_all);
        tracing::trace!("index: times in order by {:?}", clock.elapsed());

        let lookup: PlHashMap<u128, u32> =
            codes.iter().map(|(k, &v)| (keys::key_of(k), v)).collect();
        let code_all = map_keys(df.column("event")?.str()?, |k| {
            lookup.get(&k).copied().unwrap_or(u32::MAX)
        });
        let code = gather(&code_all, order);
        drop(code_all);
        let role = code
            .par_iter()
            .map(|&c| role_of.get(c as usize).copied().unwrap_or(0))
            .collect();
        tracing::trace!("index: event codes by {:?}", clock.elapsed());

        let value_all = values_or_nan(df.column("value")?.cast(&DataType::Float64)?.f64()?);
        let value = gather(&value_all, order);
        drop(value_all);
        tracing::trace!("index: values by {:?}", clock.elapsed());

        // Sessions numbered within each user, in time order. Each id's key is made in log
        // order (reading the ids user by user would miss the cache on every row).
        let keys = map_keys(df.column("session_id")?.str()?, |k| k);
        let mut session = vec![0u32; n];
        let mut per_user: Vec<(&mut [u32], &[u32])> = split_by(&mut session, &offsets)
            .into_iter()
            .zip(offsets.windows(2).map(|w| &order[w[0]..w[1]]))
            .collect();
        per_user.par_iter_mut().for_each_init(
            PlHashMap::<u128, u32>::default,
            |seen, (numbers, rows)| {
                seen.clear();
                let mut last = None;
                for (out, &row) in numbers.iter_mut().zip(rows.iter()) {
                    let key = keys[row as usize];
                    // Most events continue the session of the one before.
                    *out = match last {
                        Some((k, number)) if k == key => number,
                        _ => {
                            let next = seen.len() as u32;
                            *seen.entry(key).or_insert(next)
                        }
                    };
                    last = Some((key, *out));
                }
            },
        );
        drop(per_user);
        drop(keys);
        tracing::trace!("index: sessions numbered by {:?}", clock.elapsed());

        Ok(EventIndex {
            users,
            offsets,
            ts,
            code,
            role,
            value,
            session,
        })
    }

    /// The rows of user `u`.
    pub fn rows(&self, u: u32) -> std::ops::Range<usize> {
        self.offsets[u as usize]..self.offsets[u as usize + 1]
    }
}

/// `f` of the key of every cell of a text column (see [`keys`]), in row order, in blocks
/// over the threads.
fn map_keys<T: Copy + Send + Default>(ca: &StringChunked, f: impl Fn(u128) -> T + Sync) -> Vec<T> {
    let mut out = vec![T::default(); ca.len()];
    let bounds = keys::block_bounds(ca.len());
    split_by(&mut out, &bounds)
        .into_par_iter()
        .zip(bounds.par_windows(2))
        .for_each(|(slot, w)| {
            keys::for_each_key(&ca.slice(w[0] as i64, w[1] - w[0]), |i, k| slot[i] = f(k));
        });
    out
}

/// The `value` column in one piece, NaN where it is empty.
fn values_or_nan(ca: &Float64Chunked) -> Vec<f64> {
    let mut out = Vec::with_capacity(ca.len());
    for arr in ca.downcast_iter() {
        let start = out.len();
        out.extend_from_slice(arr.values());
        if let Some(valid) = arr.validity() {
            for (i, v) in out[start..].iter_mut().enumerate() {
                if !valid.get_bit(i) {
                    *v = f64::NAN;
                }
            }
        }
    }
    out
}

/// `v` in the order of `rows`.
fn gather<T: Copy + Send + Sync>(v: &[T], rows: &[u32]) -> Vec<T> {
    rows.par_iter().map(|&i| v[i as usize]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(rows: &[(&str, i64, &str, Option<f64>, &str)]) -> Events {
        let df = df!(
            "user_id" => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            "ts" => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            "event" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            "value" => rows.iter().map(|r| r.3).collect::<Vec<_>>(),
            "session_id" => rows.iter().map(|r| r.4).collect::<Vec<_>>(),
        )
        .unwrap();
        Events {
            df,
            path: "t.csv".into(),
            min_ts: 0,
            max_ts: 0,
            sessions_derived: false,
            groups: None,
        }
    }

    #[test]
    fn groups_users_in_time_order_with_their_own_session_numbers() {
        // b's rows arrive out of time order; both users have a session called "s1".
        let ev = events(&[
            ("b", 30, "make", Some(2.5), "s1"),
            ("a", 10, "login", None, "s1"),
            ("b", 10, "login", None, "s2"),
            ("a", 20, "make", Some(1.0), "s1"),
            ("b", 20, "login", None, "s1"),
            ("b", 10, "make", None, "s2"),
        ]);
        let codes: HashMap<String, u32> = [("login".to_string(), 0), ("make".to_string(), 1)]
            .into_iter()
            .collect();
        let ix = EventIndex::build(&ev, &codes, &[PRESENCE, VALUE]).unwrap();
        let (a, b) = (ix.users["a"], ix.users["b"]);
        assert_eq!((a, b), (1, 0), "numbered in order of first appearance");
        let a_rows = ix.rows(a);
        assert_eq!(&ix.ts[a_rows.clone()], &[10, 20]);
        assert_eq!(&ix.session[a_rows.clone()], &[0, 0]);
        assert_eq!(&ix.role[a_rows.clone()], &[PRESENCE, VALUE]);
        let b_rows = ix.rows(b);
        // Sorted by time; equal times keep the log's order (login before make at 10).
        assert_eq!(&ix.ts[b_rows.clone()], &[10, 10, 20, 30]);
        assert_eq!(&ix.code[b_rows.clone()], &[0, 1, 0, 1]);
        // b's "s2" came first in time, so it is b's session 0; "s1" is b's session 1.
        assert_eq!(&ix.session[b_rows.clone()], &[0, 0, 1, 1]);
        let v = &ix.value[b_rows];
        assert!(v[0].is_nan() && v[1].is_nan() && v[2].is_nan());
        assert_eq!(v[3], 2.5);
        assert_eq!(ix.value[a_rows.end - 1], 1.0);
    }

    #[test]
    fn an_empty_log_has_no_users() {
        let ev = events(&[]);
        let ix = EventIndex::build(&ev, &HashMap::new(), &[]).unwrap();
        assert!(ix.users.is_empty());
        assert_eq!(ix.offsets, vec![0]);
    }
}
