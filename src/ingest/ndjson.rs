//! The checked NDJSON reader: newline-delimited JSON objects (plain or gzipped) → a frame
//! of text columns with each row's source line, like the CSV reader's. A line that is not
//! a JSON object is set aside as a malformed row instead of stopping the read.
//!
//! A wanted field `a.b` is the top-level key `"a.b"` when the object has one, else the
//! nested field `b` of the object `a` (Mixpanel's `properties.time`). Numbers and booleans
//! become their JSON text; objects and arrays their compact JSON; `null` a null.

use std::borrow::Cow;
use std::path::Path;

use polars::prelude::*;
use rayon::prelude::*;
use serde_json::{Map, Value};

use super::blocks::{join_parts, plan_parts, Blocks, PartRows, BLOCK_BYTES};
use super::rejects::{ReadPolicy, RejectClass, Rejects};
use crate::error::{Error, Result};

/// Whether `path` names an NDJSON file (`.ndjson`, `.jsonl`, `.json`, optionally `.gz`).
pub fn is_ndjson(path: &Path) -> bool {
    let name = path.to_string_lossy().to_lowercase();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    name.ends_with(".ndjson") || name.ends_with(".jsonl") || name.ends_with(".json")
}

/// Reads `wanted` fields of every object in an NDJSON file as text, plus [`LINE`]. A
/// wanted field no object has is left out of the frame (the caller treats it as absent).
///
/// The file is read in blocks of whole lines; each block's parts are parsed side by side
/// (a JSON object never spans lines) and joined in order.
pub fn read_ndjson_checked(
    path: &Path,
    wanted: &[&str],
    policy: &ReadPolicy,
    rejects: &mut Rejects,
) -> Result<DataFrame> {
    read_ndjson_in_blocks(path, wanted, policy, rejects, BLOCK_BYTES)
}

fn read_ndjson_in_blocks(
    path: &Path,
    wanted: &[&str],
    policy: &ReadPolicy,
    rejects: &mut Rejects,
    block_bytes: usize,
) -> Result<DataFrame> {
    let mut blocks = Blocks::open(path, block_bytes)?;
    let mut parts: Vec<Part> = Vec::new();
    let mut line: u64 = 1;
    while let Some(block) = blocks.next_block()? {
        if line == 1 {
            refuse_json_array(path, &block)?;
        }
        let plans = plan_parts(&block, 2 * rayon::current_num_threads(), line);
        line += plans.iter().map(|p| p.newlines).sum::<u64>();
        let parsed: Vec<Part> = plans
            .into_par_iter()
            .map(|plan| {
                let text = &block[plan.range];
                parse_part(
                    path,
                    text,
                    plan.first_line,
                    plan.newlines as usize,
                    wanted,
                    policy,
                )
            })
            .collect();
        parts.extend(parsed);
        blocks.recycle(block);
    }
    let read: u64 = parts.iter().map(|p| p.read).sum();
    if read == 0 {
        return Err(Error::EmptyInput { path: path.into() });
    }
    let mut seen = vec![false; wanted.len()];
    for part in &parts {
        for (s, p) in seen.iter_mut().zip(&part.seen) {
            *s |= p;
        }
    }
    let rows = parts.into_iter().map(|p| p.rows).collect();
    let df = join_parts(rows, wanted.len(), |i| seen[i], rejects)?;
    rejects.rows_read(path, read);
    Ok(df)
}

/// One JSON array of objects (`[{…}, {…}]`, as some exports and APIs write) is not JSON
/// lines: every line of it would be set aside. Said at once, with the way to convert it.
fn refuse_json_array(path: &Path, first_block: &[u8]) -> Result<()> {
    let text = first_block
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(first_block);
    if text.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(Error::CorruptFile {
            path: path.into(),
            message: "the file is one JSON array, not JSON lines (one object per line)".into(),
            hint: "convert it, e.g. `jq -c '.[]' FILE > events.jsonl`",
        });
    }
    Ok(())
}

/// The rows of one part of a file, in order.
struct Part {
    rows: PartRows,
    /// Whether any object of the part had the wanted field.
    seen: Vec<bool>,
    /// Non-empty lines read.
    read: u64,
}

/// Parses the lines of `text` (about `rows`), the first being source line `first`.
fn parse_part(
    path: &Path,
    text: &[u8],
    first: u64,
    rows: usize,
    wanted: &[&str],
    policy: &ReadPolicy,
) -> Part {
    let mut part = Part {
        rows: PartRows::new(wanted.iter().copied(), rows),
        seen: vec![false; wanted.len()],
        read: 0,
    };
    let picker = Picker::new(wanted);
    let ends = memchr::memchr_iter(b'\n', text).chain([text.len()]);
    let mut start = 0;
    for (i, end) in ends.enumerate() {
        let line = &text[start.min(end)..end];
        start = end + 1;
        let line_no = first + i as u64;
        let text = line.trim_ascii();
        if text.is_empty() {
            continue;
        }
        part.read += 1;
        let raw = || String::from_utf8_lossy(text).into_owned();
        // Only the wanted fields are built; a line the fast path does not take (not an
        // object, not JSON, escaped keys) is read whole below, for the same verdict.
        let fields = match picker.pick(text) {
            Some(fields) => fields,
            None => match whole_object(text) {
                Ok(object) => picker.of_object(&object),
                Err((class, detail)) => {
                    part.rows.rejects.add(path, line_no, class, detail, &raw());
                    continue;
                }
            },
        };
        let mut cells: Vec<Option<Cow<str>>> = Vec::with_capacity(wanted.len());
        let mut oversized = None;
        for (i, name) in wanted.iter().enumerate() {
            let cell = picker.field(&fields, i).and_then(as_text);
            if let Some(c) = &cell {
                part.seen[i] = true;
                if c.len() > policy.max_field_bytes {
                    oversized = Some((name, c.len()));
                }
            }
            cells.push(cell);
        }
        if let Some((name, len)) = oversized {
            part.rows.rejects.add(
                path,
                line_no,
                RejectClass::OversizedField,
                format!("`{name}` is {len} bytes (limit {})", policy.max_field_bytes),
                &raw(),
            );
            continue;
        }
        for (column, cell) in part.rows.columns.iter_mut().zip(cells) {
            match cell {
                Some(c) => column.append_value(c.as_ref()),
                None => column.append_null(),
            }
        }
        part.rows.lines.push(line_no as i64);
    }
    part
}

/// A line read whole as JSON: its object, or the reject class and detail of a line that
/// is not one.
fn whole_object(text: &[u8]) -> std::result::Result<Map<String, Value>, (RejectClass, String)> {
    match serde_json::from_slice::<Value>(text) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(other) => {
            let kind = match other {
                Value::Array(_) => "an array",
                Value::String(_) => "a string",
                Value::Number(_) => "a number",
                Value::Bool(_) => "a boolean",
                _ => "null",
            };
            Err((
                RejectClass::MalformedRow,
                format!("{kind}, not a JSON object"),
            ))
        }
        Err(e) => {
            let class = if std::str::from_utf8(text).is_err() {
                RejectClass::InvalidUtf8
            } else {
                RejectClass::MalformedRow
            };
            Err((class, format!("not JSON: {e}")))
        }
    }
}

/// Reads the wanted fields of an object without building the rest of it: the top-level
/// keys a wanted field names (`a.b` names the key `a.b` and, for the nested field, `a`)
/// are kept as values, every other value is skipped as it is parsed.
struct Picker<'w> {
    wanted: &'w [&'w str],
    /// The top-level keys to keep.
    keys: Vec<&'w str>,
}

impl<'w> Picker<'w> {
    fn new(wanted: &'w [&'w str]) -> Self {
        let mut keys: Vec<&str> = Vec::new();
        for w in wanted {
            for k in [*w, w.split('.').next().unwrap_or(w)] {
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
        Picker { wanted, keys }
    }

    /// The kept keys' values of the object on `text`; `None` when the line is not a
    /// JSON object this path reads (the caller then reads it whole).
    fn pick(&self, text: &[u8]) -> Option<Vec<Option<Value>>> {
        let text = std::str::from_utf8(text).ok()?;
        let mut de = serde_json::Deserializer::from_str(text);
        let fields = serde::de::DeserializeSeed::deserialize(self, &mut de).ok()?;
        de.end().ok()?;
        Some(fields)
    }

    /// The kept keys' values of an object read whole.
    fn of_object(&self, object: &Map<String, Value>) -> Vec<Option<Value>> {
        self.keys.iter().map(|k| object.get(*k).cloned()).collect()
    }

    /// Wanted field `i` from the kept values: the key itself, else the dotted path.
    fn field<'v>(&self, kept: &'v [Option<Value>], i: usize) -> Option<&'v Value> {
        let name = self.wanted[i];
        let at = |k: &str| self.keys.iter().position(|x| *x == k);
        if let Some(v) = at(name).and_then(|j| kept[j].as_ref()) {
            return Some(v);
        }
        let mut parts = name.split('.');
        let first = parts.next()?;
        let mut v = at(first).and_then(|j| kept[j].as_ref())?;
        let mut nested = false;
        for part in parts {
            v = v.as_object()?.get(part)?;
            nested = true;
        }
        nested.then_some(v)
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for &Picker<'_> {
    type Value = Vec<Option<Value>>;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        de: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        de.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for &Picker<'_> {
    type Value = Vec<Option<Value>>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        let mut kept: Vec<Option<Value>> = vec![None; self.keys.len()];
        // Keys borrowed from the line: a key with escapes is not taken here (the line is
        // then read whole), so every key compares as written.
        while let Some(key) = map.next_key::<&str>()? {
            match self.keys.iter().position(|k| *k == key) {
                // A repeated key keeps its last value, as a whole read does.
                Some(j) => kept[j] = Some(map.next_value::<Value>()?),
                None => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(kept)
    }
}

pub(super) fn as_text(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Number(n) => Some(Cow::Owned(number_text(n))),
        Value::Bool(true) => Some(Cow::Borrowed("true")),
        Value::Bool(false) => Some(Cow::Borrowed("false")),
        other => Some(Cow::Owned(other.to_string())),
    }
}

/// A number as text; an integral float (`1002.0`, as Python and pandas write integer ids
/// that passed through a float) as the integer, so it matches `1002` in `users.csv`.
fn number_text(n: &serde_json::Number) -> String {
    match n.as_f64() {
        Some(x) if n.is_f64() && x.fract() == 0.0 && x.abs() < 9.007_199_254_740_992e15 => {
            format!("{x:.0}")
        }
        _ => n.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::LINE;

    #[test]
    fn integral_float_numbers_read_as_integers() {
        let text = |j: &str| {
            let v: Value = serde_json::from_str(j).unwrap();
            as_text(&v).map(|c| c.into_owned())
        };
        assert_eq!(text("1002.0").as_deref(), Some("1002"));
        assert_eq!(text("1002").as_deref(), Some("1002"));
        assert_eq!(text("-7.0").as_deref(), Some("-7"));
        assert_eq!(text("2.5").as_deref(), Some("2.5"));
        assert_eq!(text("1e300").as_deref(), Some("1e+300"));
        assert_eq!(text("\"1002.0\"").as_deref(), Some("1002.0"));
    }

    #[test]
    fn a_json_array_file_is_named_as_one() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("export.json");
        std::fs::write(
            &p,
            "\u{feff}\n  [{\"event\":\"login\"},\n {\"event\":\"x\"}]\n",
        )
        .unwrap();
        let err = read_ndjson_checked(&p, &["event"], &ReadPolicy::new(0), &mut Rejects::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("one JSON array, not JSON lines"), "{err}");
        assert!(err.contains("jq -c '.[]'"), "{err}");
    }

    #[test]
    fn reads_nested_fields_and_sets_aside_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e.ndjson");
        std::fs::write(
            &p,
            concat!(
                "{\"event\":\"login\",\"properties\":{\"distinct_id\":42,\"time\":1700000000}}\n",
                "\n",
                "{\"event\":\"x\",\"properties\":\n",
                "[1,2]\n",
                "{\"event\":\"report\",\"properties.distinct_id\":\"u7\",\"properties\":{\"time\":1.5}}\n",
            ),
        )
        .unwrap();
        let mut rejects = Rejects::default();
        let policy = ReadPolicy::new(0);
        let df = read_ndjson_checked(
            &p,
            &[
                "event",
                "properties.distinct_id",
                "properties.time",
                "absent",
            ],
            &policy,
            &mut rejects,
        )
        .unwrap();
        assert_eq!(df.height(), 2);
        assert!(df.column("absent").is_err());
        let ids: Vec<_> = df
            .column("properties.distinct_id")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(ids, [Some("42"), Some("u7")]);
        let lines: Vec<_> = df.column(LINE).unwrap().i64().unwrap().iter().collect();
        assert_eq!(lines, [Some(1), Some(5)]);
        assert_eq!(rejects.total(), 2);
        assert!(is_ndjson(Path::new("a/B.JSONL.gz")));
        assert!(!is_ndjson(Path::new("a.csv")));
    }

    #[test]
    fn picking_fields_reads_as_a_whole_read_does() {
        let wanted = ["user_id", "properties.time", "event", "value", "a.b.c"];
        let picker = Picker::new(&wanted);
        let lines = [
            r#"{"user_id":"u1","event":"login","value":1.50,"properties":{"time":17}}"#,
            r#"{"user_id":7,"user_id":"last","event":null,"extra":{"deep":[1,2,{"x":"y"}]}}"#,
            r#"{"properties.time":"flat","properties":{"time":"nested"},"a":{"b":{"c":true}}}"#,
            r#"{"us\u0065r_id":"escaped key","event":"e\n\"q\""}"#,
            r#"{"a":{"b":5},"value":{"k":[1, 2]},"event":"caf\u00e9"}"#,
            r#"{"value":-0.0,"event":"x","properties":[1]}"#,
        ];
        for line in lines {
            let whole = picker.of_object(&whole_object(line.as_bytes()).unwrap());
            let cells = |kept: &[Option<Value>]| -> Vec<Option<String>> {
                (0..wanted.len())
                    .map(|i| picker.field(kept, i).and_then(as_text).map(Cow::into_owned))
                    .collect()
            };
            match picker.pick(line.as_bytes()) {
                Some(kept) => assert_eq!(cells(&kept), cells(&whole), "{line}"),
                None => assert!(line.contains("\\u0065"), "{line}"),
            }
        }
        let first = picker.pick(lines[0].as_bytes()).unwrap();
        assert_eq!(
            picker.field(&first, 1).and_then(as_text).as_deref(),
            Some("17")
        );
        assert_eq!(
            picker.field(&first, 3).and_then(as_text).as_deref(),
            Some("1.5")
        );
        let flat = picker.pick(lines[2].as_bytes()).unwrap();
        assert_eq!(
            picker.field(&flat, 1).and_then(as_text).as_deref(),
            Some("flat")
        );
        assert_eq!(
            picker.field(&flat, 4).and_then(as_text).as_deref(),
            Some("true")
        );
        for bad in [&b"[1,2]"[..], b"{\"a\":1} x", b"{\"a\":", b"\"s\""] {
            assert!(picker.pick(bad).is_none());
            assert!(whole_object(bad).is_err());
        }
    }
}
