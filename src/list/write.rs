//! The list's files: CSV, JSON Lines and Parquet, of the rows a view keeps.
//!
//! Numbers use fixed formatting. In CSV, every text cell that a spreadsheet could read as
//! a formula (starting with `=`, `+`, `-`, `@`, tab, CR or LF) is prefixed with `'`;
//! numbers and key cells are never touched. Files are written to a temporary name and
//! renamed.

use std::path::Path;

use crate::base::csv_cells::{formula_like, neutralized};
use crate::base::files::write_atomic;
use crate::error::{Error, Result};
use crate::ingest::CRM_COLUMNS;
use crate::list::rank::{RankedRow, Tier, FIGURES};
use polars::prelude::{Column, DataFrame, DataType, ParquetWriter};
use rayon::prelude::*;

/// Which rows a written list holds: everything by default; narrowed by tier, plan,
/// account and a row limit. The ranking, tiers and statuses are computed on all users
/// before the view is taken.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListView {
    /// Only this tier or riskier.
    pub min_tier: Option<Tier>,
    /// Only users on these plans (empty: all).
    pub plans: Vec<String>,
    /// Only users of these accounts (empty: all).
    pub accounts: Vec<String>,
    /// At most this many rows (after the other filters).
    pub top: Option<usize>,
}

impl ListView {
    /// The rows in view, in rank order.
    pub fn select<'a>(&self, rows: &'a [RankedRow]) -> Vec<&'a RankedRow> {
        rows.iter()
            .filter(|r| self.min_tier.is_none_or(|t| r.tier.at_least(t)))
            .filter(|r| self.plans.is_empty() || self.plans.contains(&r.crm[3]))
            .filter(|r| self.accounts.is_empty() || self.accounts.contains(&r.crm[2]))
            .take(self.top.unwrap_or(usize::MAX))
            .collect()
    }

    /// Whether a user with these CRM columns passes the plan and account filters.
    pub fn segment_matches(&self, crm: &[String; 4]) -> bool {
        (self.plans.is_empty() || self.plans.contains(&crm[3]))
            && (self.accounts.is_empty() || self.accounts.contains(&crm[2]))
    }
}

/// The most reasons a list shows, one column each.
pub const REASON_COLUMNS: usize = crate::model::score::MAX_REASONS;

/// The list's CSV header.
pub fn csv_header(with_crm: bool) -> Vec<String> {
    let mut header: Vec<String> = vec!["rank".into(), "user_id".into()];
    if with_crm {
        header.extend(CRM_COLUMNS.iter().map(|c| c.to_string()));
    }
    header.extend(
        [
            "as_of",
            "churn_probability",
            "risk_tier",
            "status",
            "first_flagged",
            "days_on_list",
            "group",
        ]
        .map(String::from),
    );
    header.extend((1..=REASON_COLUMNS).map(|i| format!("reason_{i}")));
    header.extend(["recommended_play", "play_rule"].map(String::from));
    header.extend(FIGURES.iter().map(|f| f.0.name().to_string()));
    header
}

/// Writes the list as CSV (UTF-8, RFC 4180, CRLF, header, ISO dates). CRM columns are
/// included when `with_crm` is true. Text cells are neutralized, numbers are not.
pub fn write_csv(path: &Path, rows: &[&RankedRow], with_crm: bool, as_of: &str) -> Result<()> {
    let io = |e: csv::Error| Error::write(path, std::io::Error::other(e));
    let mut w = csv_writer(Vec::new());
    w.write_record(csv_header(with_crm)).map_err(io)?;
    let mut bytes = w
        .into_inner()
        .map_err(|e| Error::write(path, std::io::Error::other(e.to_string())))?;
    // Blocks of rows are formatted on the threads, then put together in order.
    let blocks = rows
        .par_chunks(CSV_BLOCK)
        .map(|block| csv_rows(block, with_crm, as_of))
        .collect::<std::result::Result<Vec<_>, csv::Error>>()
        .map_err(io)?;
    bytes.reserve(blocks.iter().map(Vec::len).sum());
    for block in blocks {
        bytes.extend_from_slice(&block);
    }
    write_atomic(path, &bytes)
}

/// Rows of the CSV list formatted per block (see [`write_csv`]).
const CSV_BLOCK: usize = 4096;

fn csv_writer(out: Vec<u8>) -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out)
}

/// The CSV lines of `rows` (no header).
fn csv_rows(
    rows: &[&RankedRow],
    with_crm: bool,
    as_of: &str,
) -> std::result::Result<Vec<u8>, csv::Error> {
    let mut w = csv_writer(Vec::with_capacity(rows.len() * 400));
    // Cells are written one by one (no record of owned strings per row); numbers are
    // formatted into one reused buffer.
    let mut number = String::new();
    for r in rows {
        use std::fmt::Write as _;
        number.clear();
        let _ = write!(number, "{}", r.rank);
        w.write_field(&number)?;
        // Keys as they are (see `neutralize`).
        w.write_field(&r.user_id)?;
        if with_crm {
            for (c, key) in r.crm.iter().zip(CRM_IS_KEY) {
                match key {
                    true => w.write_field(c)?,
                    false => w.write_field(neutralized(c).as_ref())?,
                }
            }
        }
        w.write_field(as_of)?;
        number.clear();
        let _ = write!(number, "{:.4}", r.probability);
        w.write_field(&number)?;
        w.write_field(r.tier.label())?;
        w.write_field(r.status.label())?;
        w.write_field(r.first_flagged.as_deref().unwrap_or_default())?;
        number.clear();
        if let Some(d) = r.days_on_list {
            let _ = write!(number, "{d}");
        }
        w.write_field(&number)?;
        w.write_field(r.group.label())?;
        for i in 0..REASON_COLUMNS {
            let reason = r.reasons.get(i).map(String::as_str).unwrap_or("");
            w.write_field(neutralized(reason).as_ref())?;
        }
        w.write_field(r.play.label())?;
        w.write_field(neutralized(&r.play_rule).as_ref())?;
        for f in &r.figures {
            w.write_field(f)?;
        }
        w.write_record(None::<&[u8]>)?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// One list row as JSON: typed numbers, reasons as an array.
#[derive(serde::Serialize)]
struct JsonRow<'a> {
    rank: usize,
    user_id: &'a str,
    email: Option<&'a str>,
    crm_id: Option<&'a str>,
    account: Option<&'a str>,
    plan: Option<&'a str>,
    as_of: &'a str,
    churn_probability: f64,
    risk_tier: &'static str,
    status: &'static str,
    first_flagged: Option<&'a str>,
    days_on_list: Option<i64>,
    group: &'static str,
    reasons: &'a [String],
    recommended_play: &'static str,
    play_rule: &'a str,
    /// None (null) for an empty figure.
    figures: std::collections::BTreeMap<&'static str, Option<f64>>,
}

fn json_row<'a>(r: &'a RankedRow, as_of: &'a str) -> JsonRow<'a> {
    let opt = |s: &'a String| Some(s.as_str()).filter(|s| !s.is_empty());
    JsonRow {
        rank: r.rank,
        user_id: &r.user_id,
        email: opt(&r.crm[0]),
        crm_id: opt(&r.crm[1]),
        account: opt(&r.crm[2]),
        plan: opt(&r.crm[3]),
        as_of,
        churn_probability: (r.probability * 1e4).round() / 1e4,
        risk_tier: r.tier.label(),
        status: r.status.label(),
        first_flagged: r.first_flagged.as_deref(),
        days_on_list: r.days_on_list,
        group: r.group.label(),
        reasons: &r.reasons,
        recommended_play: r.play.label(),
        play_rule: &r.play_rule,
        figures: FIGURES
            .iter()
            .zip(&r.figures)
            .map(|((f, _), v)| (f.name(), v.parse().ok()))
            .collect(),
    }
}

/// Writes the list in the format its extension names: `.jsonl`, `.parquet`, else CSV.
pub fn write_list(path: &Path, rows: &[&RankedRow], with_crm: bool, as_of: &str) -> Result<()> {
    match ListFormat::of(path) {
        Some(ListFormat::Jsonl) => write_jsonl(path, rows, as_of),
        Some(ListFormat::Parquet) => write_parquet(path, rows, as_of),
        Some(ListFormat::Csv) => write_csv(path, rows, with_crm, as_of),
        None => Err(Error::UnknownFormat { path: path.into() }),
    }
}

/// The formats a ranked list is written in, by the file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFormat {
    Csv,
    Jsonl,
    Parquet,
}

impl ListFormat {
    /// `.csv`, `.jsonl` or `.parquet` (any case); anything else is `None`, never a
    /// silent CSV under another name.
    pub fn of(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_string_lossy().to_lowercase();
        match ext.as_str() {
            "csv" => Some(ListFormat::Csv),
            "jsonl" => Some(ListFormat::Jsonl),
            "parquet" => Some(ListFormat::Parquet),
            _ => None,
        }
    }
}

/// Writes the list as JSON Lines (one object per user, UTF-8).
pub fn write_jsonl(path: &Path, rows: &[&RankedRow], as_of: &str) -> Result<()> {
    let mut out = Vec::new();
    for r in rows {
        serde_json::to_writer(&mut out, &json_row(r, as_of))
            .map_err(|e| Error::write(path, std::io::Error::other(e)))?;
        out.push(b'\n');
    }
    write_atomic(path, &out)
}

/// Writes the list as Parquet with typed columns (reasons as `reason_1..3`).
pub fn write_parquet(path: &Path, rows: &[&RankedRow], as_of: &str) -> Result<()> {
    let text = |f: &dyn Fn(&RankedRow) -> Option<String>, name: &str| {
        Column::new(name.into(), rows.iter().map(|r| f(r)).collect::<Vec<_>>())
    };
    let nonempty = |s: &String| Some(s.clone()).filter(|s| !s.is_empty());
    let mut columns = vec![
        Column::new(
            "rank".into(),
            rows.iter().map(|r| r.rank as u32).collect::<Vec<_>>(),
        ),
        text(&|r| Some(r.user_id.clone()), "user_id"),
    ];
    for (k, name) in CRM_COLUMNS.iter().enumerate() {
        columns.push(text(&|r| nonempty(&r.crm[k]), name));
    }
    let date = chrono::NaiveDate::parse_from_str(as_of, "%Y-%m-%d").ok();
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    let to_days = |d: Option<chrono::NaiveDate>| d.map(|d| (d - epoch).num_days() as i32);
    columns
        .push(Column::new("as_of".into(), vec![to_days(date); rows.len()]).cast(&DataType::Date)?);
    columns.push(Column::new(
        "churn_probability".into(),
        rows.iter().map(|r| r.probability).collect::<Vec<_>>(),
    ));
    columns.push(text(&|r| Some(r.tier.label().into()), "risk_tier"));
    columns.push(text(&|r| Some(r.status.label().into()), "status"));
    columns.push(
        Column::new(
            "first_flagged".into(),
            rows.iter()
                .map(|r| {
                    to_days(
                        r.first_flagged
                            .as_deref()
                            .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()),
                    )
                })
                .collect::<Vec<_>>(),
        )
        .cast(&DataType::Date)?,
    );
    columns.push(Column::new(
        "days_on_list".into(),
        rows.iter().map(|r| r.days_on_list).collect::<Vec<_>>(),
    ));
    columns.push(text(&|r| Some(r.group.label().into()), "group"));
    for i in 0..REASON_COLUMNS {
        columns.push(text(
            &|r| r.reasons.get(i).cloned(),
            &format!("reason_{}", i + 1),
        ));
    }
    columns.push(text(&|r| Some(r.play.label().into()), "recommended_play"));
    columns.push(text(&|r| Some(r.play_rule.clone()), "play_rule"));
    for (k, (feature, _)) in FIGURES.iter().enumerate() {
        columns.push(Column::new(
            feature.name().into(),
            rows.iter()
                .map(|r| r.figures[k].parse::<f64>().ok())
                .collect::<Vec<_>>(),
        ));
    }
    let mut df = DataFrame::new(rows.len(), columns)?;
    let mut bytes = Vec::new();
    ParquetWriter::new(&mut bytes).finish(&mut df)?;
    write_atomic(path, &bytes)
}

/// Which of the users table's CRM columns ([`crate::ingest::CRM_COLUMNS`]) are keys:
/// `email` and `crm_id` are matched on by importers; `account` (a name) and `plan` are
/// text.
pub const CRM_IS_KEY: [bool; 4] = [true, true, false, false];

/// Key cells of `rows` (user ids and CRM keys) that a spreadsheet would read as a
/// formula: how many, and the first as `column "value"`.
pub fn formula_like_keys(rows: &[&RankedRow]) -> (usize, Option<String>) {
    let mut n = 0;
    let mut first = None;
    for r in rows {
        let keys = std::iter::once(("user_id", r.user_id.as_str())).chain(
            crate::ingest::CRM_COLUMNS
                .iter()
                .zip(&r.crm)
                .zip(CRM_IS_KEY)
                .filter(|(_, key)| *key)
                .map(|((name, v), _)| (*name, v.as_str())),
        );
        for (name, value) in keys {
            if formula_like(value) {
                n += 1;
                first.get_or_insert_with(|| format!("{name} {value:?}"));
            }
        }
    }
    (n, first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::list::plays::Play;
    use crate::list::rank::{Status, Tier, FIGURES};

    fn sample_row(rank: usize, reasons: &[&str]) -> RankedRow {
        RankedRow {
            rank,
            crm: ["a@x.io".into(), String::new(), "Acme".into(), "pro".into()],
            tier: Tier::High,
            reasons: reasons.iter().map(|r| r.to_string()).collect(),
            play: Play::RepeatValue,
            play_rule: "rule".into(),
            figures: FIGURES.iter().map(|_| "1.5".to_string()).collect(),
            status: Status::Still,
            first_flagged: Some("2026-07-01".into()),
            days_on_list: Some(5),
            ..crate::fixtures::ranked_row(&format!("=u{rank}"), 0.61237)
        }
    }

    #[test]
    fn parquet_and_jsonl_keep_types_and_raw_text() {
        use polars::prelude::{ParquetReader, SerReader};
        let dir = tempfile::tempdir().unwrap();
        let rows = [sample_row(1, &["a", "b"]), sample_row(2, &[])];
        let refs: Vec<&RankedRow> = rows.iter().collect();
        let p = dir.path().join("l.parquet");
        write_parquet(&p, &refs, "2026-07-06").unwrap();
        let df = ParquetReader::new(std::fs::File::open(&p).unwrap())
            .finish()
            .unwrap();
        assert_eq!(df.height(), 2);
        assert_eq!(df.column("as_of").unwrap().dtype(), &DataType::Date);
        assert_eq!(df.column("first_flagged").unwrap().dtype(), &DataType::Date);
        assert_eq!(
            df.column("churn_probability")
                .unwrap()
                .f64()
                .unwrap()
                .get(0),
            Some(0.61237)
        );
        // Not a spreadsheet: text is kept as it is.
        assert_eq!(
            df.column("user_id").unwrap().str().unwrap().get(0),
            Some("=u1")
        );
        assert_eq!(
            df.column("reason_2").unwrap().str().unwrap().get(0),
            Some("b")
        );
        assert_eq!(df.column("reason_1").unwrap().str().unwrap().get(1), None);
        assert_eq!(df.column("crm_id").unwrap().null_count(), 2);

        let j = dir.path().join("l.jsonl");
        write_jsonl(&j, &refs, "2026-07-06").unwrap();
        let first: serde_json::Value =
            serde_json::from_str(std::fs::read_to_string(&j).unwrap().lines().next().unwrap())
                .unwrap();
        assert_eq!(first["churn_probability"], 0.6124);
        assert_eq!(first["days_on_list"], 5);
        assert_eq!(first["figures"]["tenure_days"], 1.5);
        assert_eq!(first["crm_id"], serde_json::Value::Null);
    }

    #[test]
    fn csv_blocks_join_into_one_list_in_row_order() {
        let dir = tempfile::tempdir().unwrap();
        // More rows than two blocks, with reasons of varying count and a text to quote.
        let n = 2 * CSV_BLOCK + 3;
        let rows: Vec<RankedRow> = (1..=n)
            .map(|k| match k % 3 {
                0 => sample_row(k, &["no login, \"14 days\""]),
                1 => sample_row(k, &["a", "b", "c"]),
                _ => sample_row(k, &[]),
            })
            .collect();
        let refs: Vec<&RankedRow> = rows.iter().collect();
        let p = dir.path().join("l.csv");
        write_csv(&p, &refs, true, "2026-07-06").unwrap();
        let bytes = std::fs::read(&p).unwrap();
        let mut r = csv::Reader::from_reader(bytes.as_slice());
        let header = r.headers().unwrap().clone();
        assert_eq!(header.iter().next(), Some("rank"));
        let records: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
        assert_eq!(records.len(), n);
        for (k, rec) in records.iter().enumerate() {
            assert_eq!(rec.len(), header.len());
            assert_eq!(rec[0], (k + 1).to_string());
            assert_eq!(rec[1], format!("=u{}", k + 1), "keys as they are");
        }
        assert_eq!(
            records[2].get(header.iter().position(|h| h == "reason_1").unwrap()),
            Some("no login, \"14 days\"")
        );
        // Every line ends CRLF, the blocks' seams included.
        assert_eq!(bytes.windows(2).filter(|w| w == b"\r\n").count(), n + 1);
    }

    #[test]
    fn csv_neutralizes_text_but_not_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let rows = [sample_row(1, &["-3 logins"])];
        let refs: Vec<&RankedRow> = rows.iter().collect();
        let p = dir.path().join("l.csv");
        write_csv(&p, &refs, true, "2026-07-06").unwrap();
        let mut r = csv::Reader::from_path(&p).unwrap();
        let rec = r.records().next().unwrap().unwrap();
        // The key as it is; free text neutralized.
        assert_eq!(&rec[1], "=u1");
        assert_eq!(&rec[7], "0.6124");
        assert_eq!(&rec[12], "treatment");
        assert_eq!(&rec[13], "'-3 logins");
    }
}
