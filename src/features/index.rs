//! The event log regrouped for per-user work: every user's events contiguous and in time
//! order, as plain integer columns (event codes, role flags, session numbers). Built once
//! per log; every as-of date then reads each user's slice once. It holds no features.

use std::collections::HashMap;

use foldhash::quality::FixedState;
use polars::prelude::*;
use rayon::prelude::*;
use std::hash::BuildHasher;

use crate::error::Result;
use crate::ingest::Events;

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
        if u32::try_from(n).is_err() {
            // Row numbers are u32 here, to keep the index at 4 bytes a row per column.
            return Err(crate::error::Error::InvalidArgument {
                name: "--shard".into(),
                message: format!(
                    "{n} events are more than one process groups ({}); score the log in user-hash shards (--shard i/n, then merge)",
                    u32::MAX
                ),
            });
        }
        let clock = std::time::Instant::now();
        let (users, row_user) = number_users(df.column("user_id")?.str()?);
        let mut counts = vec![0usize; users.len()];
        for &u in &row_user {
            counts[u as usize] += 1;
        }
        let mut offsets = Vec::with_capacity(counts.len() + 1);
        offsets.push(0usize);
        for c in &counts {
            offsets.push(offsets.last().copied().unwrap_or(0) + c);
        }
        // A stable counting sort by user: `order` lists the log's rows user by user.
        let mut next = offsets.clone();
        let mut order = vec![0u32; n];
        for (i, &u) in row_user.iter().enumerate() {
            let slot = &mut next[u as usize];
            order[*slot] = i as u32;
            *slot += 1;
        }
        drop(row_user);
        tracing::trace!(
            "index: {} users numbered and grouped in {:?}",
            counts.len(),
            clock.elapsed()
        );

        let ts_col = df.column("ts")?.i64()?.rechunk();
        let ts_all: Vec<i64> = ts_col.iter().map(|t| t.unwrap_or(i64::MIN)).collect();
        // Within a user, rows keep the log's order unless their times are out of order.
        let mut per_user = split_by(&mut order, &offsets);
        per_user.par_iter_mut().for_each(|rows| {
            if rows
                .windows(2)
                .any(|w| ts_all[w[0] as usize] > ts_all[w[1] as usize])
            {
                rows.sort_by_key(|&i| ts_all[i as usize]);
            }
        });
        drop(per_user);
        let ts = gather(&ts_all, &order);
        drop(ts_all);
        tracing::trace!("index: times in order by {:?}", clock.elapsed());

        let lookup: PlHashMap<&str, u32> = codes.iter().map(|(k, &v)| (k.as_str(), v)).collect();
        let code_all = per_row(df.column("event")?.str()?, |e| {
            e.and_then(|e| lookup.get(e).copied()).unwrap_or(u32::MAX)
        });
        let code = gather(&code_all, &order);
        drop(code_all);
        let role = code
            .par_iter()
            .map(|&c| role_of.get(c as usize).copied().unwrap_or(0))
            .collect();
        tracing::trace!("index: event codes by {:?}", clock.elapsed());

        let value_col = df.column("value")?.cast(&DataType::Float64)?;
        let value_all: Vec<f64> = value_col
            .f64()?
            .iter()
            .map(|v| v.unwrap_or(f64::NAN))
            .collect();
        let value = gather(&value_all, &order);
        drop(value_all);
        tracing::trace!("index: values by {:?}", clock.elapsed());

        // Sessions numbered within each user. The ids are read in log order (a table of
        // every id in the log would miss the cache on every row) as a 128-bit hash, which
        // stands for the text: two ids of one user sharing it is a ~1e-30 chance.
        let (a, b) = (FixedState::with_seed(1), FixedState::with_seed(2));
        let hash_all = per_row(df.column("session_id")?.str()?, |s| {
            s.map_or(0, |s| {
                (u128::from(a.hash_one(s)) << 64) | u128::from(b.hash_one(s)) | 1
            })
        });
        let hashes = gather(&hash_all, &order);
        drop(hash_all);
        let mut session = vec![0u32; n];
        let mut per_user: Vec<(&mut [u32], &[u128])> = split_by(&mut session, &offsets)
            .into_iter()
            .zip(offsets.windows(2).map(|w| &hashes[w[0]..w[1]]))
            .collect();
        per_user.par_iter_mut().for_each_init(
            PlHashMap::<u128, u32>::default,
            |seen, (numbers, hashes)| {
                seen.clear();
                for (out, &h) in numbers.iter_mut().zip(hashes.iter()) {
                    let next = seen.len() as u32;
                    *out = *seen.entry(h).or_insert(next);
                }
            },
        );
        drop(per_user);
        drop(hashes);
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

/// Numbers the users in order of first appearance: each block of rows numbers its own on a
/// thread, then the blocks' names are merged in row order and their numbers mapped.
fn number_users(ca: &StringChunked) -> (PlHashMap<String, u32>, Vec<u32>) {
    let n = ca.len();
    let block = n.div_ceil(4 * rayon::current_num_threads()).max(1 << 16);
    let local: Vec<(Vec<String>, Vec<u32>)> = (0..n.div_ceil(block))
        .into_par_iter()
        .map(|b| {
            let part = ca.slice((b * block) as i64, block.min(n - b * block));
            let mut seen: PlHashMap<&str, u32> = PlHashMap::default();
            let mut names = Vec::new();
            let codes = part
                .iter()
                .map(|u| {
                    let u = u.unwrap_or("");
                    *seen.entry(u).or_insert_with(|| {
                        names.push(u.to_string());
                        names.len() as u32 - 1
                    })
                })
                .collect();
            (names, codes)
        })
        .collect();
    let mut users: PlHashMap<String, u32> = PlHashMap::default();
    let remaps: Vec<Vec<u32>> = local
        .iter()
        .map(|(names, _)| {
            names
                .iter()
                .map(|name| match users.get(name.as_str()) {
                    Some(&id) => id,
                    None => {
                        let id = users.len() as u32;
                        users.insert(name.clone(), id);
                        id
                    }
                })
                .collect()
        })
        .collect();
    let rows = local
        .par_iter()
        .zip(&remaps)
        .flat_map_iter(|((_, codes), remap)| codes.iter().map(move |&c| remap[c as usize]))
        .collect();
    (users, rows)
}

/// `f` of every cell of a text column, in row order, in blocks over the threads.
fn per_row<T: Send>(ca: &StringChunked, f: impl Fn(Option<&str>) -> T + Sync) -> Vec<T> {
    const BLOCK: usize = 1 << 16;
    let n = ca.len();
    let blocks: Vec<Vec<T>> = (0..n.div_ceil(BLOCK))
        .into_par_iter()
        .map(|b| {
            let part = ca.slice((b * BLOCK) as i64, BLOCK.min(n - b * BLOCK));
            part.iter().map(&f).collect()
        })
        .collect();
    blocks.into_iter().flatten().collect()
}

/// `v` in the order of `rows`.
fn gather<T: Copy + Send + Sync>(v: &[T], rows: &[u32]) -> Vec<T> {
    rows.par_iter().map(|&i| v[i as usize]).collect()
}

/// `v` cut at `offsets` (user by user).
fn split_by<'a, T>(mut v: &'a mut [T], offsets: &[usize]) -> Vec<&'a mut [T]> {
    let mut parts = Vec::with_capacity(offsets.len().saturating_sub(1));
    for w in offsets.windows(2) {
        let (head, tail) = std::mem::take(&mut v).split_at_mut(w[1] - w[0]);
        parts.push(head);
        v = tail;
    }
    parts
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
