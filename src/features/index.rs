//! The event log regrouped for per-user work: every user's events contiguous and in time
//! order, as plain integer columns (event codes, role flags, session numbers). Built once
//! per log; every as-of date then reads each user's slice once. It holds no features.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use polars::prelude::*;
use rayon::prelude::*;

use crate::error::Result;
use crate::ingest::group::{atomics, split_by};
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
        Self::from_rows(events.df.clone(), events.groups.clone(), codes, role_of)
    }

    /// As [`EventIndex::build`], from a log's rows and grouping given away: each column
    /// of `df` is freed as soon as it is read, and a grouping held nowhere else becomes the
    /// index's own, so the log and its index are never in memory whole side by side.
    pub fn from_rows(
        mut df: DataFrame,
        groups: Option<Arc<Groups>>,
        codes: &HashMap<String, u32>,
        role_of: &[u8],
    ) -> Result<Self> {
        let n = df.height();
        let clock = std::time::Instant::now();
        let groups = match groups {
            Some(g) => g,
            None => Arc::new(Groups::build(
                df.column("user_id")?.str()?,
                df.column("ts")?.i64()?,
            )?),
        };
        df.drop_in_place("user_id")?;
        df.drop_in_place("ts")?;
        let (users, offsets, ts, place) = regroup(groups, n, clock);

        let (code, role) = event_codes(&mut df, n, &place, codes, role_of)?;
        tracing::trace!("index: event codes by {:?}", clock.elapsed());

        let value = df.drop_in_place("value")?;
        let value = scatter_values(value.cast(&DataType::Float64)?.f64()?, &place);
        tracing::trace!("index: values by {:?}", clock.elapsed());

        let session = session_numbers(df, place, &offsets, n)?;
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

/// The parts of an index a grouping gives: its users, offsets and times (moved out when
/// nobody else holds it, else copied), and where each log row goes in grouped order.
fn regroup(
    groups: Arc<Groups>,
    n: usize,
    clock: std::time::Instant,
) -> (PlHashMap<String, u32>, Vec<usize>, Vec<i64>, Vec<u32>) {
    // Owned when nobody else holds the grouping: its parts move into the index.
    let shared;
    let owned_order;
    let (users, offsets, ts, order): (_, _, _, &[u32]) = match Arc::try_unwrap(groups) {
        Ok(g) => {
            owned_order = g.order;
            (g.users, g.offsets, g.ts, &owned_order)
        }
        Err(g) => {
            shared = g;
            (
                shared.users.clone(),
                shared.offsets.clone(),
                shared.ts.clone(),
                &shared.order,
            )
        }
    };
    debug_assert_eq!(order.len(), n);
    tracing::trace!(
        "index: {} users grouped, times in order by {:?}",
        users.len(),
        clock.elapsed()
    );

    // Every column is read in log order and each row written to its place in the
    // grouped order (reads in sequence, writes out of order: a store does not wait
    // for memory as a load does), on the threads.
    let place = places(order);
    tracing::trace!("index: places by {:?}", clock.elapsed());
    (users, offsets, ts, place)
}

/// Each row's event code (`u32::MAX` for a name `codes` lacks) and role flags, in grouped
/// order; the event column is freed once read.
fn event_codes(
    df: &mut DataFrame,
    n: usize,
    place: &[u32],
    codes: &HashMap<String, u32>,
    role_of: &[u8],
) -> Result<(Vec<u32>, Vec<u8>)> {
    let lookup: PlHashMap<u128, u32> = codes.iter().map(|(k, &v)| (keys::key_of(k), v)).collect();
    let event = df.drop_in_place("event")?;
    let code = atomics(n, || AtomicU32::new(u32::MAX));
    scatter_keys(event.str()?, place, |p, k| {
        let c = lookup.get(&k).copied().unwrap_or(u32::MAX);
        code[p].store(c, Relaxed);
    });
    drop(event);
    let code: Vec<u32> = code.into_iter().map(AtomicU32::into_inner).collect();
    let role = code
        .par_iter()
        .map(|&c| role_of.get(c as usize).copied().unwrap_or(0))
        .collect();
    Ok((code, role))
}

/// Sessions numbered within each user, in time order, from the ids' keys put in grouped
/// order (a key as two words). The rest of the log and `place` are freed once read.
fn session_numbers(
    mut df: DataFrame,
    place: Vec<u32>,
    offsets: &[usize],
    n: usize,
) -> Result<Vec<u32>> {
    let session_id = df.drop_in_place("session_id")?;
    let key_words = atomics(2 * n, || AtomicU64::new(0));
    scatter_keys(session_id.str()?, &place, |p, k| {
        key_words[2 * p].store(k as u64, Relaxed);
        key_words[2 * p + 1].store((k >> 64) as u64, Relaxed);
    });
    drop(session_id);
    drop(place);
    drop(df);
    let key_of_row = |j: usize| {
        u128::from(key_words[2 * j].load(Relaxed))
            | (u128::from(key_words[2 * j + 1].load(Relaxed)) << 64)
    };
    let mut session = vec![0u32; n];
    let mut per_user: Vec<(usize, &mut [u32])> = offsets
        .iter()
        .copied()
        .zip(split_by(&mut session, offsets))
        .collect();
    per_user.par_iter_mut().for_each_init(
        PlHashMap::<u128, u32>::default,
        |seen, (first, numbers)| {
            seen.clear();
            let mut last = None;
            for (j, out) in numbers.iter_mut().enumerate() {
                let key = key_of_row(*first + j);
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
    drop(key_words);
    Ok(session)
}

/// Each log row's place in the grouped order (the inverse of `order`).
fn places(order: &[u32]) -> Vec<u32> {
    let place = atomics(order.len(), || AtomicU32::new(0));
    order
        .par_iter()
        .enumerate()
        .with_min_len(1 << 16)
        .for_each(|(j, &row)| place[row as usize].store(j as u32, Relaxed));
    place.into_iter().map(AtomicU32::into_inner).collect()
}

/// Calls `put(place[row], key)` with the key (see [`keys`]) of every cell of a text
/// column, reading it in blocks of rows over the threads.
fn scatter_keys(ca: &StringChunked, place: &[u32], put: impl Fn(usize, u128) + Sync) {
    let bounds = keys::block_bounds(ca.len());
    bounds.par_windows(2).for_each(|w| {
        let place = &place[w[0]..w[1]];
        keys::for_each_key(&ca.slice(w[0] as i64, w[1] - w[0]), |i, k| {
            put(place[i] as usize, k)
        });
    });
}

/// The `value` column in grouped order; NaN where it is empty.
fn scatter_values(ca: &Float64Chunked, place: &[u32]) -> Vec<f64> {
    let out = atomics(ca.len(), || AtomicU64::new(f64::NAN.to_bits()));
    let bounds = keys::block_bounds(ca.len());
    bounds.par_windows(2).for_each(|w| {
        let part = ca.slice(w[0] as i64, w[1] - w[0]);
        let mut row = w[0];
        for arr in part.downcast_iter() {
            let valid = arr.validity();
            for (i, &v) in arr.values().iter().enumerate() {
                if valid.is_none_or(|b| b.get_bit(i)) {
                    out[place[row] as usize].store(v.to_bits(), Relaxed);
                }
                row += 1;
            }
        }
    });
    out.into_iter()
        .map(|v| f64::from_bits(v.into_inner()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::events_with as events;

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
    fn an_index_from_rows_given_away_equals_one_from_the_borrowed_log() {
        let (_dir, ev) = crate::fixtures::loaded_sample(40);
        let names = crate::features::event_names(&ev).unwrap();
        let codes: HashMap<String, u32> = names
            .into_iter()
            .enumerate()
            .map(|(i, n)| (n, i as u32))
            .collect();
        let role_of: Vec<u8> = (0..codes.len()).map(|c| (c % 64) as u8).collect();
        let borrowed = EventIndex::build(&ev, &codes, &role_of).unwrap();
        let mut ev = ev;
        let rows = ev.take_rows();
        assert_eq!(ev.rows(), 0);
        let owned = EventIndex::from_rows(rows.df, rows.groups, &codes, &role_of).unwrap();
        assert!(borrowed.ts.len() > 1000);
        assert_eq!(owned.users, borrowed.users);
        assert_eq!(owned.offsets, borrowed.offsets);
        assert_eq!(owned.ts, borrowed.ts);
        assert_eq!(owned.code, borrowed.code);
        assert_eq!(owned.role, borrowed.role);
        assert_eq!(owned.session, borrowed.session);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&owned.value), bits(&borrowed.value));
        // Times ascend within each user.
        for u in 0..owned.users.len() as u32 {
            assert!(owned.ts[owned.rows(u)].windows(2).all(|w| w[0] <= w[1]));
        }
    }

    #[test]
    fn values_land_at_their_rows_places() {
        // Two pieces, values here and there, across the pieces' boundary; rows reversed.
        let mut ca: Float64Chunked = (0..150)
            .map(|i| (i % 7 == 0 || i == 149).then_some(i as f64 / 2.0))
            .collect();
        ca.append(
            &(0..90)
                .map(|i| (i % 3 == 1).then_some(-(i as f64)))
                .collect(),
        )
        .unwrap();
        assert_eq!(ca.chunks().len(), 2);
        let n = ca.len();
        let order: Vec<u32> = (0..n as u32).rev().collect();
        let place = places(&order);
        assert_eq!(place[0] as usize, n - 1);
        let out = scatter_values(&ca, &place);
        for (row, v) in ca.iter().enumerate() {
            let got = out[n - 1 - row];
            match v {
                Some(v) => assert_eq!(got, v, "row {row}"),
                None => assert!(got.is_nan(), "row {row}"),
            }
        }
    }

    #[test]
    fn an_empty_log_has_no_users() {
        let ev = events(&[]);
        let ix = EventIndex::build(&ev, &HashMap::new(), &[]).unwrap();
        assert!(ix.users.is_empty());
        assert_eq!(ix.offsets, vec![0]);
    }
}
