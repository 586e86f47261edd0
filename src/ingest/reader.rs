//! The checked CSV reader: plain or gzipped CSV → a frame of text columns with each row's
//! source line, every structurally bad row set aside as a reject instead of stopping the
//! read.
//!
//! Handled here, because only the bytes show them: a byte-order mark (removed, reported),
//! CRLF line ends (read, reported), a header that another delimiter would split (an
//! error naming the delimiter), rows with the wrong number of fields or an unclosed
//! quote, fields over the size limit, and fields that are not UTF-8. Values are
//! interpreted (timestamps, numbers) by the caller, which knows each column's role.
//!
//! The file is read in blocks of whole lines ([`Blocks`]); each block is cut into parts at
//! line ends and the parts are parsed side by side, each from the start of a record. A
//! part whose end falls inside a quoted field (a line break within quotes) shows it: its
//! parser ends in the middle of a record. From there the rest of the block is parsed in
//! one piece by that part's parser, which holds the true state, so the rows are exactly
//! those of one parse from the top; the next block is cut into parts again.

use std::path::Path;

use csv_core::ReadRecordResult;
use polars::prelude::*;
use rayon::prelude::*;

use super::blocks::{join_parts, plan_parts, Blocks, PartRows, BLOCK_BYTES};
use super::columns::column_position;
use super::rejects::{Finding, ReadPolicy, RejectClass, Rejects};
use crate::error::{Error, Result};

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// What a field ending in a backslash means: a delimiter escaped as `\,`, which CSV
/// readers (this one too) take as a field's end.
const ESCAPED: &str =
    " (a field ends in `\\`: a delimiter escaped with a backslash, as Snowflake's \
     default ESCAPE_UNENCLOSED_FIELD writes it, which is not read; unload with \
     FIELD_OPTIONALLY_ENCLOSED_BY = '\"' to quote fields instead)";

/// Reads `wanted` columns (those present) of a CSV or CSV.gz file as text, plus [`LINE`](super::LINE).
/// `required` columns must be in the header. Empty cells and `\N` become nulls.
pub fn read_csv_checked(
    path: &Path,
    wanted: &[&str],
    required: &[&str],
    policy: &ReadPolicy,
    rejects: &mut Rejects,
) -> Result<DataFrame> {
    let cut = Cut {
        block_bytes: BLOCK_BYTES,
        parts: 2 * rayon::current_num_threads(),
    };
    read_csv_in_blocks(path, wanted, required, policy, rejects, cut)
}

/// How a file is cut: blocks of about `block_bytes`, each in up to `parts` parts.
#[derive(Debug, Clone, Copy)]
struct Cut {
    block_bytes: usize,
    parts: usize,
}

/// The start of a CSV file up to the end of its header record.
struct Head {
    /// The blocks read so far.
    text: Vec<u8>,
    /// Where the header starts in `text` (after a byte-order mark).
    start: usize,
    delimiter: u8,
    header: Vec<String>,
    /// The header's bytes, from `start`, and the line ends in them.
    after_header: usize,
    lines_before: u64,
    /// CR LF line ends in `text`.
    crlf: u64,
}

/// Reads blocks until the header record ends: the delimiter is the policy's or sniffed
/// from the first line.
fn read_head(blocks: &mut Blocks, path: &Path, policy: &ReadPolicy) -> Result<Head> {
    let Some(mut text) = blocks.next_block()? else {
        return Err(Error::EmptyInput { path: path.into() });
    };
    let mut crlf = count_crlf(&text);
    let start = if text.starts_with(BOM) { BOM.len() } else { 0 };
    let delimiter = match policy.delimiter {
        Some(d) => d,
        None => sniff(&text[start..]),
    };
    // The header: the first record, read on its own (a quoted header may span blocks).
    loop {
        if let Some((header, after_header, lines_before)) = read_header(&text[start..], delimiter) {
            return Ok(Head {
                text,
                start,
                delimiter,
                header,
                after_header,
                lines_before,
                crlf,
            });
        }
        match blocks.next_block()? {
            Some(more) => {
                crlf += count_crlf(&more);
                text.extend_from_slice(&more);
            }
            None => return Err(Error::EmptyInput { path: path.into() }),
        }
    }
}

/// The header of a CSV or CSV.gz file (its trimmed column names), read alone.
pub fn csv_header(path: &Path, policy: &ReadPolicy) -> Result<Vec<String>> {
    let mut blocks = Blocks::open(path, BLOCK_BYTES)?;
    Ok(read_head(&mut blocks, path, policy)?.header)
}

/// [`read_csv_checked`] cut as `cut` says (tests cut small files many ways).
fn read_csv_in_blocks(
    path: &Path,
    wanted: &[&str],
    required: &[&str],
    policy: &ReadPolicy,
    rejects: &mut Rejects,
    cut: Cut,
) -> Result<DataFrame> {
    let mut blocks = Blocks::open(path, cut.block_bytes)?;
    let Head {
        mut text,
        start,
        delimiter,
        header,
        after_header,
        lines_before,
        mut crlf,
    } = read_head(&mut blocks, path, policy)?;
    if start > 0 {
        rejects.finding(path, Finding::ByteOrderMark, 1);
    }
    // Snowplow's enriched events have no header: their 131 fields in the documented order.
    let headerless = delimiter == b'\t' && is_snowplow_enriched(&header);
    let (header, after_header, lines_before) = if let Some(names) = &policy.header {
        // A file without a header row: its first line is a row like any other.
        if names.len() != header.len() {
            return Err(Error::InvalidArgument {
                name: "header (`[inputs] header`, `--header`)".into(),
                message: format!(
                    "it names {} columns, but the first line of {} has {} fields: {}{}",
                    names.len(),
                    path.display(),
                    header.len(),
                    super::rejects::shorten(
                        &header.join(char::from(delimiter).to_string().as_str()),
                        300
                    ),
                    if header.iter().any(|h| h.ends_with('\\')) {
                        ESCAPED
                    } else {
                        ""
                    }
                ),
            });
        }
        check_header(path, names, required, delimiter)?;
        (names.clone(), 0, 0)
    } else if headerless {
        (SNOWPLOW_ENRICHED.map(String::from).to_vec(), 0, 0)
    } else {
        check_header(path, &header, required, delimiter)?;
        (header, after_header, lines_before)
    };
    let layout = Layout {
        path,
        picks: wanted
            .iter()
            .filter_map(|w| column_position(&header, w).map(|i| (i, *w)))
            .collect(),
        header,
        delimiter,
        // Snowplow writes JSON fields unquoted: a quote is text there.
        quoting: !headerless,
        max_field_bytes: policy.max_field_bytes,
    };

    let mut line = 1 + lines_before;
    let mut parts: Vec<Part> = Vec::new();
    let mut sequential: Option<Parser> = None;
    let mut block = text.split_off(start + after_header);
    drop(text);
    loop {
        line = parse_block(
            &layout,
            &block,
            cut.parts,
            line,
            &mut sequential,
            &mut parts,
        );
        let next = blocks.next_block()?;
        blocks.recycle(std::mem::take(&mut block));
        match next {
            Some(next) => {
                crlf += count_crlf(&next);
                block = next;
            }
            None => break,
        }
    }
    if let Some(mut parser) = sequential {
        parser.finish(&layout);
        parts.push(parser.out);
    }

    let rows_read: u64 = parts.iter().map(|p| p.rows_read).sum();
    if rows_read == 0 {
        return Err(Error::EmptyInput { path: path.into() });
    }
    if parts.iter().any(|p| p.cut_short) {
        rejects.finding(path, Finding::CutShort, 1);
    }
    let rows = parts.into_iter().map(|p| p.rows).collect();
    let df = join_parts(rows, layout.picks.len(), |_| true, rejects)?;
    rejects.rows_read(path, rows_read);
    if crlf > 0 {
        rejects.finding(path, Finding::CrlfLineEnds, crlf);
    }
    Ok(df)
}

/// Parses one block whose first line is source line `line`; returns the line after it.
///
/// Without a record left open by the block before (`sequential` is `None`), the block's
/// parts are parsed side by side. The first part that ends inside a record, and every
/// part after it, is parsed again in one piece by that part's parser, which stays in
/// `sequential` until a block ends between records.
fn parse_block(
    layout: &Layout<'_>,
    block: &[u8],
    cuts: usize,
    line: u64,
    sequential: &mut Option<Parser>,
    parts: &mut Vec<Part>,
) -> u64 {
    let plans = plan_parts(block, cuts, line);
    let newlines: u64 = plans.iter().map(|p| p.newlines).sum();
    if let Some(parser) = sequential {
        parser.feed(layout, block);
    } else {
        let parsed: Vec<(Parser, usize)> = plans
            .into_par_iter()
            .map(|plan| {
                let mut parser = Parser::new(layout, plan.first_line, plan.newlines as usize);
                parser.feed(layout, &block[plan.range.clone()]);
                (parser, plan.range.end)
            })
            .collect();
        for (mut parser, end) in parsed {
            if parser.in_record {
                parser.feed(layout, &block[end..]);
                *sequential = Some(parser);
                break;
            }
            parts.push(parser.out);
        }
    }
    if sequential.as_ref().is_some_and(|p| !p.in_record) {
        if let Some(parser) = sequential.take() {
            parts.push(parser.out);
        }
    }
    line + newlines
}

fn count_crlf(text: &[u8]) -> u64 {
    memchr::memmem::find_iter(text, b"\r\n").count() as u64
}

/// Whether a tab-separated file's first record is a Snowplow enriched event rather than
/// a header: as many fields as the format has, and a UUID where the format has `event_id`
/// (a header has a name there). Its other fields are no test: a structured event's
/// `event_name` is the word `event`, a column name.
fn is_snowplow_enriched(first: &[String]) -> bool {
    first.len() == SNOWPLOW_ENRICHED.len() && is_uuid(&first[SNOWPLOW_EVENT_ID])
}

/// Where `event_id` is among [`SNOWPLOW_ENRICHED`].
const SNOWPLOW_EVENT_ID: usize = 6;

/// `8-4-4-4-12` hexadecimal digits.
fn is_uuid(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// The fields of Snowplow's enriched event TSV, in order (Snowplow's documentation,
/// "Enriched stream TSV file format"): the files carry no header.
pub const SNOWPLOW_ENRICHED: [&str; 131] = [
    "app_id",
    "platform",
    "etl_tstamp",
    "collector_tstamp",
    "dvce_created_tstamp",
    "event",
    "event_id",
    "txn_id",
    "name_tracker",
    "v_tracker",
    "v_collector",
    "v_etl",
    "user_id",
    "user_ipaddress",
    "user_fingerprint",
    "domain_userid",
    "domain_sessionidx",
    "network_userid",
    "geo_country",
    "geo_region",
    "geo_city",
    "geo_zipcode",
    "geo_latitude",
    "geo_longitude",
    "geo_region_name",
    "ip_isp",
    "ip_organization",
    "ip_domain",
    "ip_netspeed",
    "page_url",
    "page_title",
    "page_referrer",
    "page_urlscheme",
    "page_urlhost",
    "page_urlport",
    "page_urlpath",
    "page_urlquery",
    "page_urlfragment",
    "refr_urlscheme",
    "refr_urlhost",
    "refr_urlport",
    "refr_urlpath",
    "refr_urlquery",
    "refr_urlfragment",
    "refr_medium",
    "refr_source",
    "refr_term",
    "mkt_medium",
    "mkt_source",
    "mkt_term",
    "mkt_content",
    "mkt_campaign",
    "contexts",
    "se_category",
    "se_action",
    "se_label",
    "se_property",
    "se_value",
    "unstruct_event",
    "tr_orderid",
    "tr_affiliation",
    "tr_total",
    "tr_tax",
    "tr_shipping",
    "tr_city",
    "tr_state",
    "tr_country",
    "ti_orderid",
    "ti_sku",
    "ti_name",
    "ti_category",
    "ti_price",
    "ti_quantity",
    "pp_xoffset_min",
    "pp_xoffset_max",
    "pp_yoffset_min",
    "pp_yoffset_max",
    "useragent",
    "br_name",
    "br_family",
    "br_version",
    "br_type",
    "br_renderengine",
    "br_lang",
    "br_features_pdf",
    "br_features_flash",
    "br_features_java",
    "br_features_director",
    "br_features_quicktime",
    "br_features_realplayer",
    "br_features_windowsmedia",
    "br_features_gears",
    "br_features_silverlight",
    "br_cookies",
    "br_colordepth",
    "br_viewwidth",
    "br_viewheight",
    "os_name",
    "os_family",
    "os_manufacturer",
    "os_timezone",
    "dvce_type",
    "dvce_ismobile",
    "dvce_screenwidth",
    "dvce_screenheight",
    "doc_charset",
    "doc_width",
    "doc_height",
    "tr_currency",
    "tr_total_base",
    "tr_tax_base",
    "tr_shipping_base",
    "ti_currency",
    "ti_price_base",
    "base_currency",
    "geo_timezone",
    "mkt_clickid",
    "mkt_network",
    "etl_tags",
    "dvce_sent_tstamp",
    "refr_domain_userid",
    "refr_device_tstamp",
    "derived_contexts",
    "domain_sessionid",
    "derived_tstamp",
    "event_vendor",
    "event_name",
    "event_format",
    "event_version",
    "event_fingerprint",
    "true_tstamp",
];

/// The header record at the start of `text`: its trimmed fields, the bytes it took and
/// the line ends in them. `None` when the record does not end within `text`.
fn read_header(text: &[u8], delimiter: u8) -> Option<(Vec<String>, usize, u64)> {
    let mut core = csv_core::ReaderBuilder::new().delimiter(delimiter).build();
    let mut fields = vec![0u8; 4096];
    let mut ends = vec![0usize; 1024];
    let (mut pos, mut outlen, mut endlen) = (0, 0, 0);
    loop {
        let input = &text[pos..];
        let (res, nin, nout, nend) =
            core.read_record(input, &mut fields[outlen..], &mut ends[endlen..]);
        pos += nin;
        outlen += nout;
        endlen += nend;
        match res {
            ReadRecordResult::Record => break,
            ReadRecordResult::OutputEndsFull => ends.resize(ends.len() * 2, 0),
            ReadRecordResult::OutputFull => fields.resize(fields.len() * 2, 0),
            // Input ran out inside the record (or the text holds none).
            ReadRecordResult::InputEmpty | ReadRecordResult::End => return None,
        }
    }
    // The rest of the header's line end (the `\n` of a CR LF).
    if text.get(pos) == Some(&b'\n') && pos > 0 && text[pos - 1] == b'\r' {
        pos += 1;
    }
    let mut header = Vec::with_capacity(endlen);
    let mut from = 0;
    for &end in &ends[..endlen] {
        header.push(
            String::from_utf8_lossy(&fields[from..end])
                .trim()
                .to_string(),
        );
        from = end;
    }
    let lines = memchr::memchr_iter(b'\n', &text[..pos]).count() as u64;
    Some((header, pos, lines))
}

/// What the parsers of one file share.
struct Layout<'a> {
    path: &'a Path,
    header: Vec<String>,
    /// The output columns: header position and name.
    picks: Vec<(usize, &'a str)>,
    delimiter: u8,
    /// Whether `"` quotes fields (off for Snowplow's TSV).
    quoting: bool,
    max_field_bytes: usize,
}

/// The rows of one part of a file, in order.
struct Part {
    rows: PartRows,
    /// Data rows read (a rejected record counts every line it swallowed).
    rows_read: u64,
    /// The file's last row ends without a line end and is malformed: an upload cut short.
    cut_short: bool,
}

/// A CSV parser that can be fed a part of a file, or the rest of it piece by piece.
struct Parser {
    core: csv_core::Reader,
    fields: Vec<u8>,
    ends: Vec<usize>,
    outlen: usize,
    endlen: usize,
    /// Inside a record (bytes of it read, its end not yet).
    in_record: bool,
    /// The line of the next byte to read.
    line: u64,
    /// The line the record being read starts on.
    record_line: u64,
    /// At the end of the file: the record being read has no line end.
    at_end: bool,
    out: Part,
}

impl Parser {
    /// A parser at the start of a record on source line `line`, with room for `rows`.
    fn new(layout: &Layout<'_>, line: u64, rows: usize) -> Self {
        Parser {
            core: csv_core::ReaderBuilder::new()
                .delimiter(layout.delimiter)
                .quoting(layout.quoting)
                .build(),
            fields: vec![0; 4096],
            ends: vec![0; layout.header.len().max(8) * 2],
            outlen: 0,
            endlen: 0,
            in_record: false,
            line,
            record_line: line,
            at_end: false,
            out: Part {
                rows: PartRows::new(layout.picks.iter().map(|(_, name)| *name), rows),
                rows_read: 0,
                cut_short: false,
            },
        }
    }

    /// Reads `input`, the bytes after those fed before.
    fn feed(&mut self, layout: &Layout<'_>, input: &[u8]) {
        let mut pos = 0;
        while pos < input.len() {
            if !self.in_record {
                // Line ends between records are skipped here rather than by the core, so
                // a record's line is where its first byte is (after a CR LF, after blank
                // lines); the core would skip them alike.
                while pos < input.len() && matches!(input[pos], b'\n' | b'\r') {
                    self.line += u64::from(input[pos] == b'\n');
                    pos += 1;
                }
                if pos == input.len() {
                    break;
                }
                self.in_record = true;
                self.record_line = self.line;
            }
            let (res, nin, nout, nend) = self.core.read_record(
                &input[pos..],
                &mut self.fields[self.outlen..],
                &mut self.ends[self.endlen..],
            );
            pos += nin;
            self.outlen += nout;
            self.endlen += nend;
            // A record read to its end took its line end with it when that is `\n` (a CR
            // LF's `\n` is skipped above, before the next record).
            let lf_end = nin > 0 && input[pos - 1] == b'\n';
            self.step(layout, res, lf_end);
        }
    }

    /// Ends the file: a record left open (an unclosed quote) is read as it stands.
    fn finish(&mut self, layout: &Layout<'_>) {
        self.at_end = true;
        while self.in_record {
            let (res, _, nout, nend) = self.core.read_record(
                &[],
                &mut self.fields[self.outlen..],
                &mut self.ends[self.endlen..],
            );
            self.outlen += nout;
            self.endlen += nend;
            if matches!(res, ReadRecordResult::End | ReadRecordResult::InputEmpty) {
                self.in_record = false;
            }
            self.step(layout, res, false);
        }
    }

    fn step(&mut self, layout: &Layout<'_>, res: ReadRecordResult, lf_end: bool) {
        match res {
            ReadRecordResult::OutputFull => {
                let n = self.fields.len() * 2;
                self.fields.resize(n, 0);
            }
            ReadRecordResult::OutputEndsFull => {
                let n = self.ends.len() * 2;
                self.ends.resize(n, 0);
            }
            ReadRecordResult::Record => {
                let inner = self.record(layout);
                self.line += inner + u64::from(lf_end);
                self.outlen = 0;
                self.endlen = 0;
                self.in_record = false;
            }
            ReadRecordResult::InputEmpty | ReadRecordResult::End => {}
        }
    }

    /// Checks the record just read and keeps it, or sets it aside. Returns the line ends
    /// inside it (within quotes).
    fn record(&mut self, layout: &Layout<'_>) -> u64 {
        let ends = &self.ends[..self.endlen];
        let fields = &self.fields[..self.outlen];
        let field = |i: usize| &fields[if i == 0 { 0 } else { ends[i - 1] }..ends[i]];
        let out = &mut self.out;
        out.rows_read += 1;
        let n_fields = ends.len();
        let width = layout.header.len();
        // Lines this record spans: more than one only inside quotes.
        let inner = memchr::memchr_iter(b'\n', fields).count() as u64;
        let spanned = 1 + inner;
        let problem = if n_fields != width {
            out.rows_read += spanned - 1;
            Some((
                RejectClass::MalformedRow,
                if spanned > 1 {
                    format!(
                        "{n_fields} fields, the header has {width}; a quote left open swallowed {spanned} lines",
                    )
                } else if self.at_end && n_fields < width {
                    out.cut_short = true;
                    format!(
                        "{n_fields} fields, the header has {width}: the file ends in this row, without a line end (cut short?)"
                    )
                } else if (0..n_fields).any(|i| field(i).ends_with(b"\\")) {
                    format!("{n_fields} fields, the header has {width}{ESCAPED}")
                } else {
                    format!(
                        "{n_fields} fields, the header has {width} (a stray delimiter or quote?)"
                    )
                },
            ))
        } else if let Some(i) = (0..n_fields).find(|&i| field(i).len() > layout.max_field_bytes) {
            Some((
                RejectClass::OversizedField,
                format!(
                    "field `{}` is {} bytes, the limit is {}",
                    layout.header[i],
                    field(i).len(),
                    layout.max_field_bytes
                ),
            ))
        } else {
            (0..n_fields)
                .find(|&i| std::str::from_utf8(field(i)).is_err())
                .map(|i| {
                    (
                        RejectClass::InvalidUtf8,
                        format!("field `{}` is not valid UTF-8", layout.header[i]),
                    )
                })
        };
        if let Some((class, detail)) = problem {
            let delim = char::from(layout.delimiter).to_string();
            let raw = (0..n_fields)
                .map(|i| String::from_utf8_lossy(field(i)))
                .collect::<Vec<_>>()
                .join(&delim);
            let lost = if class == RejectClass::MalformedRow {
                spanned
            } else {
                1
            };
            out.rows
                .rejects
                .add_lines(layout.path, self.record_line, class, detail, &raw, lost);
            return inner;
        }
        for ((i, _), b) in layout.picks.iter().zip(out.rows.columns.iter_mut()) {
            // Checked above: every field is UTF-8.
            let text = std::str::from_utf8(field(*i)).unwrap_or_default().trim();
            // `\N` is NULL as Snowflake's and Redshift's unloads (and Postgres' and MySQL's
            // text copies) write it.
            if text.is_empty() || text == "\\N" {
                b.append_null();
            } else {
                b.append_value(text);
            }
        }
        out.rows.lines.push(self.record_line as i64);
        inner
    }
}

/// Fails on a missing required column; when the header is one column that another common
/// separator would split into the required ones, says so.
fn check_header(path: &Path, header: &[String], required: &[&str], delimiter: u8) -> Result<()> {
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|r| column_position(header, r).is_none())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if let [one] = header {
        if let Some(e) = split_by_another(path, one, delimiter, |parts| {
            required.iter().all(|r| parts.iter().any(|p| p == r))
        }) {
            return Err(e);
        }
    }
    // A header can be megabytes (a file without line ends): quoted in part, but far
    // enough for an export's last columns, which a mapping may need.
    let mut found = super::rejects::shorten(&header.join(", "), 4000);
    if looks_like_a_row(header) {
        found.push_str(
            "; this first line looks like a row, not a header: name the columns of a file \
             without a header row with `--header NAME,NAME,…` or `[inputs] header`",
        );
    }
    Err(Error::MissingColumn {
        path: path.into(),
        // Every one at once: an export's columns are mapped in one go.
        column: missing.join("`, `"),
        found,
        preset_setting: None,
    })
}

/// Whether a first line reads as data rather than column names: a cell is a date or a
/// time, or half the cells are numbers, ids of hex digits and dashes (UUIDs), or empty.
fn looks_like_a_row(cells: &[String]) -> bool {
    let dated = |c: &str| c.contains(['-', ':']) && crate::base::time::parse_timestamp(c).is_some();
    let datum = |c: &str| {
        c.is_empty()
            || c.parse::<f64>().is_ok()
            || (c.len() >= 16 && c.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'))
    };
    cells.iter().any(|c| dated(c)) || 2 * cells.iter().filter(|c| datum(c)).count() >= cells.len()
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

/// The error for a one-column header `line` that another common separator than
/// `delimiter` splits into a header that `fits` (holds the columns the reader needs).
pub(super) fn split_by_another(
    path: &Path,
    line: &str,
    delimiter: u8,
    fits: impl Fn(&[String]) -> bool,
) -> Option<Error> {
    let sep = [b',', b';', b'\t', b'|'].into_iter().find(|&sep| {
        let parts: Vec<String> = line
            .split(char::from(sep))
            .map(|p| p.trim().into())
            .collect();
        sep != delimiter && fits(&parts)
    })?;
    Some(Error::WrongDelimiter {
        path: path.into(),
        header: super::rejects::shorten(line, 200),
        found: separator_name(sep),
        found_text: separator_text(sep),
        expected: separator_name(delimiter),
        setting: "`[validation] delimiter` in the config",
    })
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

#[cfg(test)]
mod tests {
    /// Snowplow's headerless TSV is told from a header by the event id's UUID; a
    /// structured event (`event_name` is `event`, a column name) is a row too.
    #[test]
    fn a_snowplow_row_is_told_from_a_header_by_its_event_id() {
        assert_eq!(SNOWPLOW_ENRICHED[SNOWPLOW_EVENT_ID], "event_id");
        let header: Vec<String> = SNOWPLOW_ENRICHED.map(String::from).to_vec();
        assert!(!is_snowplow_enriched(&header));
        let mut row = vec![String::new(); SNOWPLOW_ENRICHED.len()];
        row[5] = "struct".into();
        row[SNOWPLOW_EVENT_ID] = "0b6e8f3c-52a4-4c1e-9a0e-6f7d2b1c9e41".into();
        row[126] = "event".into();
        assert!(is_snowplow_enriched(&row));
        row[SNOWPLOW_EVENT_ID] = "0b6e8f3c-52a4-4c1e-9a0e-6f7d2b1c9e4".into();
        assert!(!is_snowplow_enriched(&row));
        assert!(!is_snowplow_enriched(&row[1..]));
    }

    use super::*;
    use crate::ingest::LINE;

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
    fn a_file_cut_mid_row_says_so() {
        let head = "user_id,timestamp,event\na,2026-01-01T10:00:00Z,login\n";
        let (df, r) = read(
            format!("{head}b,2026-01-01T1").as_bytes(),
            &ReadPolicy::new(0),
        );
        assert_eq!(df.unwrap().height(), 1);
        assert_eq!(classes(&r), [(3, "malformed_row")]);
        assert!(r.rows[0]
            .detail
            .contains("the file ends in this row, without a line end (cut short?)"));
        let t = r.files.values().next().unwrap();
        assert_eq!(t.findings[&Finding::CutShort], 1);
        assert!(
            r.describe()[0].1.contains("the file may be cut short"),
            "{:?}",
            r.describe()
        );
        // A whole last row without a line end is an ordinary end of file.
        let (df, r) = read(
            format!("{head}b,2026-01-01T11:00:00Z,login").as_bytes(),
            &ReadPolicy::new(0),
        );
        assert_eq!((df.unwrap().height(), r.total()), (2, 0));
        assert!(r.files.values().all(|t| t.findings.is_empty()));
    }

    #[test]
    fn names_every_missing_column_and_the_whole_header() {
        // A shop's order export: none of the canonical names, its useful columns last.
        let mut header: Vec<String> = (1..=60).map(|i| format!("Column number {i}")).collect();
        header.extend(["Created at", "Email", "Financial Status"].map(String::from));
        let text = format!("{}\n{}\n", header.join(","), vec!["x"; 63].join(","));
        let (df, _) = read(text.as_bytes(), &ReadPolicy::new(0));
        let err = df.unwrap_err().to_string();
        assert!(
            err.contains("missing required columns `user_id`, `timestamp`, `event` (found: Column number 1, "),
            "{err}"
        );
        assert!(
            err.contains(", Created at, Email, Financial Status)"),
            "{err}"
        );
    }

    #[test]
    fn a_first_line_of_data_is_said_to_be_no_header() {
        let row = |s: &str| s.split(',').map(String::from).collect::<Vec<_>>();
        assert!(looks_like_a_row(&row(
            "0cdf27dc-8d4e-4f5e-9a51-1b2c3d4e5f60,a-1,u-1,page,2026-07-01 10:00:00.853 +0000"
        )));
        assert!(looks_like_a_row(&row("17,3,page,1788000000")));
        assert!(!looks_like_a_row(&row(
            "ID,ANONYMOUS_ID,USER_ID,EVENT,TIMESTAMP"
        )));
        assert!(!looks_like_a_row(&row("user,when,what")));
        let (result, _) = read(
            b"u-1,page,2026-07-01T10:00:00Z\nu-2,page,2026-07-01T11:00:00Z\n",
            &ReadPolicy::new(0),
        );
        let err = result.unwrap_err().to_string();
        assert!(err.contains("looks like a row, not a header"), "{err}");
        // Named with --header, the same file reads both lines.
        let policy = ReadPolicy {
            header: Some(row("user_id,event,timestamp")),
            ..ReadPolicy::new(0)
        };
        let (result, _) = read(
            b"u-1,page,2026-07-01T10:00:00Z\nu-2,page,2026-07-01T11:00:00Z\n",
            &policy,
        );
        assert_eq!(result.unwrap().height(), 2);
        let policy = ReadPolicy {
            header: Some(row("user_id,event")),
            ..ReadPolicy::new(0)
        };
        let (result, _) = read(b"u-1,page,2026-07-01T10:00:00Z\n", &policy);
        let err = result.unwrap_err().to_string();
        assert!(
            err.contains("it names 2 columns, but the first line of"),
            "{err}"
        );
        // Snowflake's default unload escapes a comma in a field as `\,`: said, not read.
        let (_, rejects) = read(
            b"user_id,event,timestamp\nu-1,a\\, b,2026-07-01T10:00:00Z\nu-2,c,2026-07-01T11:00:00Z\n",
            &ReadPolicy::new(0),
        );
        assert_eq!(classes(&rejects), [(2, "malformed_row")]);
        assert!(rejects.rows[0].detail.contains("escaped with a backslash"));
    }

    #[test]
    fn names_the_delimiter_a_one_column_header_uses() {
        let (df, _) = read(
            b"user_id;timestamp;event\na;2026-01-01;login\n",
            &ReadPolicy::new(0),
        );
        let err = df.unwrap_err();
        assert!(
            matches!(err, Error::WrongDelimiter { found, .. } if found == "semicolon"),
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

    /// Reads `text` cut as `cut`: the frame's columns as rows of texts, and the rejects.
    fn read_cut(p: &Path, cut: Cut) -> (Vec<Vec<Option<String>>>, Rejects) {
        let mut rejects = Rejects::default();
        let policy = ReadPolicy {
            max_field_bytes: 40,
            ..ReadPolicy::new(0)
        };
        let wanted = ["user_id", "timestamp", "event"];
        let df = read_csv_in_blocks(p, &wanted, &wanted, &policy, &mut rejects, cut).unwrap();
        let mut rows = Vec::new();
        for i in 0..df.height() {
            let mut row: Vec<Option<String>> = wanted
                .iter()
                .map(|w| {
                    df.column(w)
                        .unwrap()
                        .str()
                        .unwrap()
                        .get(i)
                        .map(String::from)
                })
                .collect();
            let line = df.column(LINE).unwrap().i64().unwrap().get(i);
            row.push(line.map(|l| l.to_string()));
            rows.push(row);
        }
        (rows, rejects)
    }

    /// `text` written to a file of a new temporary folder (removed when dropped).
    fn written(text: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e.csv");
        std::fs::write(&p, text).unwrap();
        (dir, p)
    }

    const ONE_PIECE: Cut = Cut {
        block_bytes: usize::MAX >> 1,
        parts: 1,
    };

    /// A log with every shape the reader must get right: quoted fields holding line ends,
    /// CR LF and blank lines, rows with too many fields, oversized and non-UTF-8 fields,
    /// and an unclosed quote near the end.
    fn awkward_log() -> Vec<u8> {
        let mut t = b"user_id,timestamp,event\r\n".to_vec();
        for i in 0..120 {
            let row = match i % 11 {
                0 => format!("u{i},2026-01-01,\"multi\nline {i}\"\n"),
                1 => format!("u{i},2026-01-01,login,extra\n"),
                2 => format!("u{i},2026-01-01,\"a,b\"\"c\"\r\n"),
                3 => format!("u{i},2026-01-01,{}\n", "x".repeat(50)),
                4 => "\n\n".to_string(),
                5 => format!("\"u{i}\r\nquoted\",2026-01-02, login \n"),
                6 => format!("u{i},,\n"),
                _ => format!("u{i},2026-01-0{},view\n", i % 9 + 1),
            };
            t.extend_from_slice(row.as_bytes());
            if i == 57 {
                t.extend_from_slice(b"u57b,2026-01-01,caf\xE9\n");
            }
        }
        t.extend_from_slice(b"u-open,\"never closed\nlast,2026,x\n");
        t
    }

    #[test]
    fn every_cut_reads_as_one_parse() {
        let (_dir, p) = written(&awkward_log());
        let (want, want_rejects) = read_cut(&p, ONE_PIECE);
        assert!(want.len() > 60, "{}", want.len());
        assert!(want_rejects.total() > 20);
        for block_bytes in [1, 2, 3, 5, 8, 13, 40, 64, 100, 333, 1000] {
            for parts in [1, 2, 3, 4, 7] {
                let cut = Cut { block_bytes, parts };
                let (rows, rejects) = read_cut(&p, cut);
                assert_eq!(rows, want, "{cut:?}");
                assert_eq!(rejects, want_rejects, "{cut:?}");
            }
        }
    }

    #[test]
    fn one_parse_matches_the_csv_crate() {
        let text = awkward_log();
        let (_dir, p) = written(&text);
        let (rows, rejects) = read_cut(&p, ONE_PIECE);
        // The csv crate on the same bytes: records of three fields (the header's width).
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(&text[..]);
        let mut expected = Vec::new();
        for rec in rdr.byte_records() {
            let rec = rec.unwrap();
            let ok = rec.len() == 3
                && rec
                    .iter()
                    .all(|f| f.len() <= 40 && std::str::from_utf8(f).is_ok());
            if ok {
                expected.push(
                    rec.iter()
                        .map(|f| std::str::from_utf8(f).unwrap().trim())
                        .map(|f| (!f.is_empty()).then(|| f.to_string()))
                        .collect::<Vec<_>>(),
                );
            }
        }
        let fields: Vec<Vec<Option<String>>> = rows.iter().map(|r| r[..3].to_vec()).collect();
        assert_eq!(fields, expected);
        // Source lines: where each kept row starts (line 2 is the first data line).
        assert_eq!(rows[0][3].as_deref(), Some("2"));
        assert_eq!(rows[0][2].as_deref(), Some("multi\nline 0"));
        assert_eq!(rows[1][3].as_deref(), Some("5"), "{:?}", rows[1]);
        // The unclosed quote swallows the last two lines into one malformed record.
        let last = rejects.rows.last().unwrap();
        assert_eq!(last.class, RejectClass::MalformedRow);
        assert!(last.raw.starts_with("u-open"), "{}", last.raw);
    }

    #[test]
    fn a_quoted_line_break_at_every_part_edge() {
        let mut text = b"user_id,timestamp,event\n".to_vec();
        for i in 0..40 {
            text.extend_from_slice(format!("u{i},2026-01-01,\"x\ny\"\n").as_bytes());
        }
        let (_dir, p) = written(&text);
        // Every block size from 1 to a few rows cuts some row inside its quotes.
        for block_bytes in 1..=60 {
            let (rows, rejects) = read_cut(
                &p,
                Cut {
                    block_bytes,
                    parts: 3,
                },
            );
            assert_eq!(rows.len(), 40, "{block_bytes}");
            assert_eq!(rejects.total(), 0);
            for (i, row) in rows.iter().enumerate() {
                assert_eq!(row[2].as_deref(), Some("x\ny"));
                assert_eq!(row[3], Some((2 + 2 * i).to_string()));
            }
        }
    }

    #[test]
    fn a_malformed_row_in_every_part_keeps_its_line() {
        let mut text = b"user_id,timestamp,event\n".to_vec();
        let mut bad_lines = Vec::new();
        for i in 0..300u64 {
            if i % 10 == 3 {
                text.extend_from_slice(format!("u{i},2026-01-01,login,extra\n").as_bytes());
                bad_lines.push(i + 2);
            } else {
                text.extend_from_slice(format!("u{i},2026-01-01,login\n").as_bytes());
            }
        }
        let (_dir, p) = written(&text);
        for cut in [
            Cut {
                block_bytes: 64,
                parts: 4,
            },
            Cut {
                block_bytes: 500,
                parts: 8,
            },
        ] {
            let (rows, rejects) = read_cut(&p, cut);
            assert_eq!(rows.len(), 270);
            let lines: Vec<u64> = rejects.rows.iter().map(|r| r.line).collect();
            assert_eq!(lines, bad_lines, "{cut:?}");
            assert_eq!(rejects.files.values().next().unwrap().rows_read, 300);
        }
    }

    #[test]
    fn crlf_and_blank_lines_keep_each_row_on_its_own_line() {
        // Lines 1-6; the old reader put a CR LF row one line early (the line before its
        // first byte) and a row after a blank line on the blank line.
        let (df, r) = read(
            b"user_id,timestamp,event\r\na,2026-01-01,login\r\nb,2026-01-01,login,x\r\n\r\nc,2026-01-02,login\r\nd,2026-01-03,login,y\r\n",
            &ReadPolicy::new(0),
        );
        let lines: Vec<_> = df
            .unwrap()
            .column(LINE)
            .unwrap()
            .i64()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(lines, [Some(2), Some(5)]);
        assert_eq!(classes(&r), [(3, "malformed_row"), (6, "malformed_row")]);
    }

    #[test]
    fn a_long_header_is_read_whole() {
        let long = "x".repeat(10_000);
        let text = format!("user_id,timestamp,event,{long}\na,2026-01-01,login,1\n");
        let (df, r) = read(text.as_bytes(), &ReadPolicy::new(0));
        assert_eq!(df.unwrap().height(), 1);
        assert_eq!(r.total(), 0);
    }

    #[test]
    fn header_only_and_empty_files_are_empty_input() {
        for text in [&b""[..], b"user_id,timestamp,event\n"] {
            let (df, _) = read(text, &ReadPolicy::new(0));
            assert!(matches!(df.unwrap_err(), Error::EmptyInput { .. }));
        }
    }
}
