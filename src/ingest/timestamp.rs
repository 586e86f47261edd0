//! Timestamp columns as epoch milliseconds: a text column parsed on all cores, numbers in
//! a declared unit (the text parser itself is [`crate::base::time::parse_timestamp`]).

use polars::prelude::*;

use super::keys::par_blocks;
use super::mapping::TimestampUnit;
use crate::base::time::parse_timestamp;

/// Parses one timestamp whose numbers are in `unit` (text dates as [`parse_timestamp`]).
pub fn parse_timestamp_in(text: &str, unit: TimestampUnit) -> Option<i64> {
    if unit == TimestampUnit::Auto {
        return parse_timestamp(text);
    }
    let s = text.trim();
    if let Ok(n) = s.parse::<i64>() {
        return Some(unit.int_to_ms(n));
    }
    match s.parse::<f64>() {
        Ok(n) if n.is_finite() => Some(unit.to_ms(n).floor() as i64),
        _ => parse_timestamp(s),
    }
}

/// A text column of timestamps as epoch milliseconds (null where unparseable), parsed in
/// blocks on rayon's threads.
pub fn parse_timestamp_column(c: Column, unit: TimestampUnit) -> PolarsResult<Column> {
    let text = c.str()?;
    let blocks = par_blocks(text, |_, block| -> Int64Chunked {
        block
            .iter()
            .map(|v| v.and_then(|v| parse_timestamp_in(v, unit)))
            .collect()
    });
    let mut out = Int64Chunked::full_null(c.name().clone(), 0);
    for block in blocks {
        out.append_owned(block)?;
    }
    Ok(out.with_name(c.name().clone()).into_column())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_column_in_blocks_in_order() {
        let texts: Vec<Option<String>> = (0..200_000)
            .map(|i| (i % 7 != 0).then(|| format!("{}", 1_700_000_000 + i)))
            .collect();
        let ca = StringChunked::new("t".into(), &texts);
        let out = parse_timestamp_column(ca.into_column(), TimestampUnit::Auto).unwrap();
        let out: Vec<Option<i64>> = out.i64().unwrap().iter().collect();
        assert_eq!(out.len(), 200_000);
        for (i, v) in out.iter().enumerate() {
            let want = (i % 7 != 0).then(|| (1_700_000_000 + i as i64) * 1000);
            assert_eq!(*v, want, "{i}");
        }
    }
}
