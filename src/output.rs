//! The ranked at-risk list: order, tiers, plays, CRM columns, and the CSV writer.
//!
//! Rows are sorted by churn probability (highest first), then `user_id`, so the order is
//! total and reruns give the same bytes. Numbers use fixed formatting. Every text cell that
//! a spreadsheet could read as a formula (starting with `=`, `+`, `-`, `@`, tab, CR or LF)
//! is prefixed with `'`. Files are written to a temporary name and renamed.

use std::collections::HashMap;
use std::path::Path;

use crate::error::{Error, Result};
use crate::features::FeatureSpec;
use crate::ingest::{Users, CRM_COLUMNS};
use crate::model::artifact::write_atomic;
use crate::model::score::FrameRow;
use crate::model::Scored;
use crate::plays::{recommend, Play};

/// Probability thresholds for the tiers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TierRule {
    /// At or above: `high` (default 0.5).
    pub high: f64,
    /// At or above (and below `high`): `medium` (default 0.25); below: `low`.
    pub medium: f64,
}

impl Default for TierRule {
    fn default() -> Self {
        TierRule {
            high: 0.5,
            medium: 0.25,
        }
    }
}

impl TierRule {
    /// Checks 0 ≤ medium ≤ high ≤ 1.
    pub fn new(high: f64, medium: f64) -> Result<Self> {
        if !(0.0..=1.0).contains(&high) || !(0.0..=high).contains(&medium) {
            return Err(Error::InvalidArgument {
                name: "tier thresholds".into(),
                message: format!("need 0 ≤ medium ({medium}) ≤ high ({high}) ≤ 1"),
            });
        }
        Ok(TierRule { high, medium })
    }

    /// The tier of a probability.
    pub fn tier(&self, p: f64) -> Tier {
        if p >= self.high {
            Tier::High
        } else if p >= self.medium {
            Tier::Medium
        } else {
            Tier::Low
        }
    }
}

/// Risk tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
}

/// The raw figures shown beside the reasons: (column, feature, decimals).
pub const FIGURES: [(&str, &str, usize); 7] = [
    ("days_since_last_value", "days_since_last_value", 1),
    ("days_since_last_event", "days_since_last_event", 1),
    ("active_days_recent", "active_days_recent", 0),
    ("active_days_prior", "active_days_prior", 0),
    ("value_actions_recent", "value_actions_recent", 0),
    ("core_features_used", "core_features_used", 0),
    ("tenure_days", "tenure_days", 0),
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
}

/// Ranks the scored users and attaches tiers, plays, CRM ids and figures.
pub fn rank(
    scored: &Scored,
    spec: &FeatureSpec,
    users: Option<&Users>,
    tiers: &TierRule,
) -> Result<Vec<RankedRow>> {
    let crm = crm_lookup(users)?;
    let columns = FrameRow::columns(&scored.features.df);
    let mut order: Vec<&crate::model::ScoredUser> = scored.users.iter().collect();
    order.sort_by(|a, b| {
        b.probability
            .total_cmp(&a.probability)
            .then_with(|| a.user_id.cmp(&b.user_id))
    });
    Ok(order
        .into_iter()
        .enumerate()
        .map(|(i, u)| {
            let raw = FrameRow::new(&columns, u.row);
            let choice = recommend(spec, &raw);
            RankedRow {
                rank: i + 1,
                user_id: u.user_id.clone(),
                crm: crm.get(u.user_id.as_str()).cloned().unwrap_or_default(),
                probability: u.probability,
                tier: tiers.tier(u.probability),
                reasons: u.reasons.iter().map(|r| r.text.clone()).collect(),
                play: choice.play,
                play_rule: choice.rule,
                figures: FIGURES
                    .iter()
                    .map(|(_, f, d)| {
                        use crate::features::RawRow;
                        format!("{:.*}", *d, raw.get(f))
                    })
                    .collect(),
            }
        })
        .collect())
}

/// Writes the list as CSV (UTF-8, RFC 4180, header). CRM columns are included when
/// `with_crm` is true.
pub fn write_csv(path: &Path, rows: &[RankedRow], with_crm: bool) -> Result<()> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let mut header = vec!["rank", "user_id"];
    if with_crm {
        header.extend(CRM_COLUMNS);
    }
    header.extend([
        "churn_probability",
        "risk_tier",
        "top_reasons",
        "recommended_play",
        "play_rule",
    ]);
    header.extend(FIGURES.iter().map(|f| f.0));
    let io = |e: csv::Error| Error::io(path, std::io::Error::other(e));
    w.write_record(&header).map_err(io)?;
    for r in rows {
        let mut rec: Vec<String> = vec![r.rank.to_string(), neutralize(&r.user_id)];
        if with_crm {
            rec.extend(r.crm.iter().map(|c| neutralize(c)));
        }
        rec.push(format!("{:.4}", r.probability));
        rec.push(r.tier.label().into());
        rec.push(neutralize(&r.reasons.join("; ")));
        rec.push(r.play.label().into());
        rec.push(neutralize(&r.play_rule));
        rec.extend(r.figures.iter().cloned());
        w.write_record(&rec).map_err(io)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Error::io(path, std::io::Error::other(e.to_string())))?;
    write_atomic(path, &bytes)
}

/// Neutralizes a text cell against spreadsheet formula injection (OWASP): a cell starting
/// with `=`, `+`, `-`, `@`, tab, CR or LF gets a leading `'`.
pub fn neutralize(s: &str) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r' | '\n') => format!("'{s}"),
        _ => s.to_string(),
    }
}

fn crm_lookup(users: Option<&Users>) -> Result<HashMap<String, [String; 4]>> {
    let Some(users) = users else {
        return Ok(HashMap::new());
    };
    let df = &users.df;
    let ids = df.column("user_id")?.str()?;
    let cols = CRM_COLUMNS.map(|c| df.column(c).and_then(|c| c.str().cloned()));
    let mut map = HashMap::with_capacity(df.height());
    for (i, id) in ids.iter().enumerate() {
        let Some(id) = id else { continue };
        let mut vals: [String; 4] = Default::default();
        for (k, c) in cols.iter().enumerate() {
            if let Ok(ca) = c {
                vals[k] = ca.get(i).unwrap_or_default().to_string();
            }
        }
        map.insert(id.to_string(), vals);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neutralizes_formula_starts_only() {
        for bad in ["=SUM(A1)", "+1", "-2", "@x", "\tx", "\rx", "\nx"] {
            assert!(neutralize(bad).starts_with('\''), "{bad:?}");
        }
        assert_eq!(neutralize("user 1"), "user 1");
        assert_eq!(neutralize(""), "");
    }

    #[test]
    fn tiers_by_threshold() {
        let t = TierRule::new(0.6, 0.3).unwrap();
        assert_eq!(t.tier(0.6), Tier::High);
        assert_eq!(t.tier(0.59), Tier::Medium);
        assert_eq!(t.tier(0.1), Tier::Low);
        assert!(TierRule::new(0.3, 0.6).is_err());
    }
}
