//! The checked log's rows grouped by user: user numbers, and every user's rows in time
//! order. Built once while the log is read, it serves the duplicate search (a repeat has
//! its original's user and time, so it sits beside it) and the features' per-user index.

use polars::prelude::*;
use rayon::prelude::*;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering::Relaxed};

use super::keys;
use crate::error::{Error, Result};

/// Rows of a frame grouped by user (compressed rows: user `u` owns
/// `order[offsets[u]..offsets[u + 1]]`), each user's rows sorted by time, equal times in
/// row order, with their times beside them.
#[derive(Debug, Clone)]
pub struct Groups {
    /// User id → user number, numbered in order of first appearance.
    pub users: PlHashMap<String, u32>,
    pub offsets: Vec<usize>,
    /// Row numbers of the frame, user by user.
    pub order: Vec<u32>,
    /// The time of each row of `order`: user by user, each user's in ascending order (a
    /// null time, possible only in a frame made by hand, is the earliest).
    pub ts: Vec<i64>,
}

impl Groups {
    /// Groups the rows of `user` (one id per row; a null is the empty id) by user, each
    /// user's in order of `ts`.
    pub fn build(user: &StringChunked, ts: &Int64Chunked) -> Result<Self> {
        let n = user.len();
        if u32::try_from(n).is_err() {
            // Row numbers are u32, to keep the grouping and the index at 4 bytes a row.
            return Err(Error::TooManyEvents {
                events: n,
                max: u32::MAX,
                shard_setting: "shard".into(),
            });
        }
        let (users, row_user) = number_users(user);
        // A stable counting sort by user: `order` lists the rows user by user, and each
        // row's time goes beside it (read in log order, so the log's times are never
        // copied whole nor read out of order). The rows are cut into one part per thread;
        // each part counts its rows per user, which gives it its own run of places in
        // every user's range, so the parts are placed side by side. (One part when users
        // are so many that the counts would outweigh the rows.)
        let threads = rayon::current_num_threads().max(1);
        let parts = if users.len().saturating_mul(threads) <= n {
            threads
        } else {
            1
        };
        let bounds: Vec<usize> = (0..=parts).map(|p| p * n / parts).collect();
        let mut next: Vec<Vec<u32>> = bounds
            .par_windows(2)
            .map(|w| {
                let mut count = vec![0u32; users.len()];
                for &u in &row_user[w[0]..w[1]] {
                    count[u as usize] += 1;
                }
                count
            })
            .collect();
        // Each part's first place per user: the user's offset plus the parts before.
        let mut offsets = vec![0usize; users.len() + 1];
        let mut at = 0u32;
        for u in 0..users.len() {
            offsets[u] = at as usize;
            for part in next.iter_mut() {
                let count = part[u];
                part[u] = at;
                at += count;
            }
        }
        offsets[users.len()] = at as usize;
        let order = atomics(n, || AtomicU32::new(0));
        let times = atomics(n, || AtomicI64::new(0));
        next.par_iter_mut()
            .zip(bounds.par_windows(2))
            .for_each(|(next, w)| {
                let part = ts.slice(w[0] as i64, w[1] - w[0]);
                let mut row = w[0];
                for arr in part.downcast_iter() {
                    let valid = arr.validity();
                    for (i, &t) in arr.values().iter().enumerate() {
                        let t = match valid {
                            Some(v) if !v.get_bit(i) => i64::MIN,
                            _ => t,
                        };
                        let slot = &mut next[row_user[row] as usize];
                        order[*slot as usize].store(row as u32, Relaxed);
                        times[*slot as usize].store(t, Relaxed);
                        *slot += 1;
                        row += 1;
                    }
                }
            });
        let mut order: Vec<u32> = order.into_iter().map(AtomicU32::into_inner).collect();
        let mut times: Vec<i64> = times.into_iter().map(AtomicI64::into_inner).collect();
        drop(row_user);
        // Within a user, rows keep the log's order unless their times are out of order.
        split_by(&mut order, &offsets)
            .into_par_iter()
            .zip(split_by(&mut times, &offsets))
            .for_each(|(rows, ts)| {
                if ts.windows(2).any(|w| w[0] > w[1]) {
                    let mut pairs: Vec<(i64, u32)> =
                        ts.iter().copied().zip(rows.iter().copied()).collect();
                    // Row numbers are distinct, so equal times keep row order.
                    pairs.sort_unstable();
                    for (k, (t, r)) in pairs.into_iter().enumerate() {
                        ts[k] = t;
                        rows[k] = r;
                    }
                }
            });
        Ok(Groups {
            users,
            offsets,
            order,
            ts: times,
        })
    }

    /// Number of users.
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// True without users.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The earliest and the latest time of any row, from each user's first and last
    /// (rows are in time order within a user); `None` without rows.
    pub fn span(&self) -> Option<(i64, i64)> {
        self.offsets
            .windows(2)
            .filter(|w| w[0] < w[1])
            .map(|w| (self.ts[w[0]], self.ts[w[1] - 1]))
            .reduce(|(a, b), (lo, hi)| (a.min(lo), b.max(hi)))
    }

    /// The rows of user `u`, in time order.
    pub fn rows(&self, u: usize) -> &[u32] {
        &self.order[self.offsets[u]..self.offsets[u + 1]]
    }

    /// Every user's rows and their times, user by user.
    pub fn per_user_with_times(&self) -> Vec<(&[u32], &[i64])> {
        self.offsets
            .windows(2)
            .map(|w| (&self.order[w[0]..w[1]], &self.ts[w[0]..w[1]]))
            .collect()
    }

    /// The grouping of the frame left after dropping the rows where `keep` is false
    /// (rows renumbered; no user may lose every row). In place: each user's rows are
    /// compacted on the threads, then the users' runs are closed up in one pass.
    pub fn retain(&mut self, keep: &[bool]) {
        // A row's new number is its old one less the dropped rows before it; a row is
        // dropped when it is itself in the list. Dropped rows are few (repeats), so the
        // list is searched in cache instead of `keep` being read out of order.
        let dropped: Vec<u32> = (0..keep.len() as u32)
            .filter(|&r| !keep[r as usize])
            .collect();
        if dropped.is_empty() {
            return;
        }
        let kept: Vec<usize> = split_by(&mut self.order, &self.offsets)
            .into_par_iter()
            .zip(split_by(&mut self.ts, &self.offsets))
            .map(|(rows, ts)| {
                let mut n = 0;
                for k in 0..rows.len() {
                    let row = rows[k];
                    let before = dropped.partition_point(|&d| d < row);
                    if dropped.get(before) != Some(&row) {
                        rows[n] = row - before as u32;
                        ts[n] = ts[k];
                        n += 1;
                    }
                }
                n
            })
            .collect();
        let mut at = 0;
        for (u, n) in kept.into_iter().enumerate() {
            let from = self.offsets[u];
            if from != at {
                self.order.copy_within(from..from + n, at);
                self.ts.copy_within(from..from + n, at);
            }
            self.offsets[u] = at;
            at += n;
        }
        if let Some(last) = self.offsets.last_mut() {
            *last = at;
        }
        self.order.truncate(at);
        self.ts.truncate(at);
    }
}

/// Numbers the users in order of first appearance: each block of rows numbers its own on a
/// thread (by the ids' keys, see [`keys`]) into its part of the output, then the blocks'
/// ids are merged in row order and each part's numbers mapped in place.
fn number_users(ca: &StringChunked) -> (PlHashMap<String, u32>, Vec<u32>) {
    let empty = keys::key_of("");
    let bounds = keys::block_bounds(ca.len());
    let mut codes = vec![0u32; ca.len()];
    let firsts: Vec<Vec<(u128, String)>> = split_by(&mut codes, &bounds)
        .into_par_iter()
        .zip(bounds.par_windows(2))
        .map(|(out, w)| {
            let part = ca.slice(w[0] as i64, w[1] - w[0]);
            let mut seen: PlHashMap<u128, u32> = PlHashMap::default();
            let mut firsts: Vec<(u128, usize)> = Vec::new();
            let mut last = None;
            keys::for_each_key(&part, |row, key| {
                // A missing id is the empty id.
                let key = if key == keys::NULL_KEY { empty } else { key };
                let code = match last {
                    // Logs often hold a user's events together.
                    Some((k, c)) if k == key => c,
                    _ => *seen.entry(key).or_insert_with(|| {
                        firsts.push((key, row));
                        firsts.len() as u32 - 1
                    }),
                };
                last = Some((key, code));
                out[row] = code;
            });
            firsts
                .into_iter()
                .map(|(key, row)| (key, part.get(row).unwrap_or("").to_string()))
                .collect()
        })
        .collect();
    let mut numbers: PlHashMap<u128, u32> = PlHashMap::default();
    let mut users: PlHashMap<String, u32> = PlHashMap::default();
    let remaps: Vec<Vec<u32>> = firsts
        .into_iter()
        .map(|names| {
            names
                .into_iter()
                .map(|(key, name)| {
                    *numbers.entry(key).or_insert_with(|| {
                        let id = users.len() as u32;
                        users.insert(name, id);
                        id
                    })
                })
                .collect()
        })
        .collect();
    split_by(&mut codes, &bounds)
        .into_par_iter()
        .zip(&remaps)
        .for_each(|(part, remap)| {
            for c in part {
                *c = remap[*c as usize];
            }
        });
    (users, codes)
}

/// `n` values made by `new` on the threads: a large buffer's first writes, which take its
/// new pages' faults, go side by side (the grouping's and the features' index's buffers).
pub fn atomics<A: Send>(n: usize, new: impl Fn() -> A + Sync + Send) -> Vec<A> {
    (0..n).into_par_iter().map(|_| new()).collect()
}

/// `v` cut at `offsets` (user by user).
pub fn split_by<'a, T>(mut v: &'a mut [T], offsets: &[usize]) -> Vec<&'a mut [T]> {
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

    #[test]
    fn groups_by_user_in_time_order_and_keeps_ties_in_row_order() {
        let user = StringChunked::new("u".into(), ["b", "a", "b", "a", "b", "b"]);
        let ts = Int64Chunked::new("ts".into(), [30, 10, 10, 20, 20, 10]);
        let g = Groups::build(&user, &ts).unwrap();
        assert_eq!((g.users["b"], g.users["a"]), (0, 1));
        assert_eq!(g.rows(0), &[2, 5, 4, 0]);
        assert_eq!(g.rows(1), &[1, 3]);
        assert_eq!(g.ts, vec![10, 10, 20, 30, 10, 20]);
        assert_eq!(g.span(), Some((10, 30)));

        // Dropping rows 5 and 1 renumbers the rest: 0 1 2 3 4 → 0 _ 1 2 3.
        let mut g = g;
        g.retain(&[true, false, true, true, true, false]);
        assert_eq!(g.rows(0), &[1, 3, 0]);
        assert_eq!(g.rows(1), &[2]);
        assert_eq!(g.order.len(), 4);
        assert_eq!(g.ts, vec![10, 20, 30, 20]);
        assert_eq!(g.span(), Some((10, 30)));
        // Dropping the latest row (row 0, at 30) narrows the span.
        g.retain(&[false, true, true, true]);
        assert_eq!(g.span(), Some((10, 20)));
    }

    #[test]
    fn many_blocks_number_users_in_order_of_first_appearance() {
        // More rows than one block, so the per-block numbers are merged.
        let ids: Vec<String> = (0..300_000)
            .map(|i| format!("u{}", (i * 7) % 1000))
            .collect();
        let user = StringChunked::new("u".into(), &ids);
        let ts = Int64Chunked::full("ts".into(), 0, ids.len());
        let g = Groups::build(&user, &ts).unwrap();
        assert_eq!(g.len(), 1000);
        for (i, id) in ids.iter().take(1000).enumerate() {
            assert_eq!(g.users[id.as_str()], i as u32);
        }
        assert!(g
            .per_user_with_times()
            .iter()
            .all(|(rows, _)| rows.len() == 300));
        // Equal times: each user's rows stay in log order across the parts that placed them.
        for u in 0..g.len() {
            let rows = g.rows(u);
            assert!(rows.windows(2).all(|w| w[0] < w[1]), "user {u}: {rows:?}");
            assert!(rows
                .iter()
                .all(|&r| g.users[ids[r as usize].as_str()] == u as u32));
        }
    }
}
