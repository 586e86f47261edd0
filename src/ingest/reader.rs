//! The checked CSV reader: plain or gzipped CSV → a frame of text columns with each row's
//! source line, every structurally bad row set aside as a reject instead of stopping the
//! read.
//!
//! Handled here, because only the bytes show them: a byte-order mark (removed, reported),
//! CRLF line ends (read, reported), a header that another delimiter would split (an
//! error naming the delimiter), rows with the wrong number of fields or an unclosed
//! quote, fields over the size limit, and fields that are not UTF-8. Values are
//! interpreted (timestamps, numbers) by the caller, which knows each column's role.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use csv::ByteRecord;
use polars::prelude::*;

use super::rejects::{Finding, ReadPolicy, RejectClass, Rejects};
use crate::error::{Error, Result};

/// The frame's column holding each row's source line (1 = the header line).
pub const LINE: &str = "line";

/// The bytes of a file, decompressed when its name ends in `.gz`.
pub fn open_bytes(path: &Path) -> Result<Box<dyn Read>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let gz = path.to_string_lossy().to_lowercase().ends_with(".gz");
    Ok(if gz {
        Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(
            1 << 16,
            file,
        )))
    } else {
        Box::new(file)
    })
}

/// Reads `wanted` columns (those present) of a CSV or CSV.gz file as text, plus [`LINE`].
/// `required` columns must be in the header. Empty cells become nulls.
pub fn read_csv_checked(
    path: &Path,
    wanted: &[&str],
    required: &[&str],
    policy: &ReadPolicy,
    rejects: &mut Rejects,
) -> Result<DataFrame> {
    let source = open_bytes(path)?;
    let mut source = BufReader::with_capacity(1 << 16, CrlfCounter::new(source));
    let delimiter = match policy.delimiter {
        Some(d) => d,
        None => sniff(source.fill_buf().map_err(|e| Error::io(path, e))?),
    };
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .buffer_capacity(1 << 20)
        .from_reader(source);
    let io = |e: csv::Error| match e.into_kind() {
        csv::ErrorKind::Io(e) => Error::io(path, e),
        other => Error::io(path, std::io::Error::other(format!("{other:?}"))),
    };

    let mut rec = ByteRecord::new();
    if !rdr.read_byte_record(&mut rec).map_err(io)? {
        return Err(Error::EmptyInput { path: path.into() });
    }
    if rdr.get_ref().get_ref().head == b"\xEF\xBB\xBF" {
        rejects.finding(path, Finding::ByteOrderMark, 1);
    }
    let mut header: Vec<String> = Vec::with_capacity(rec.len());
    for (i, field) in rec.iter().enumerate() {
        // The csv crate removes a leading byte-order mark itself; be sure of it.
        let field = match field.strip_prefix(b"\xEF\xBB\xBF") {
            Some(rest) if i == 0 => rest,
            _ => field,
        };
        header.push(String::from_utf8_lossy(field).trim().to_string());
    }
    check_header(path, &header, required, delimiter)?;

    // Output columns: the wanted ones the header has, by header position.
    let picks: Vec<(usize, &str)> = wanted
        .iter()
        .filter_map(|w| header.iter().position(|h| h == w).map(|i| (i, *w)))
        .collect();
    let mut builders: Vec<StringChunkedBuilder> = picks
        .iter()
        .map(|(_, name)| StringChunkedBuilder::new((*name).into(), 1 << 16))
        .collect();
    let mut lines: Vec<i64> = Vec::with_capacity(1 << 16);
    let mut rows_read = 0u64;
    let delim = char::from(delimiter).to_string();

    while rdr.read_byte_record(&mut rec).map_err(io)? {
        rows_read += 1;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        // Lines this record spans: more than one only inside quotes.
        let spanned = 1 + rec
            .iter()
            .map(|f| f.iter().filter(|&&b| b == b'\n').count() as u64)
            .sum::<u64>();
        let problem = if rec.len() != header.len() {
            rows_read += spanned - 1;
            Some((
                RejectClass::MalformedRow,
                if spanned > 1 {
                    format!(
                        "{} fields, the header has {}; a quote left open swallowed {spanned} lines",
                        rec.len(),
                        header.len()
                    )
                } else {
                    format!(
                        "{} fields, the header has {} (a stray delimiter or quote?)",
                        rec.len(),
                        header.len()
                    )
                },
            ))
        } else if let Some(i) = rec.iter().position(|f| f.len() > policy.max_field_bytes) {
            Some((
                RejectClass::OversizedField,
                format!(
                    "field `{}` is {} bytes, the limit is {}",
                    header[i],
                    rec[i].len(),
                    policy.max_field_bytes
                ),
            ))
        } else {
            rec.iter()
                .position(|f| std::str::from_utf8(f).is_err())
                .map(|i| {
                    (
                        RejectClass::InvalidUtf8,
                        format!("field `{}` is not valid UTF-8", header[i]),
                    )
                })
        };
        if let Some((class, detail)) = problem {
            let raw = rec
                .iter()
                .map(String::from_utf8_lossy)
                .collect::<Vec<_>>()
                .join(&delim);
            let lost = if class == RejectClass::MalformedRow {
                spanned
            } else {
                1
            };
            rejects.add_lines(path, line, class, detail, &raw, lost);
            continue;
        }
        for ((i, _), b) in picks.iter().zip(builders.iter_mut()) {
            // Checked above: every field is UTF-8.
            let text = std::str::from_utf8(&rec[*i]).unwrap_or_default().trim();
            if text.is_empty() {
                b.append_null();
            } else {
                b.append_value(text);
            }
        }
        lines.push(line as i64);
    }
    rejects.rows_read(path, rows_read);
    let crlf = rdr.into_inner().into_inner().crlf;
    if crlf > 0 {
        rejects.finding(path, Finding::CrlfLineEnds, crlf);
    }
    if rows_read == 0 {
        return Err(Error::EmptyInput { path: path.into() });
    }
    let height = lines.len();
    let mut columns: Vec<Column> = builders
        .into_iter()
        .map(|b| b.finish().into_column())
        .collect();
    columns.push(Column::new(LINE.into(), lines));
    Ok(DataFrame::new(height, columns)?)
}

/// Fails on a missing required column; when the header is one column that another common
/// separator would split into the required ones, says so.
fn check_header(path: &Path, header: &[String], required: &[&str], delimiter: u8) -> Result<()> {
    let Some(missing) = required.iter().find(|r| !header.iter().any(|h| h == *r)) else {
        return Ok(());
    };
    if header.len() == 1 {
        for sep in [b',', b';', b'\t', b'|'] {
            if sep == delimiter {
                continue;
            }
            let parts: Vec<&str> = header[0].split(char::from(sep)).map(str::trim).collect();
            if required.iter().all(|r| parts.contains(r)) {
                return Err(Error::WrongDelimiter {
                    path: path.into(),
                    header: super::rejects::shorten(&header[0], 200),
                    found: separator_name(sep).into(),
                    found_text: separator_text(sep).into(),
                    expected: separator_name(delimiter).into(),
                });
            }
        }
    }
    Err(Error::MissingColumn {
        path: path.into(),
        column: (*missing).into(),
        found: header.join(", "),
    })
}

/// The common separator that splits the first line into the most fields (comma on a tie).
fn sniff(head: &[u8]) -> u8 {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let mut best = (b',', 0usize);
    for sep in [b',', b';', b'\t', b'|'] {
        let n = line.iter().filter(|&&b| b == sep).count();
        if n > best.1 {
            best = (sep, n);
        }
    }
    best.0
}

fn separator_name(sep: u8) -> &'static str {
    match sep {
        b',' => "comma",
        b';' => "semicolon",
        b'\t' => "tab",
        b'|' => "pipe",
        _ => "other",
    }
}

fn separator_text(sep: u8) -> &'static str {
    match sep {
        b',' => ",",
        b';' => ";",
        b'\t' => "\\t",
        b'|' => "|",
        _ => "?",
    }
}

/// Passes bytes through, counting CR LF pairs (also across reads) and keeping the first
/// three bytes (the csv crate drops a byte-order mark silently; this sees it).
struct CrlfCounter<R> {
    inner: R,
    last_cr: bool,
    crlf: u64,
    head: Vec<u8>,
}

impl<R> CrlfCounter<R> {
    fn new(inner: R) -> Self {
        CrlfCounter {
            inner,
            last_cr: false,
            crlf: 0,
            head: Vec::with_capacity(3),
        }
    }
}

impl<R: Read> Read for CrlfCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let want = (3 - self.head.len()).min(n);
        self.head.extend_from_slice(&buf[..want]);
        for &b in &buf[..n] {
            if b == b'\n' && self.last_cr {
                self.crlf += 1;
            }
            self.last_cr = b == b'\r';
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &[u8], policy: &ReadPolicy) -> (Result<DataFrame>, Rejects) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e.csv");
        std::fs::write(&p, text).unwrap();
        let mut rejects = Rejects::default();
        let df = read_csv_checked(
            &p,
            &["user_id", "timestamp", "event"],
            &["user_id", "timestamp", "event"],
            policy,
            &mut rejects,
        );
        (df, rejects)
    }

    fn classes(r: &Rejects) -> Vec<(u64, &'static str)> {
        r.rows.iter().map(|x| (x.line, x.class.name())).collect()
    }

    #[test]
    fn sets_aside_structurally_bad_rows_with_their_lines() {
        let policy = ReadPolicy {
            max_field_bytes: 20,
            ..ReadPolicy::new(0)
        };
        let text = b"user_id,timestamp,event\n\
            a,2026-01-01,login\n\
            b,2026-01-01,login,extra\n\
            c,2026-01-01,\"multi\nline\"\n\
            d,2026-01-01,xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n\
            e,2026-01-01,caf\xE9\n\
            f,2026-01-01,logout\n";
        let (df, r) = read(text, &policy);
        let df = df.unwrap();
        assert_eq!(df.height(), 3);
        assert_eq!(
            classes(&r),
            [
                (3, "malformed_row"),
                (6, "oversized_field"),
                (7, "invalid_utf8")
            ]
        );
        let lines: Vec<_> = df.column(LINE).unwrap().i64().unwrap().iter().collect();
        assert_eq!(lines, [Some(2), Some(4), Some(8)]);
        assert_eq!(r.files[&r.rows[0].file].rows_read, 6);
        assert!(r.rows[2].raw.contains("caf\u{FFFD}"));
    }

    #[test]
    fn reads_bom_and_crlf_and_reports_them() {
        let (df, r) = read(
            b"\xEF\xBB\xBFuser_id,timestamp,event\r\na,2026-01-01,login\r\nb,2026-01-02,login\r\n",
            &ReadPolicy::new(0),
        );
        let df = df.unwrap();
        assert_eq!(df.height(), 2);
        assert_eq!(
            df.column("event").unwrap().str().unwrap().get(1),
            Some("login")
        );
        let t = r.files.values().next().unwrap();
        assert_eq!(t.findings[&Finding::ByteOrderMark], 1);
        assert_eq!(t.findings[&Finding::CrlfLineEnds], 3);
        assert_eq!(t.total(), 0);
    }

    #[test]
    fn names_the_delimiter_a_one_column_header_uses() {
        let (df, _) = read(
            b"user_id;timestamp;event\na;2026-01-01;login\n",
            &ReadPolicy::new(0),
        );
        let err = df.unwrap_err();
        assert!(
            matches!(err, Error::WrongDelimiter { ref found, .. } if found == "semicolon"),
            "{err}"
        );
        let (df, _) = read(b"user_id,ts,event\na,1,login\n", &ReadPolicy::new(0));
        assert!(matches!(df.unwrap_err(), Error::MissingColumn { .. }));
        let semicolon = ReadPolicy {
            delimiter: Some(b';'),
            ..ReadPolicy::new(0)
        };
        let (df, _) = read(b"user_id;timestamp;event\na;2026-01-01;login\n", &semicolon);
        assert_eq!(df.unwrap().height(), 1);
        let auto = ReadPolicy {
            delimiter: None,
            ..ReadPolicy::new(0)
        };
        for text in [
            &b"user_id;timestamp;event\na;2026-01-01;login\n"[..],
            b"user_id\ttimestamp\tevent\na\t2026-01-01\tlogin\n",
            b"\xEF\xBB\xBFuser_id,timestamp,event\r\na,2026-01-01,login\r\n",
        ] {
            let (df, _) = read(text, &auto);
            assert_eq!(df.unwrap().height(), 1);
        }
    }

    #[test]
    fn header_only_and_empty_files_are_empty_input() {
        for text in [&b""[..], b"user_id,timestamp,event\n"] {
            let (df, _) = read(text, &ReadPolicy::new(0));
            assert!(matches!(df.unwrap_err(), Error::EmptyInput { .. }));
        }
    }
}
