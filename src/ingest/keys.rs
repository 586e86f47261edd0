//! Text cells as 128-bit keys, for counting and numbering the log's ids without hashing
//! their text row by row.
//!
//! polars keeps a text column as 16-byte "views": the length, then a text of up to 12
//! bytes in place, or a prefix and a pointer for a longer one. A text of up to 12 bytes
//! (user ids, event names and session ids mostly are) is its own key: the view itself,
//! with the bytes past the length masked. A longer text is its length beside a 96-bit hash
//! of its bytes. Two texts share a key only when equal, or when two long texts collide on
//! 96 bits: about 1e-20 for a million distinct long ids. A null is a key no text has.

use std::hash::BuildHasher;

use foldhash::quality::FixedState;
use polars::prelude::*;
use polars_arrow::array::Array;

/// The key of a null cell.
pub const NULL_KEY: u128 = u128::MAX;

/// Longest text kept in place in a view.
const INLINE: usize = 12;

/// The key of `text`.
pub fn key_of(text: &str) -> u128 {
    let bytes = text.as_bytes();
    if bytes.len() <= INLINE {
        let mut raw = [0u8; 16];
        raw[..4].copy_from_slice(&(bytes.len() as u32).to_le_bytes());
        raw[4..4 + bytes.len()].copy_from_slice(bytes);
        u128::from_le_bytes(raw)
    } else {
        long_key(text)
    }
}

fn long_key(text: &str) -> u128 {
    let (a, b) = (FixedState::with_seed(1), FixedState::with_seed(2));
    let high = (u128::from(a.hash_one(text)) << 32) | u128::from(b.hash_one(text) as u32);
    (high << 32) | u128::from(text.len() as u32)
}

/// Calls `f(row, key)` for every cell of `ca`, in order.
///
/// A short text's key is read off its view (masked past its length) instead of being
/// built from its bytes: on the 10M-event log, `score` took 3.50 s (Parquet) and 8.40 s
/// (CSV) median with views against 4.46 s and 8.88 s building every key from its text,
/// slower in every ABBA pair (6 runs each, `bench/RESULTS.md`, "Speed tricks kept and
/// removed").
pub fn for_each_key(ca: &StringChunked, mut f: impl FnMut(usize, u128)) {
    let mut row = 0;
    for arr in ca.downcast_iter() {
        let valid = arr.validity();
        for (i, view) in arr.views().iter().enumerate() {
            let key = if valid.is_some_and(|v| !v.get_bit(i)) {
                NULL_KEY
            } else if view.length as usize <= INLINE {
                let bits = 32 + 8 * view.length;
                let mask = if bits == 128 {
                    u128::MAX
                } else {
                    (1u128 << bits) - 1
                };
                view.as_u128() & mask
            } else {
                long_key(arr.value(i))
            };
            f(row, key);
            row += 1;
        }
    }
}

/// Whether a cell of `ca` is one of `texts` (each of at most [`INLINE`] bytes). Read off
/// the views: a cell whose length or first four bytes match no text's is passed over
/// without its text (on a 3.8M-row Parquet log, comparing every cell's key with each text
/// added 20 ms to `check`'s 260).
pub fn holds_any(ca: &StringChunked, texts: &[&str]) -> bool {
    let prefix = |t: &str| {
        let mut four = [0u8; 4];
        let n = t.len().min(4);
        four[..n].copy_from_slice(&t.as_bytes()[..n]);
        (t.len() as u32, u32::from_le_bytes(four))
    };
    let wanted: Vec<(u32, u32)> = texts.iter().map(|t| prefix(t)).collect();
    ca.downcast_iter().any(|arr| {
        let valid = arr.validity();
        arr.views().iter().enumerate().any(|(i, view)| {
            wanted.contains(&(view.length, view.prefix))
                && valid.is_none_or(|v| v.get_bit(i))
                && texts.contains(&arr.value(i))
        })
    })
}

// A view is the length then the bytes in memory; read as a little-endian number that is
// [`key_of`]'s layout. A big-endian build would need its own.
const _: () = assert!(
    cfg!(target_endian = "little"),
    "ingest::keys reads text views as little-endian numbers"
);

/// Where the blocks of `n` rows that [`par_blocks`] hands out start, then `n`.
pub fn block_bounds(n: usize) -> Vec<usize> {
    let block = n
        .div_ceil(4 * rayon::current_num_threads())
        .clamp(1 << 16, 1 << 20);
    (0..n).step_by(block).chain([n]).collect()
}

/// Runs `f` on consecutive blocks of `ca` on rayon's threads: `f(first row, block)`.
pub fn par_blocks<T: Send>(
    ca: &StringChunked,
    f: impl Fn(usize, &StringChunked) -> T + Sync + Send,
) -> Vec<T> {
    use rayon::prelude::*;
    block_bounds(ca.len())
        .par_windows(2)
        .map(|w| f(w[0], &ca.slice(w[0] as i64, w[1] - w[0])))
        .collect()
}

/// The distinct non-null texts of `ca`.
pub fn distinct(ca: &StringChunked) -> Vec<String> {
    let parts = par_blocks(ca, |_, part| {
        let mut seen: PlHashMap<u128, usize> = PlHashMap::default();
        for_each_key(part, |row, key| {
            if key != NULL_KEY {
                seen.entry(key).or_insert(row);
            }
        });
        seen.into_iter()
            .filter_map(|(key, row)| part.get(row).map(|t| (key, t.to_string())))
            .collect::<Vec<_>>()
    });
    let mut all: PlHashMap<u128, String> = PlHashMap::default();
    for (key, text) in parts.into_iter().flatten() {
        all.entry(key).or_insert(text);
    }
    all.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_any_finds_short_texts_by_their_views() {
        let texts = ["null", "\\N", "undefined"];
        let ca = |cells: &[Option<&str>]| StringChunked::new("c".into(), cells);
        assert!(!holds_any(
            &ca(&[Some("u-1"), None, Some("nullable"), Some("nul")]),
            &texts
        ));
        assert!(holds_any(&ca(&[Some("u-1"), Some("\\N")]), &texts));
        // Same length and first four bytes, other text: not a match.
        assert!(!holds_any(&ca(&[Some("undefinex"), Some("nulL")]), &texts));
        assert!(holds_any(
            &ca(&[Some("a-long-identifier-x"), Some("undefined")]),
            &texts
        ));
        assert!(!holds_any(&ca(&[None, None]), &texts));
    }

    #[test]
    fn a_view_key_is_the_key_of_its_text() {
        let texts = [
            Some(""),
            Some("a"),
            Some("s1-1"),
            Some("exactly12byt"),
            Some("thirteen byte"),
            None,
            Some("a much longer session identifier, well past twelve bytes"),
            Some("é✓"),
        ];
        let ca: StringChunked = texts.iter().copied().collect();
        // Also across chunks: the same texts appended again.
        let mut ca2 = ca.clone();
        ca2.append(&ca).unwrap();
        let mut keys = Vec::new();
        for_each_key(&ca2, |row, key| keys.push((row, key)));
        assert_eq!(keys.len(), 2 * texts.len());
        for (row, key) in keys {
            match texts[row % texts.len()] {
                Some(t) => assert_eq!(key, key_of(t), "{t:?}"),
                None => assert_eq!(key, NULL_KEY),
            }
        }
        let mut all: Vec<u128> = texts.iter().flatten().map(|t| key_of(t)).collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 7, "distinct texts, distinct keys");
    }

    #[test]
    fn distinct_texts_over_many_blocks() {
        let ids: Vec<Option<String>> = (0..200_000)
            .map(|i| (i % 11 != 0).then(|| format!("event_{}", i % 37)))
            .collect();
        let ca: StringChunked = ids.iter().map(|s| s.as_deref()).collect();
        let mut got = distinct(&ca);
        got.sort();
        let mut want: Vec<String> = ids.into_iter().flatten().collect();
        want.sort();
        want.dedup();
        assert_eq!(got, want);
    }
}
