//! Source lines of the rows, kept as runs of consecutive lines instead of a column when
//! the rows come in file order (a few runs a block).

use polars::prelude::*;

use super::LINE;
use crate::error::Result;

/// The [`LINE`] of each of `rows` of `df`. A Parquet log numbers its rows in the index
/// type polars gives them (4 bytes a row, not the text readers' 8): only the rows a reject
/// names are widened.
pub(super) fn lines_of(df: &DataFrame, rows: &[IdxSize]) -> Result<Vec<i64>> {
    let lines = df.column(LINE)?.take_slice(rows)?.cast(&DataType::Int64)?;
    Ok(lines.i64()?.iter().map(|l| l.unwrap_or(0)).collect())
}

/// The runs of a [`LINE`] column read in row order (see [`Lines::take`]).
pub(super) struct RunsBuilder {
    starts: Vec<IdxSize>,
    lines: Vec<i64>,
    /// The line that continues the current run.
    next: Option<i64>,
    /// More runs than this and the column is kept instead.
    most: usize,
}

impl RunsBuilder {
    /// Reads the column's chunks in order; false once the runs are too many. A chunk
    /// of consecutive lines (a Parquet file's, or a CSV file's without set-aside rows)
    /// is one run, found by one comparison per row without a branch per row.
    pub(super) fn chunks<'a, T: Copy + 'a>(
        &mut self,
        chunks: impl Iterator<Item = &'a [T]>,
        line: impl Fn(T) -> i64,
    ) -> bool {
        let mut row = 0;
        for values in chunks {
            let consecutive = values
                .windows(2)
                .fold(true, |ok, w| ok & (line(w[1]) == line(w[0]) + 1));
            if let (true, Some(&first)) = (consecutive, values.first()) {
                if !self.push(row, line(first)) {
                    return false;
                }
                self.next = Some(line(first) + values.len() as i64);
            } else {
                for (i, &v) in values.iter().enumerate() {
                    if !self.push(row + i, line(v)) {
                        return false;
                    }
                }
            }
            row += values.len();
        }
        true
    }

    /// Row `row` is line `line`: a new run unless it continues the current one.
    pub(super) fn push(&mut self, row: usize, line: i64) -> bool {
        if self.next != Some(line) {
            self.starts.push(row as IdxSize);
            self.lines.push(line);
        }
        self.next = Some(line + 1);
        self.starts.len() <= self.most
    }
}

/// The [`LINE`] of a checked frame's rows, as runs of consecutive lines when they are few
/// (the column itself is then dropped from the frame). A log's rows mostly come in long
/// runs: a Parquet file's rows are numbered 1, 2, 3 …, a CSV file's lines likewise, and
/// only set-aside rows, blank lines or the next file break a run. So the column's 4 or 8
/// bytes a row, the size of a text id's whole share of the frame, shrink to a few runs.
pub(super) enum Lines {
    /// Row `starts[k] + j` is line `lines[k] + j`, up to the next run's start.
    Runs {
        starts: Vec<IdxSize>,
        lines: Vec<i64>,
    },
    /// Too many runs (a shard's rows are scattered through the log): the frame keeps it.
    Column,
}

impl Lines {
    /// The runs of `df`'s [`LINE`] column, dropped from `df`, when there is at most one
    /// per 64 rows; otherwise the column stays.
    pub(super) fn take(df: &mut DataFrame) -> Result<Self> {
        let mut runs = RunsBuilder {
            starts: Vec::new(),
            lines: Vec::new(),
            next: None,
            most: df.height() / 64 + 1,
        };
        let column = df.column(LINE)?;
        let few = if column.null_count() > 0 {
            false
        } else if let Ok(ca) = column.i64() {
            runs.chunks(ca.downcast_iter().map(|a| a.values().as_slice()), |l| l)
        } else {
            let ca = column.idx()?;
            runs.chunks(ca.downcast_iter().map(|a| a.values().as_slice()), i64::from)
        };
        if !few {
            return Ok(Lines::Column);
        }
        df.drop_in_place(LINE)?;
        Ok(Lines::Runs {
            starts: runs.starts,
            lines: runs.lines,
        })
    }

    /// The line of each of `rows` of `df` (the frame this was taken from).
    pub(super) fn of(&self, df: &DataFrame, rows: &[IdxSize]) -> Result<Vec<i64>> {
        match self {
            Lines::Column => lines_of(df, rows),
            Lines::Runs { starts, lines } => Ok(rows
                .iter()
                .map(|&row| {
                    let k = starts.partition_point(|&s| s <= row).saturating_sub(1);
                    lines.get(k).map_or(0, |l| l + i64::from(row - starts[k]))
                })
                .collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_kept_as_runs_read_as_the_column_does() {
        // Two gaps (set-aside rows) and a jump (the next file): three runs in 300 rows.
        let lines: Vec<i64> = (2..102).chain(105..205).chain(300..400).collect();
        let rows: Vec<IdxSize> = vec![0, 99, 100, 101, 199, 200, 299, 150, 0];
        let wide = df!(LINE => &lines, "x" => vec![0i32; 300]).unwrap();
        let narrow = df!(
            LINE => lines.iter().map(|&l| l as IdxSize).collect::<Vec<_>>(),
            "x" => vec![0i32; 300]
        )
        .unwrap();
        for df in [wide, narrow] {
            let mut taken = df.clone();
            let runs = Lines::take(&mut taken).unwrap();
            assert!(matches!(&runs, Lines::Runs { starts, .. } if starts == &[0, 100, 200]));
            assert!(taken.column(LINE).is_err(), "the column is dropped");
            let expected = lines_of(&df, &rows).unwrap();
            assert_eq!(expected, [2, 101, 105, 106, 204, 300, 399, 155, 2]);
            assert_eq!(runs.of(&taken, &rows).unwrap(), expected);
        }
        // One run per row (a shard's rows): the frame keeps its column.
        let scattered: Vec<i64> = (0..300).map(|i| 2 * i + 1).collect();
        let df = df!(LINE => &scattered).unwrap();
        let mut taken = df.clone();
        let kept = Lines::take(&mut taken).unwrap();
        assert!(matches!(kept, Lines::Column));
        assert_eq!(
            kept.of(&taken, &rows).unwrap(),
            lines_of(&df, &rows).unwrap()
        );
    }
}
