//! Repeated events: exact copies and repeated event ids, searched within each user's rows
//! in time order, the first copy kept; rows dropped without copying the frame.

use polars::prelude::*;
use rayon::prelude::*;

use super::checks::RowTexts;
use super::files::Origin;
use super::lines::Lines;
use super::rejects::{RejectClass, Rejects};
use super::{Groups, LINE};
use crate::base::hash::fnv1a;
use crate::error::Result;

/// Moves every row whose `keys` columns repeat an earlier row's to `rejects` (rows are
/// in source order). Rows with a null first key are never repeats.
///
/// One pass hashes each row's keys; only rows sharing a hash are compared value by
/// value, so a hash collision never drops a row and the cost stays one hash per row.
pub(super) fn drop_repeats(
    df: DataFrame,
    origin: Origin<'_>,
    keys: &[&str],
    class: RejectClass,
    what: &str,
    raw: &[&str],
    rejects: &mut Rejects,
) -> Result<DataFrame> {
    let n = df.height();
    let (hashes, null_first) = hash_keys(&df, keys)?;
    let clock = std::time::Instant::now();
    let order = sorted_hashes(hashes, &null_first);
    tracing::trace!("sorted {} row hashes in {:?}", n, clock.elapsed());
    let mut repeats = equal_keys(&df, keys, &order)?;
    tracing::trace!("compared candidates in {:?}", clock.elapsed());
    if repeats.is_empty() {
        return Ok(df);
    }
    repeats.sort_unstable();
    let lines = df.column(LINE)?.i64()?;
    let idx = IdxCa::from_vec(
        "idx".into(),
        repeats.iter().map(|&(r, _)| r as IdxSize).collect(),
    );
    let bad = df.take(&idx)?;
    let texts = RowTexts::new(&bad, raw)?;
    let pairs = repeats
        .iter()
        .map(|&(row, first)| (lines.get(row).unwrap_or(0), lines.get(first).unwrap_or(0)));
    reject_repeats(pairs, &texts, origin, class, what, rejects);
    let mut keep = vec![true; n];
    for &(row, _) in &repeats {
        keep[row] = false;
    }
    let mask: BooleanChunked = keep.into_iter().collect();
    Ok(df.filter(&mask)?)
}

/// Each row's hash of its `keys` columns, and whether its first key is null.
///
/// Rows in blocks over the threads: each block hashes its slice of every key column.
fn hash_keys(df: &DataFrame, keys: &[&str]) -> Result<(Vec<u64>, Vec<bool>)> {
    let n = df.height();
    let key_columns: Vec<Column> = keys
        .iter()
        .map(|k| {
            let c = df.column(k)?;
            match c.dtype() {
                DataType::Int64 | DataType::Float64 => Ok(c.clone()),
                _ => c.cast(&DataType::String),
            }
        })
        .collect::<PolarsResult<_>>()?;
    const BLOCK: usize = 1 << 16;
    let mut hashes = vec![0u64; n];
    let mut null_first = vec![false; n];
    hashes
        .par_chunks_mut(BLOCK)
        .zip(null_first.par_chunks_mut(BLOCK))
        .enumerate()
        .try_for_each(|(b, (hashes, null_first))| -> PolarsResult<()> {
            for (k, c) in key_columns.iter().enumerate() {
                let part = c.slice((b * BLOCK) as i64, hashes.len());
                let mut mix = |i: usize, h: Option<u64>| {
                    // A null hashes apart from every value.
                    let h = h.map_or(0x51_7C_C1_B7_27_22_0A_95, |h| h ^ 1);
                    hashes[i] = (hashes[i].rotate_left(23) ^ h).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                    if k == 0 && h == 0x51_7C_C1_B7_27_22_0A_95 {
                        null_first[i] = true;
                    }
                };
                match part.dtype() {
                    DataType::Int64 => {
                        for (i, v) in part.i64()?.iter().enumerate() {
                            mix(i, v.map(|v| fnv1a(&v.to_le_bytes())));
                        }
                    }
                    DataType::Float64 => {
                        for (i, v) in part.f64()?.iter().enumerate() {
                            mix(i, v.map(|v| fnv1a(&v.to_bits().to_le_bytes())));
                        }
                    }
                    _ => {
                        for (i, v) in part.str()?.iter().enumerate() {
                            mix(i, v.map(|v| fnv1a(v.as_bytes())));
                        }
                    }
                }
            }
            Ok(())
        })?;
    Ok((hashes, null_first))
}

/// (hash, row) pairs of the rows without a null first key, sorted: equal hashes side by
/// side, each run in source order.
///
/// Bucketed by the hash's top 16 bits first (one counting pass, rows in order), then
/// each small bucket sorted on its own: about a third of a full sort's time on 10M rows.
fn sorted_hashes(hashes: Vec<u64>, null_first: &[bool]) -> Vec<(u64, u32)> {
    const BITS: u32 = 16;
    let bucket = |h: u64| (h >> (64 - BITS)) as usize;
    let mut starts = vec![0usize; (1 << BITS) + 1];
    for (h, _) in hashes.iter().zip(null_first).filter(|(_, &null)| !null) {
        starts[bucket(*h) + 1] += 1;
    }
    for b in 1..starts.len() {
        starts[b] += starts[b - 1];
    }
    let mut order = vec![(0u64, 0u32); starts[1 << BITS]];
    for (i, (&h, _)) in hashes
        .iter()
        .zip(null_first)
        .enumerate()
        .filter(|(_, (_, &null))| !null)
    {
        let slot = &mut starts[bucket(h)];
        order[*slot] = (h, i as u32);
        *slot += 1;
    }
    drop(hashes);
    order
        .par_chunk_by_mut(|a, b| bucket(a.0) == bucket(b.0))
        .for_each(|run| run.sort_unstable());
    order
}

/// Row → the first row it repeats, of the rows sharing a hash in `order` whose `keys`
/// columns are equal value by value.
fn equal_keys(df: &DataFrame, keys: &[&str], order: &[(u64, u32)]) -> Result<Vec<(usize, usize)>> {
    let columns: Vec<&Column> = keys
        .iter()
        .map(|k| df.column(k))
        .collect::<PolarsResult<_>>()?;
    let same = |a: usize, b: usize| -> PolarsResult<bool> {
        for c in &columns {
            if c.get(a)? != c.get(b)? {
                return Ok(false);
            }
        }
        Ok(true)
    };
    let mut repeats: Vec<(usize, usize)> = Vec::new();
    for group in order.chunk_by(|a, b| a.0 == b.0).filter(|g| g.len() > 1) {
        for (j, &(_, row)) in group.iter().enumerate().skip(1) {
            // The group is in source order: the first equal row is the first copy.
            for &(_, earlier) in &group[..j] {
                if same(earlier as usize, row as usize)? {
                    repeats.push((row as usize, earlier as usize));
                    break;
                }
            }
        }
    }
    Ok(repeats)
}

/// Moves each repeat to `rejects`: `pairs` are the lines of a repeat and of its first
/// copy, `texts` the repeats' raw cells in the same order.
fn reject_repeats(
    pairs: impl Iterator<Item = (i64, i64)>,
    texts: &RowTexts,
    origin: Origin<'_>,
    class: RejectClass,
    what: &str,
    rejects: &mut Rejects,
) {
    for (i, (line, first)) in pairs.enumerate() {
        let (file, line) = origin.locate(line);
        let (first_file, first_line) = origin.locate(first);
        let at = if first_file == file {
            first_line.to_string()
        } else {
            format!("{first_line} of {}", first_file.display())
        };
        rejects.add(file, line, class, format!("{what} {at}"), &texts.row(i));
    }
}

/// `df` without the rows where `keep` is false. A few dropped rows (the usual case: some
/// repeated events) leave the frame as slices of its own columns, with nothing copied;
/// many are filtered out column by column, each old column freed as its copy is made.
pub(super) fn without_rows(df: DataFrame, keep: &[bool]) -> Result<DataFrame> {
    let runs: Vec<(usize, usize)> = keep
        .chunk_by(|a, b| a == b)
        .scan(0, |start, run| {
            let at = *start;
            *start += run.len();
            Some((at, run.len(), run[0]))
        })
        .filter(|&(_, _, kept)| kept)
        .map(|(at, len, _)| (at, len))
        .collect();
    if runs.len() <= 1024 {
        let mut out = df.clear();
        for (at, len) in runs {
            out.vstack_mut(&df.slice(at as i64, len))?;
        }
        return Ok(out);
    }
    let mask: BooleanChunked = keep.iter().copied().collect();
    let height = keep.iter().filter(|&&k| k).count();
    let mut columns = Vec::with_capacity(df.width());
    for c in df.into_columns() {
        columns.push(c.filter(&mask)?);
    }
    Ok(DataFrame::new(height, columns)?)
}

/// Finds the repeated events of a checked log and moves them to `rejects`: rows equal to
/// an earlier row in user, time, event, value and session, then (with an `event_id`
/// column) rows repeating an earlier row's user and `event_id`. The first copy, in source
/// order, stays. Returns which rows to keep, or `None` when every row stays.
///
/// An exact repeat has its original's user and time, so within the user's rows in time
/// order it sits in the same run of equal times: only rows of such runs are compared. An
/// `event_id` repeat is searched among the user's rows by a hash of the id, and the ids
/// are compared before a row is dropped, so a hash collision never drops one.
pub(super) fn find_repeats(
    df: &DataFrame,
    lines: &Lines,
    groups: &Groups,
    event_id: bool,
    origin: Origin<'_>,
    raw: &[&str],
    rejects: &mut Rejects,
) -> Result<Option<Vec<bool>>> {
    let clock = std::time::Instant::now();
    let per_user = groups.per_user_with_times();
    let exact = exact_repeats(df, &per_user, event_id)?;
    tracing::trace!("exact repeats searched in {:?}", clock.elapsed());
    let mut keep = vec![true; df.height()];
    for &(row, _) in &exact {
        keep[row as usize] = false;
    }
    let mut by_id = Vec::new();
    if event_id {
        by_id = event_id_repeats(df, &per_user, &keep)?;
        for &(row, _) in &by_id {
            keep[row as usize] = false;
        }
        tracing::trace!("event_id repeats searched in {:?}", clock.elapsed());
    }
    if exact.is_empty() && by_id.is_empty() {
        return Ok(None);
    }
    for (found, class, what) in [
        (
            &exact,
            RejectClass::DuplicateEvent,
            "same user, time, event, value and session as line",
        ),
        (
            &by_id,
            RejectClass::DuplicateEventId,
            "same user and event_id as line",
        ),
    ] {
        if found.is_empty() {
            continue;
        }
        let idx = IdxCa::from_vec(
            "idx".into(),
            found.iter().map(|&(r, _)| r as IdxSize).collect(),
        );
        let texts = RowTexts::new(&df.take(&idx)?, raw)?;
        // The lines of each repeat and its first copy, side by side.
        let pairs: Vec<IdxSize> = found.iter().flat_map(|&(r, f)| [r, f]).collect();
        let lines = lines.of(df, &pairs)?;
        let pairs = (0..found.len()).map(|i| (lines[2 * i], lines[2 * i + 1]));
        reject_repeats(pairs, &texts, origin, class, what, rejects);
    }
    Ok(Some(keep))
}

/// (repeat, first copy) pairs of rows equal to an earlier row in user, time, event, value
/// and session (and `event_id`, when the log has one), sorted.
fn exact_repeats(
    df: &DataFrame,
    per_user: &[(&[u32], &[i64])],
    event_id: bool,
) -> Result<Vec<(u32, u32)>> {
    // Only rows of equal user and time are compared, which are few: cells are read where
    // they are, without copying the columns into one piece.
    let event = df.column("event")?.str()?;
    let value = df.column("value")?.f64()?;
    let session = df.column("session_id")?.str()?;
    // Two events with their own ids are two events, however alike (two page views in
    // the same second): only rows whose ids are equal too are copies.
    let id = if event_id {
        Some(df.column("event_id")?.str()?)
    } else {
        None
    };
    let same = |a: usize, b: usize| {
        event.get(a) == event.get(b)
            && value.get(a).map(f64::to_bits) == value.get(b).map(f64::to_bits)
            && session.get(a) == session.get(b)
            && id.is_none_or(|id| id.get(a) == id.get(b))
    };
    // (repeat, first copy) pairs of each user: within each run of equal times.
    let mut exact: Vec<(u32, u32)> = per_user
        .par_iter()
        .flat_map_iter(|&(rows, ts)| {
            let mut found = Vec::new();
            let mut start = 0;
            for run in ts.chunk_by(|a, b| a == b) {
                let end = start + run.len();
                if run.len() > 1 {
                    first_copies(
                        &rows[start..end],
                        |a, b| same(a as usize, b as usize),
                        &mut found,
                    );
                }
                start = end;
            }
            found
        })
        .collect();
    exact.sort_unstable();
    Ok(exact)
}

/// (repeat, first copy) pairs of the `kept` rows repeating an earlier row's user and
/// `event_id`, sorted.
fn event_id_repeats(
    df: &DataFrame,
    per_user: &[(&[u32], &[i64])],
    kept: &[bool],
) -> Result<Vec<(u32, u32)>> {
    let ids = df.column("event_id")?.str()?;
    let state = foldhash::fast::FixedState::with_seed(3);
    use std::hash::BuildHasher;
    // Hashed in log order, then read user by user; a null id is never a repeat.
    let hashes: Vec<Option<u64>> = ids
        .par_iter()
        .map(|id| id.map(|id| state.hash_one(id)))
        .collect();
    let hash = |row: u32| hashes[row as usize];
    let mut by_id: Vec<(u32, u32)> = per_user
        .par_iter()
        .flat_map_iter(|&(rows, _)| {
            let mut keyed: Vec<(u64, u32)> = rows
                .iter()
                .filter(|&&row| kept[row as usize])
                .filter_map(|&row| hash(row).map(|h| (h, row)))
                .collect();
            keyed.sort_unstable();
            let mut found = Vec::new();
            for run in keyed.chunk_by(|a, b| a.0 == b.0) {
                let rows: Vec<u32> = run.iter().map(|&(_, row)| row).collect();
                first_copies(
                    &rows,
                    |a, b| ids.get(a as usize) == ids.get(b as usize),
                    &mut found,
                );
            }
            found
        })
        .collect();
    by_id.sort_unstable();
    Ok(by_id)
}

/// Within `run` (candidate rows in source order), each row equal to an earlier one, as
/// (row, the first row it equals).
pub(super) fn first_copies(
    run: &[u32],
    same: impl Fn(u32, u32) -> bool,
    found: &mut Vec<(u32, u32)>,
) {
    for (j, &row) in run.iter().enumerate().skip(1) {
        if let Some(&first) = run[..j].iter().find(|&&earlier| same(earlier, row)) {
            found.push((row, first));
        }
    }
}
