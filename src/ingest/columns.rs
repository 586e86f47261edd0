//! Column expressions shared by the readers: a text column whatever its stored type, a
//! timestamp column in its unit, the first present of several sources, and the messages
//! of a missing column.

use std::path::Path;

use polars::prelude::*;

use super::timestamp::parse_timestamp_column;
use super::{rejects, ColumnMap, TimestampUnit, LINE};
use crate::error::{Error, Result};

/// Where column `name` is among `names`: under its own name, else the one column of that
/// name in another letter case (Snowflake writes every unquoted name in capitals:
/// `USER_ID`, `EMAIL`); none when several differ only in case.
pub fn column_position<S: AsRef<str>>(names: &[S], name: &str) -> Option<usize> {
    names.iter().position(|h| h.as_ref() == name).or_else(|| {
        let mut same = names
            .iter()
            .enumerate()
            .filter(|(_, h)| h.as_ref().eq_ignore_ascii_case(name));
        match (same.next(), same.next()) {
            (Some((i, _)), None) => Some(i),
            _ => None,
        }
    })
}

/// The columns of `schema` for messages, without the line column.
pub(super) fn found_columns(schema: &Schema) -> String {
    let names = schema
        .iter_names()
        .filter(|n| n.as_str() != LINE)
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    rejects::shorten(&names, 300)
}

/// Applies `FIELD=COLUMN` arguments (`--user-column`, `--subscription-column`, named `what`
/// in messages) to `target`, whose place for a field `slot` gives (`None`: no such field,
/// and `fields` are listed).
pub(super) fn apply_column_arguments<T>(
    target: &mut T,
    args: &[String],
    what: &str,
    fields: &[&str],
    slot: for<'a> fn(&'a mut T, &str) -> Option<&'a mut Option<String>>,
) -> Result<()> {
    for arg in args {
        let bad = |message: String| Error::InvalidArgument {
            name: what.into(),
            message,
        };
        let (field, column) = arg
            .split_once('=')
            .ok_or_else(|| bad(format!("{arg:?} is not FIELD=COLUMN")))?;
        let column = Some(column.trim().to_string()).filter(|c| !c.is_empty());
        let column = column.ok_or_else(|| bad(format!("{arg:?} names no column")))?;
        let place = slot(target, field.trim()).ok_or_else(|| {
            bad(format!(
                "unknown field {:?} ({})",
                field.trim(),
                fields.join(", ")
            ))
        })?;
        *place = Some(column);
    }
    Ok(())
}

/// A text column under its own name, whatever its stored type (ids may be integers).
pub(super) fn text(path: &Path, schema: &Schema, column: &str) -> Result<Expr> {
    match schema.get(column) {
        // pandas stores an integer id column with a gap as float64: 1178.0 is user 1178,
        // as in users.csv (a non-integral float stays as written).
        Some(d) if d.is_float() => {
            let c = col(column);
            let whole = c.clone().cast(DataType::Int64);
            Ok(when(whole.clone().cast(d.clone()).eq(c.clone()))
                .then(whole.cast(DataType::String))
                .otherwise(c.cast(DataType::String))
                .alias(column))
        }
        Some(d) if d.is_primitive() || d.is_string() => {
            Ok(col(column).cast(DataType::String).alias(column))
        }
        Some(other) => Err(Error::BadColumnType {
            path: path.into(),
            column: column.into(),
            dtype: other.to_string(),
            expected: "text or integer".into(),
        }),
        None => Ok(lit(NULL).cast(DataType::String).alias(column)),
    }
}

pub(super) fn require_column(path: &Path, schema: &Schema, column: &str) -> Result<()> {
    if schema.contains(column) {
        return Ok(());
    }
    Err(Error::MissingColumn {
        path: path.into(),
        column: column.into(),
        found: schema
            .iter_names()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        preset_setting: None,
    })
}

/// An expression turning `column` into epoch milliseconds, whatever its type.
pub(super) fn timestamp_expr(
    path: &Path,
    schema: &Schema,
    column: &str,
    unit: TimestampUnit,
) -> Result<Expr> {
    let dtype = schema.get(column).cloned().unwrap_or(DataType::String);
    Ok(match dtype {
        DataType::String => col(column).map(
            move |c: Column| parse_timestamp_column(c, unit),
            |_: &Schema, f: &Field| Ok(Field::new(f.name().clone(), DataType::Int64)),
        ),
        DataType::Datetime(_, _) | DataType::Date => col(column)
            .cast(DataType::Datetime(TimeUnit::Milliseconds, None))
            .cast(DataType::Int64),
        d if d.is_integer() && unit != TimestampUnit::Auto => {
            let n = col(column).cast(DataType::Int64);
            match unit {
                TimestampUnit::S => n * lit(1000i64),
                TimestampUnit::Us => n / lit(1000i64),
                TimestampUnit::Ns => n / lit(1_000_000i64),
                _ => n,
            }
        }
        d if d.is_float() && unit != TimestampUnit::Auto => {
            let factor = unit.to_ms(1.0);
            (col(column).cast(DataType::Float64) * lit(factor)).cast(DataType::Int64)
        }
        d if d.is_integer() => {
            let n = col(column).cast(DataType::Int64);
            when(
                n.clone()
                    .gt_eq(lit(100_000_000_000i64))
                    .or(n.clone().lt_eq(lit(-100_000_000_000i64))),
            )
            .then(n.clone())
            .otherwise(n * lit(1000i64))
        }
        d if d.is_float() => {
            let n = col(column).cast(DataType::Float64);
            when(n.clone().gt_eq(lit(1e11)).or(n.clone().lt_eq(lit(-1e11))))
                .then(n.clone())
                .otherwise(n * lit(1000.0))
                .cast(DataType::Int64)
        }
        other => {
            return Err(Error::BadColumnType {
                path: path.into(),
                column: column.into(),
                dtype: other.to_string(),
                expected: "ISO-8601 text, epoch seconds/milliseconds or a datetime".into(),
            })
        }
    })
}

/// The first non-empty of several text columns, row by row.
pub(super) fn first_text(path: &Path, schema: &Schema, sources: &[String]) -> Result<Expr> {
    let mut exprs = sources
        .iter()
        .map(|s| text(path, schema, s))
        .collect::<Result<Vec<_>>>()?;
    let Some(mut out) = exprs.pop() else {
        return Ok(lit(NULL).cast(DataType::String));
    };
    while let Some(e) = exprs.pop() {
        let filled = e.clone().is_not_null().and(e.clone().neq(lit("")));
        out = when(filled).then(e).otherwise(out);
    }
    Ok(out)
}

/// No source of a required field is in the file: names every accepted source.
pub(super) fn missing_source(
    path: &Path,
    schema: &Schema,
    sources: &[String],
    map: &ColumnMap,
) -> Error {
    // Quoted by the message as `a` or `b`[ of preset `p`].
    let mut column = sources.join("` or `");
    if let Some(p) = map.preset {
        column = format!("{column}` of preset `{}", p.name());
    }
    let mut found = found_columns(schema);
    if found.is_empty() {
        // A JSON file is read for the fields looked for only.
        found = "none of the fields looked for".into();
    }
    Error::MissingColumn {
        path: path.into(),
        column,
        found,
        // Without a preset, the one setting that may name the export's columns.
        preset_setting: map.preset.is_none().then(|| "`[inputs] preset`".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// pandas writes an integer id column with a gap as float64: its ids must read as the
    /// integers users.csv holds; a real fraction and text stay as they are.
    #[test]
    fn integral_float_ids_read_as_integers() -> Result<()> {
        let df = df!(
            "f" => [Some(1178.0), Some(2.5), None, Some(-3.0)],
            "s" => ["a1", "1178.0", "x", "y"]
        )?;
        let path = Path::new("events.parquet");
        let schema = df.schema().clone();
        let out = df
            .lazy()
            .select([text(path, &schema, "f")?, text(path, &schema, "s")?])
            .collect()?;
        let f: Vec<Option<&str>> = out.column("f")?.str()?.iter().collect();
        assert_eq!(f, [Some("1178"), Some("2.5"), None, Some("-3")]);
        let s: Vec<Option<&str>> = out.column("s")?.str()?.iter().collect();
        assert_eq!(s, [Some("a1"), Some("1178.0"), Some("x"), Some("y")]);
        Ok(())
    }
}
