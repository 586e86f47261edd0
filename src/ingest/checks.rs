//! Row checks: the rules that set a row aside (a mask, a class, the column it quotes),
//! and the move of flagged rows to the rejects with their source text and line.

use chrono::DateTime;
use polars::prelude::*;

use super::files::Origin;
use super::lines::lines_of;
use super::rejects::{ReadPolicy, RejectClass, Rejects};
use crate::error::Result;

/// A rule that sets a row aside: where `mask` is true, the row is a `class` reject, and
/// the detail quotes `column` with `what` is wrong with it.
pub(super) struct Check {
    pub(super) mask: Expr,
    class: RejectClass,
    column: &'static str,
    what: &'static str,
}

impl Check {
    pub(super) fn new(
        mask: Expr,
        class: RejectClass,
        column: &'static str,
        what: &'static str,
    ) -> Self {
        Check {
            mask,
            class,
            column,
            what,
        }
    }

    /// A null cell (an empty CSV field).
    pub(super) fn empty(column: &'static str) -> Self {
        Check::new(
            col(column).is_null(),
            RejectClass::MissingValue,
            column,
            "empty",
        )
    }

    /// An empty or absent text value.
    /// Whether this is the check of a missing user id.
    pub(super) fn is_missing_id(&self) -> bool {
        self.column == "user_id" && self.class == RejectClass::MissingValue
    }

    pub(super) fn missing(column: &'static str) -> Self {
        Check::new(
            // Compared as a text (a view's length), not measured into a column of lengths.
            col(column).is_null().or(col(column).eq(lit(""))),
            RejectClass::MissingValue,
            column,
            "empty",
        )
    }
}

/// The checks of a parsed timestamp column (`parsed`) read from `column`.
pub(super) fn time_checks(parsed: &str, column: &'static str, policy: &ReadPolicy) -> Vec<Check> {
    vec![
        Check::new(
            col(parsed).is_null(),
            RejectClass::UnparseableTimestamp,
            column,
            "not ISO-8601 or epoch seconds/milliseconds",
        ),
        Check::new(
            col(parsed).lt(lit(0i64)),
            RejectClass::Before1970,
            column,
            "before 1970-01-01",
        ),
        Check::new(
            col(parsed).gt(lit(policy.now_ms + policy.clock_skew_ms)),
            RejectClass::FutureTimestamp,
            column,
            "later than the time of this run",
        ),
    ]
}

/// Moves the rows any check flags (the first matching check names the class) from `df`
/// to `rejects`; returns the rest, in order.
pub(super) fn set_aside(
    df: DataFrame,
    origin: Origin<'_>,
    checks: &[Check],
    raw: &[&str],
    rejects: &mut Rejects,
) -> Result<DataFrame> {
    // Each check's mask is its own expression of one `select`, which polars evaluates
    // side by side on its threads; their union flags the rows failing any check.
    let names: Vec<String> = (0..checks.len()).map(|i| format!("__check{i}")).collect();
    let masks: Vec<Expr> = checks
        .iter()
        .zip(&names)
        .map(|(c, n)| c.mask.clone().fill_null(lit(false)).alias(n.as_str()))
        .collect();
    let all_masks = df.clone().lazy().select(masks).collect()?;
    let mut any = BooleanChunked::full("__failed".into(), false, df.height());
    for n in &names {
        any = &any | all_masks.column(n)?.bool()?;
    }
    if !any.any() {
        return Ok(df);
    }
    let bad = df.filter(&any)?;
    let bad_masks = all_masks.filter(&any)?;
    drop(all_masks);
    let masks = names
        .iter()
        .map(|n| bad_masks.column(n).and_then(|c| c.bool().cloned()))
        .collect::<PolarsResult<Vec<_>>>()?;
    let texts = RowTexts::new(&bad, raw)?;
    let all: Vec<IdxSize> = (0..bad.height() as IdxSize).collect();
    let lines = lines_of(&bad, &all)?;
    for (i, &source_line) in lines.iter().enumerate() {
        let Some(k) = masks.iter().position(|m| m.get(i) == Some(true)) else {
            continue;
        };
        let c = &checks[k];
        let value = texts.get(c.column, i);
        let column = c.column.trim_end_matches("_raw");
        let (file, line) = origin.locate(source_line);
        rejects.add(
            file,
            line,
            c.class,
            format!("`{column}` {value:?}: {}", c.what),
            &texts.row(i),
        );
    }
    Ok(df.filter(&!&any)?)
}

/// The rejected rows' cells as text, for the reject file.
pub(super) struct RowTexts {
    columns: Vec<(String, StringChunked)>,
}

impl RowTexts {
    pub(super) fn new(df: &DataFrame, raw: &[&str]) -> Result<Self> {
        let mut columns = Vec::with_capacity(raw.len());
        for name in raw {
            let c = df.column(name)?;
            let c = match c.dtype() {
                // Datetimes (with or without a time zone) as UTC ISO text.
                DataType::Datetime(unit, _) => {
                    let per_ms = match unit {
                        TimeUnit::Nanoseconds => 1_000_000,
                        TimeUnit::Microseconds => 1_000,
                        TimeUnit::Milliseconds => 1,
                    };
                    let text: StringChunked = c
                        .to_physical_repr()
                        .i64()?
                        .iter()
                        .map(|v| {
                            v.and_then(|v| DateTime::from_timestamp_millis(v.div_euclid(per_ms)))
                                .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
                        })
                        .collect();
                    text.into_column()
                }
                _ => c.cast(&DataType::String)?,
            };
            columns.push((name.to_string(), c.str()?.clone()));
        }
        Ok(RowTexts { columns })
    }

    pub(super) fn get(&self, name: &str, row: usize) -> String {
        self.columns
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, c)| c.get(row))
            .unwrap_or_default()
            .to_string()
    }

    pub(super) fn row(&self, row: usize) -> String {
        self.columns
            .iter()
            .map(|(_, c)| c.get(row).unwrap_or_default())
            .collect::<Vec<_>>()
            .join(",")
    }
}
