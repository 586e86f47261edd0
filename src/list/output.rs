//! The ranked at-risk list: order, tiers, plays, CRM columns, the view filters, and the
//! CSV, JSON Lines and Parquet writers.
//!
//! Rows are sorted by churn probability (highest first), then `user_id`, so the order is
//! total and reruns give the same bytes. Numbers use fixed formatting. In CSV, every text
//! cell that a spreadsheet could read as a formula (starting with `=`, `+`, `-`, `@`, tab,
//! CR or LF) is prefixed with `'`; numbers are never touched. Files are written to a
//! temporary name and renamed.

use std::collections::HashMap;
use std::path::Path;

use crate::base::csv_cells::{formula_like, neutralized};
use crate::base::files::write_atomic;
use crate::error::{Error, Result};
use crate::features::catalog::Core;
use crate::features::FeatureSpec;
use crate::ingest::{Users, CRM_COLUMNS};
use crate::list::experiment::{Group, Split};
use crate::list::plays::{recommend, Play};
use crate::model::score::FrameRow;
use crate::model::Scored;
use polars::prelude::{Column, DataFrame, DataType, ParquetWriter, StringChunked};
use rayon::prelude::*;

/// How users are put in tiers: by probability thresholds, or by rank (the top `high`
/// users, or the top `high` percent, are high; down to `medium` at least medium).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TierRule {
    /// At or above `high`: high; at or above `medium`: medium (defaults 0.5, 0.25).
    Probability { high: f64, medium: f64 },
    /// The first `high` ranks are high, the first `medium` at least medium.
    Top { high: usize, medium: usize },
    /// The first `high` percent of ranks are high, the first `medium` percent at least medium.
    TopPercent { high: f64, medium: f64 },
}

/// How tiers are set (`[output] tiers`, `--tiers`): `probability`, `top` or `top_percent`
/// (`top-percent` is read too, as the command line spells it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TierMode {
    /// `high` and `medium` are probabilities (defaults [`PROBABILITY_TIERS`]).
    #[default]
    Probability,
    /// `high` and `medium` are user counts (no defaults: both must be given).
    Top,
    /// `high` and `medium` are percentages of the scored users (defaults [`TOP_PERCENT_TIERS`]).
    #[serde(alias = "top-percent")]
    TopPercent,
}

/// Default (high, medium) thresholds of `probability` tiers.
pub const PROBABILITY_TIERS: (f64, f64) = (0.5, 0.25);
/// Default (high, medium) percentages of `top_percent` tiers.
pub const TOP_PERCENT_TIERS: (f64, f64) = (10.0, 30.0);

impl Default for TierRule {
    fn default() -> Self {
        let (high, medium) = PROBABILITY_TIERS;
        TierRule::Probability { high, medium }
    }
}

impl TierRule {
    /// Probability thresholds; checks 0 ≤ medium ≤ high ≤ 1.
    pub fn new(high: f64, medium: f64) -> Result<Self> {
        Self::from_mode(TierMode::Probability, Some(high), Some(medium))
    }

    /// A rule from its mode and two numbers, each defaulting to the mode's default
    /// (`top` has none: both are required).
    pub fn from_mode(mode: TierMode, high: Option<f64>, medium: Option<f64>) -> Result<Self> {
        let bad = |message: String| {
            Err(Error::InvalidArgument {
                name: "tier thresholds".into(),
                message,
            })
        };
        let defaults = match mode {
            TierMode::Probability => Some(PROBABILITY_TIERS),
            TierMode::TopPercent => Some(TOP_PERCENT_TIERS),
            TierMode::Top => None,
        };
        let (high, medium) = match (high, medium, defaults) {
            (Some(h), Some(m), _) => (h, m),
            (h, m, Some((dh, dm))) => (h.unwrap_or(dh), m.unwrap_or(dm)),
            _ => return bad("top tiers need both user counts, high and medium".into()),
        };
        match mode {
            TierMode::Probability => {
                if !(0.0..=1.0).contains(&high) || !(0.0..=high).contains(&medium) {
                    return bad(format!("need 0 ≤ medium ({medium}) ≤ high ({high}) ≤ 1"));
                }
                Ok(TierRule::Probability { high, medium })
            }
            TierMode::Top => {
                if high < 0.0 || medium < high || high.fract() != 0.0 || medium.fract() != 0.0 {
                    return bad(format!(
                        "top tiers count users: need whole numbers 0 ≤ high ({high}) ≤ medium ({medium})"
                    ));
                }
                Ok(TierRule::Top {
                    high: high as usize,
                    medium: medium as usize,
                })
            }
            TierMode::TopPercent => {
                if !(0.0..=100.0).contains(&medium) || !(0.0..=medium).contains(&high) {
                    return bad(format!(
                        "need 0 ≤ high ({high}) ≤ medium ({medium}) ≤ 100 percent"
                    ));
                }
                Ok(TierRule::TopPercent { high, medium })
            }
        }
    }

    /// The tiers of probabilities sorted from highest to lowest (rank order).
    pub fn assign(&self, ranked: &[f64]) -> Vec<Tier> {
        let n = ranked.len();
        let by_rank = |i: usize, high: usize, medium: usize| {
            if i < high {
                Tier::High
            } else if i < medium {
                Tier::Medium
            } else {
                Tier::Low
            }
        };
        ranked
            .iter()
            .enumerate()
            .map(|(i, &p)| match *self {
                TierRule::Probability { high, medium } => {
                    if p >= high {
                        Tier::High
                    } else if p >= medium {
                        Tier::Medium
                    } else {
                        Tier::Low
                    }
                }
                TierRule::Top { high, medium } => by_rank(i, high, medium),
                TierRule::TopPercent { high, medium } => {
                    let count = |pct: f64| (pct / 100.0 * n as f64).round() as usize;
                    by_rank(i, count(high), count(medium))
                }
            })
            .collect()
    }
}

/// Risk tier (`high`, `medium`, `low` in files and flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    High,
    Medium,
    Low,
}

impl Tier {
    pub fn label(self) -> &'static str {
        match self {
            Tier::High => "high",
            Tier::Medium => "medium",
            Tier::Low => "low",
        }
    }

    /// Reads `high`, `medium` or `low` (as [`Tier::label`] writes it).
    pub fn from_label(text: &str) -> Option<Self> {
        [Tier::High, Tier::Medium, Tier::Low]
            .into_iter()
            .find(|t| t.label() == text)
    }

    /// Whether this tier is `min` or riskier.
    pub fn at_least(self, min: Tier) -> bool {
        self <= min
    }
}

/// Where a user stands against the previous run's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// On the list, and was not on the previous one.
    New,
    /// On the list, and on the previous one.
    Still,
    /// Off the list, and on the previous one.
    Recovered,
    /// Off the list, and off (or without) the previous one.
    NotAtRisk,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Still => "still_at_risk",
            Status::Recovered => "recovered",
            Status::NotAtRisk => "not_at_risk",
        }
    }
}

/// The raw figures shown beside the reasons, each under its feature's name: (feature,
/// decimals).
pub const FIGURES: [(Core, usize); 7] = [
    (Core::DaysSinceValue, 1),
    (Core::DaysSinceEvent, 1),
    (Core::ActiveRecent, 0),
    (Core::ActivePrior, 0),
    (Core::ValueRecent, 0),
    (Core::CoreUsed, 0),
    (Core::Tenure, 0),
];

/// One row of the ranked list.
#[derive(Debug, Clone, PartialEq)]
pub struct RankedRow {
    pub rank: usize,
    pub user_id: String,
    /// [`CRM_COLUMNS`] from the users table, empty when unknown.
    pub crm: [String; 4],
    pub probability: f64,
    pub tier: Tier,
    pub reasons: Vec<String>,
    pub play: Play,
    pub play_rule: String,
    /// Formatted [`FIGURES`].
    pub figures: Vec<String>,
    /// Against the previous list (set by `history`; `NotAtRisk`/`New` until then).
    pub status: Status,
    /// First as-of date of the user's current stretch on the list (`YYYY-MM-DD`).
    pub first_flagged: Option<String>,
    /// Days from `first_flagged` to this as-of date.
    pub days_on_list: Option<i64>,
    /// Treatment or control (see `experiment`); control users are not to be contacted.
    pub group: Group,
}

/// Ranks the scored users and attaches tiers, plays, CRM ids and figures.
pub fn rank(
    scored: &Scored,
    spec: &FeatureSpec,
    users: Option<&Users>,
    tiers: &TierRule,
) -> Result<Vec<RankedRow>> {
    let crm = CrmRows::new(users)?;
    let columns = FrameRow::columns(&scored.features)?;
    // Users are independent: their rows are made on the threads.
    let mut rows: Vec<RankedRow> = scored
        .users
        .par_iter()
        .map(|u| {
            let raw = FrameRow::new(&columns, u.row);
            let choice = recommend(spec, &raw);
            RankedRow {
                rank: 0,
                user_id: u.user_id.clone(),
                crm: crm.get(&u.user_id),
                probability: u.probability,
                tier: Tier::Low,
                reasons: u.reasons.iter().map(|r| r.text.clone()).collect(),
                play: choice.play,
                play_rule: choice.rule,
                figures: FIGURES
                    .iter()
                    .map(|&(f, d)| {
                        use crate::features::RawRow;
                        format!("{:.*}", d, raw.get(f))
                    })
                    .collect(),
                status: Status::NotAtRisk,
                first_flagged: None,
                days_on_list: None,
                group: Group::Treatment,
            }
        })
        .collect();
    order(&mut rows, tiers);
    Ok(rows)
}

/// Puts scored rows in list order — churn probability, highest first, then `user_id` —
/// numbers them and assigns the tiers. The one ordering of every list, whole or merged
/// from shards.
pub fn order(rows: &mut [RankedRow], tiers: &TierRule) {
    // The row numbers are sorted, then the rows moved once each to their places (a row
    // is a few hundred bytes; sorting the rows themselves moves each one many times).
    let mut from: Vec<usize> = (0..rows.len()).collect();
    from.sort_by(|&a, &b| {
        let (a, b) = (&rows[a], &rows[b]);
        b.probability
            .total_cmp(&a.probability)
            .then_with(|| a.user_id.cmp(&b.user_id))
    });
    // Place k takes the row at from[k]: each cycle of the permutation is walked once.
    for start in 0..from.len() {
        let mut at = start;
        while from[at] != start {
            let next = from[at];
            rows.swap(at, next);
            from[at] = at;
            at = next;
        }
        from[at] = at;
    }
    let probabilities: Vec<f64> = rows.iter().map(|r| r.probability).collect();
    for (i, (r, tier)) in rows
        .iter_mut()
        .zip(tiers.assign(&probabilities))
        .enumerate()
    {
        r.rank = i + 1;
        r.tier = tier;
    }
}

/// Puts each row in its experiment arm.
pub fn assign_groups(rows: &mut [RankedRow], split: &Split) {
    for r in rows {
        r.group = split.group(&r.user_id);
    }
}

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
    figures: std::collections::BTreeMap<&'static str, f64>,
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
            .map(|((f, _), v)| (f.name(), v.parse().unwrap_or(f64::NAN)))
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

/// The users table's CRM columns, read where they are: only the scored users' cells are
/// copied (a users table usually lists many more users than a night scores).
struct CrmRows<'a> {
    row_of: HashMap<&'a str, usize>,
    columns: Vec<Option<&'a StringChunked>>,
}

impl<'a> CrmRows<'a> {
    fn new(users: Option<&'a Users>) -> Result<Self> {
        let Some(users) = users else {
            return Ok(CrmRows {
                row_of: HashMap::new(),
                columns: Vec::new(),
            });
        };
        let df = &users.df;
        let mut row_of = HashMap::with_capacity(df.height());
        for (i, id) in df.column("user_id")?.str()?.iter().enumerate() {
            // One row per user: `load_users` sets a repeated user_id aside.
            if let Some(id) = id {
                row_of.insert(id, i);
            }
        }
        let columns = CRM_COLUMNS
            .iter()
            .map(|c| df.column(c).ok().and_then(|c| c.str().ok()))
            .collect();
        Ok(CrmRows { row_of, columns })
    }

    /// The CRM cells of `user` (empty when the table does not list the user).
    fn get(&self, user: &str) -> [String; 4] {
        let mut out: [String; 4] = Default::default();
        if let Some(&i) = self.row_of.get(user) {
            for (cell, c) in out.iter_mut().zip(&self.columns) {
                if let Some(ca) = c {
                    *cell = ca.get(i).unwrap_or_default().to_string();
                }
            }
        }
        out
    }
}

/// CRM columns by user id, from the users table.
pub fn crm_lookup(users: Option<&Users>) -> Result<HashMap<String, [String; 4]>> {
    let crm = CrmRows::new(users)?;
    Ok(crm
        .row_of
        .keys()
        .map(|&id| (id.to_string(), crm.get(id)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn rows_are_ordered_by_probability_then_user_and_numbered() {
        // 60 rows in a scrambled order, probabilities in 7 ties, distinct ids.
        let mut rows: Vec<RankedRow> = (0..60)
            .map(|i| {
                let k = (i * 37) % 60;
                let mut r = sample_row(0, &[]);
                r.user_id = format!("u{k:02}");
                r.probability = (k % 7) as f64 / 10.0;
                r
            })
            .collect();
        let mut expected: Vec<(f64, String)> = rows
            .iter()
            .map(|r| (r.probability, r.user_id.clone()))
            .collect();
        expected.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        order(&mut rows, &TierRule::new(0.5, 0.3).unwrap());
        let got: Vec<(f64, String)> = rows
            .iter()
            .map(|r| (r.probability, r.user_id.clone()))
            .collect();
        assert_eq!(got, expected);
        assert_eq!(rows[0].user_id, "u06");
        assert!(rows.iter().enumerate().all(|(i, r)| r.rank == i + 1));
        assert_eq!(rows[0].tier, Tier::High);
        assert_eq!(rows[59].tier, Tier::Low);
    }

    #[test]
    fn tiers_by_threshold_count_and_percent() {
        use Tier::*;
        let p = [0.9, 0.6, 0.59, 0.3, 0.1];
        let t = TierRule::new(0.6, 0.3).unwrap();
        assert_eq!(t.assign(&p), [High, High, Medium, Medium, Low]);
        assert!(TierRule::new(0.3, 0.6).is_err());
        let top = TierRule::from_mode(TierMode::Top, Some(1.0), Some(3.0)).unwrap();
        assert_eq!(top.assign(&p), [High, Medium, Medium, Low, Low]);
        assert!(TierRule::from_mode(TierMode::Top, Some(1.5), Some(3.0)).is_err());
        assert!(
            TierRule::from_mode(TierMode::Top, Some(1.0), None).is_err(),
            "no default counts"
        );
        let pct = TierRule::from_mode(TierMode::TopPercent, Some(20.0), Some(60.0)).unwrap();
        assert_eq!(pct.assign(&p), [High, Medium, Medium, Low, Low]);
        // Defaults: 10 and 30 percent of 10 users.
        let pct = TierRule::from_mode(TierMode::TopPercent, None, None).unwrap();
        assert_eq!(pct.assign(&[0.5; 10])[..4], [High, Medium, Medium, Low]);
        assert_eq!(
            TierRule::from_mode(TierMode::Probability, None, Some(0.2)).unwrap(),
            TierRule::Probability {
                high: 0.5,
                medium: 0.2
            }
        );
        assert!(High.at_least(Medium) && Medium.at_least(Medium) && !Low.at_least(Medium));
    }
}
