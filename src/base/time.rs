//! Dates and times: epoch milliseconds (UTC) everywhere, whole days for every window.
//!
//! One timestamp parser for every accepted text form (ISO-8601 with or without offset, a
//! bare date, epoch seconds or milliseconds): a fast path for the fixed ISO-8601 layouts
//! exports use, in front of the general parser (chrono). The fast path accepts a subset of
//! what the general parser accepts and gives the same answer for it (a test compares them).

use chrono::{DateTime, NaiveDate, NaiveDateTime};

/// Milliseconds in a day: all windows are whole days.
pub const DAY_MS: i64 = 86_400_000;

/// Parses one timestamp: ISO-8601 date-time with or without offset (none means UTC),
/// a bare ISO date (midnight UTC), or integer epoch seconds / milliseconds
/// (|n| ≥ 10^11 is read as milliseconds). Returns epoch milliseconds.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let s = text.trim();
    // BigQuery's `… UTC` is the fixed layout with a named zone.
    let fixed = s.strip_suffix(" UTC").unwrap_or(s);
    if let Some(ms) = fixed_iso(fixed.as_bytes()) {
        return Some(ms);
    }
    parse_general(s)
}

fn parse_general(s: &str) -> Option<i64> {
    if s.is_empty() {
        return None;
    }
    if s.bytes()
        .enumerate()
        .all(|(i, b)| b.is_ascii_digit() || (i == 0 && b == b'-'))
    {
        return s.parse::<i64>().ok().map(epoch_to_ms);
    }
    if let Some(ms) = fractional_epoch(s) {
        return Some(ms);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.timestamp_millis());
    }
    // BigQuery writes a TIMESTAMP as `2026-09-01 12:34:56.789 UTC`: a named UTC is none.
    if let Some(naive) = ["UTC", "GMT"]
        .iter()
        .find_map(|zone| s.strip_suffix(zone))
        .map(str::trim_end)
        .filter(|rest| rest.len() >= 10)
    {
        return parse_general(naive);
    }
    // `%#z` takes `+00` as well as `+00:00` and `+0000` (Postgres and Redshift write `+00`).
    const WITH_OFFSET: [&str; 2] = ["%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%.f%#z"];
    for fmt in WITH_OFFSET {
        if let Ok(dt) = DateTime::parse_from_str(s, fmt) {
            return Some(dt.timestamp_millis());
        }
    }
    const NAIVE: [&str; 4] = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ];
    for fmt in NAIVE {
        if let Ok(dt) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(dt.and_utc().timestamp_millis());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|dt| dt.and_utc().timestamp_millis())
}

/// An epoch number with a fraction (`1788000000.25`, or `1788000000250.0` as pandas writes
/// an integer column with gaps), in seconds or milliseconds as [`epoch_to_ms`] decides.
fn fractional_epoch(s: &str) -> Option<i64> {
    let (whole, fraction) = s.split_once('.')?;
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let unsigned = whole.strip_prefix('-').unwrap_or(whole);
    if !digits(unsigned) || !digits(fraction) {
        return None;
    }
    let n: f64 = s.parse().ok()?;
    let ms = if n.abs() >= 1e11 { n } else { n * 1000.0 };
    (ms.abs() < 9e15).then(|| ms.floor() as i64)
}

/// Seconds (or milliseconds from |n| ≥ 10^11) since the epoch, as milliseconds.
pub fn epoch_to_ms(n: i64) -> i64 {
    if n.unsigned_abs() >= 100_000_000_000 {
        n
    } else {
        n.saturating_mul(1000)
    }
}

/// The fixed layouts: `YYYY-MM-DD`, then optionally `T` or a space and `HH:MM`, `:SS`,
/// a fraction of 1–9 digits, and `Z`, `±HH:MM` or `±HH`. `None` for anything else (including
/// values out of range, left to the general parser to refuse).
fn fixed_iso(s: &[u8]) -> Option<i64> {
    let num = |from: usize, len: usize| -> Option<i64> {
        let digits = s.get(from..from + len)?;
        digits.iter().try_fold(0i64, |n, &b| {
            b.is_ascii_digit().then(|| n * 10 + i64::from(b - b'0'))
        })
    };
    if s.len() < 10 || s[4] != b'-' || s[7] != b'-' {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    if s.len() == 10 {
        return Some(days * 86_400_000);
    }
    if !matches!(s[10], b'T' | b' ') || s.len() < 16 || s[13] != b':' {
        return None;
    }
    let (hour, minute) = (num(11, 2)?, num(14, 2)?);
    if hour > 23 || minute > 59 {
        return None;
    }
    let mut ms = days * 86_400_000 + hour * 3_600_000 + minute * 60_000;
    if s.len() == 16 {
        return Some(ms);
    }
    if s[16] != b':' {
        return None;
    }
    let second = num(17, 2)?;
    if second > 59 {
        return None;
    }
    ms += second * 1000;
    let mut i = 19;
    if s.get(i) == Some(&b'.') {
        let digits = s[i + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
        if !(1..=9).contains(&digits) {
            return None;
        }
        let frac = num(i + 1, digits.min(3))?;
        ms += frac * [100, 10, 1][digits.min(3) - 1];
        i += 1 + digits;
    }
    // Local time `ms` at an offset of `sign` `oh` hours and `om` minutes, as UTC.
    let at_offset = |sign: u8, oh: i64, om: i64| {
        if oh > 23 || om > 59 {
            return None;
        }
        let offset = oh * 3_600_000 + om * 60_000;
        Some(if sign == b'+' {
            ms - offset
        } else {
            ms + offset
        })
    };
    match &s[i..] {
        [] => Some(ms),
        [b'Z'] => Some(ms),
        // `+00`, as Postgres and Redshift write an offset of whole hours
        [sign @ (b'+' | b'-'), _, _] => at_offset(*sign, num(i + 1, 2)?, 0),
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            at_offset(*sign, num(i + 1, 2)?, num(i + 4, 2)?)
        }
        _ => None,
    }
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses an as-of date: `YYYY-MM-DD` (midnight UTC) or a full ISO-8601 date-time (a bare
/// number is not a date here). Epoch milliseconds.
pub fn parse_date(text: &str) -> Option<i64> {
    parse_timestamp(text).filter(|_| !text.trim().bytes().all(|b| b.is_ascii_digit()))
}

/// Formats epoch milliseconds as an ISO date (`YYYY-MM-DD`, UTC).
pub fn format_date(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// The Monday 00:00 UTC starting the week of `t`.
pub fn week_start(t: i64) -> i64 {
    // 1970-01-01 was a Thursday: day 4 is the first Monday.
    let day = t.div_euclid(DAY_MS);
    (day - (day - 4).rem_euclid(7)) * DAY_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_path_agrees_with_the_general_parser() {
        let dates = [
            "2026-01-05",
            "1970-01-01",
            "1969-12-31",
            "2024-02-29",
            "2023-02-29",
            "2000-02-29",
            "1900-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-04-31",
            "0001-01-01",
            "9999-12-31",
        ];
        let times = [
            "",
            "T03:35",
            " 03:35",
            "T03:35:14",
            " 23:59:59",
            "T24:00:00",
            "T12:60:00",
            "T12:00:60",
            "t03:35:14",
            "T03:35:14.5",
            "T03:35:14.123",
            "T03:35:14.123456789",
            "T03:35:14.1234567891",
            "T03:35:14.",
            " 00:00:00.999",
        ];
        let zones = [
            "", "Z", "z", "+02:00", "-05:30", "+14:00", "+24:00", "+0200", "+02", " UTC",
        ];
        let mut fast = 0;
        for d in dates {
            for t in times {
                for z in zones {
                    let s = format!("{d}{t}{z}");
                    if let Some(ms) = fixed_iso(s.as_bytes()) {
                        fast += 1;
                        assert_eq!(Some(ms), parse_general(&s), "{s}");
                    }
                    assert_eq!(parse_timestamp(&s), parse_general(&s), "{s}");
                }
            }
        }
        assert!(fast > 200, "{fast}");
    }

    #[test]
    fn fast_path_values() {
        assert_eq!(fixed_iso(b"1970-01-01"), Some(0));
        assert_eq!(fixed_iso(b"1970-01-02T00:00:01.5Z"), Some(86_401_500));
        assert_eq!(fixed_iso(b"1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(fixed_iso(b"1969-12-31T23:59:59.999"), Some(-1));
        assert_eq!(fixed_iso(b"2020-01-01T00:28:16"), Some(1_577_838_496_000));
        assert_eq!(fixed_iso(b"1700000000"), None);
    }

    #[test]
    fn parses_every_timestamp_form() {
        let base = 1_767_225_600_000; // 2026-01-01T00:00:00Z
        assert_eq!(parse_timestamp("2026-01-01T00:00:00Z"), Some(base));
        assert_eq!(parse_timestamp("2026-01-01T00:00:00"), Some(base));
        assert_eq!(parse_timestamp("2026-01-01 00:00:00.000"), Some(base));
        assert_eq!(parse_timestamp("2026-01-01T01:00:00+01:00"), Some(base));
        assert_eq!(parse_timestamp("2026-01-01T01:00:00+0100"), Some(base));
        assert_eq!(parse_timestamp("2026-01-01"), Some(base));
        assert_eq!(parse_timestamp("1767225600"), Some(base));
        assert_eq!(parse_timestamp("1767225600000"), Some(base));
        assert_eq!(
            parse_timestamp("2026-01-01T00:00:00.250Z"),
            Some(base + 250)
        );
        assert_eq!(parse_timestamp("yesterday"), None);
    }

    #[test]
    fn parses_what_warehouses_write() {
        // 2026-01-01T00:00:00Z
        let base = 1_767_225_600_000;
        // BigQuery's CSV and JSON exports of a TIMESTAMP
        assert_eq!(parse_timestamp("2026-01-01 00:00:00 UTC"), Some(base));
        assert_eq!(
            parse_timestamp("2026-01-01 00:00:01.250000 UTC"),
            Some(base + 1250)
        );
        assert_eq!(parse_timestamp("2026-01-01T00:00:00 GMT"), Some(base));
        assert_eq!(parse_timestamp("2026-01-01 UTC"), Some(base));
        // Postgres and Redshift text output of a timestamptz: the offset in hours
        assert_eq!(parse_timestamp("2026-01-01 01:00:00+01"), Some(base));
        assert_eq!(parse_timestamp("2025-12-31 19:00:00.000-05"), Some(base));
        assert_eq!(parse_timestamp("2026-01-01 05:30:00+05:30"), Some(base));
        // Snowflake's TIMESTAMP_TZ output: offset without a colon after a space
        assert_eq!(parse_timestamp("2026-01-01 02:00:00.000 +0200"), Some(base));
        // epoch numbers with a fraction: seconds, and milliseconds as pandas writes them
        assert_eq!(parse_timestamp("1767225600.25"), Some(base + 250));
        assert_eq!(parse_timestamp("1767225600000.0"), Some(base));
        assert_eq!(parse_timestamp("-1.5"), Some(-1500));
        for bad in [
            "UTC",
            "1767225600.",
            ".5",
            "1.2.3",
            "2026-01-01 +01",
            "1e12",
            "9e99.0",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
        assert_eq!(parse_timestamp(""), None);
    }
}
