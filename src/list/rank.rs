//! The ranked at-risk list: every scored user with a tier, a play, the figures behind
//! the reasons and the CRM columns, in the one list order.
//!
//! Rows are sorted by churn probability (highest first), then `user_id`, so the order is
//! total and reruns give the same bytes.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::features::catalog::Core;
use crate::features::FeatureSpec;
use crate::ingest::{Users, CRM_COLUMNS};
use crate::list::experiment::{Group, Split};
use crate::list::plays::{recommend, Play};
use crate::model::score::FrameRow;
use crate::model::Scored;
use polars::prelude::StringChunked;
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
/// decimals). `days_since_last_value` is empty for a user who never did a value action.
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
            let choice = recommend(spec, &raw, !u.reasons.is_empty());
            RankedRow {
                rank: 0,
                user_id: u.user_id.clone(),
                crm: crm.get(&u.user_id),
                probability: u.probability,
                tier: Tier::Low,
                reasons: {
                    use crate::features::RawRow;
                    let mut reasons: Vec<String> =
                        u.reasons.iter().map(|r| r.text.clone()).collect();
                    // A paused subscription leads: the figures below it are the pause's.
                    if raw.get(Core::Paused) > 0.0 {
                        reasons.insert(0, crate::features::catalog::PAUSED.to_string());
                        reasons.truncate(crate::list::write::REASON_COLUMNS);
                    }
                    reasons
                },
                play: choice.play,
                play_rule: choice.rule,
                figures: FIGURES
                    .iter()
                    .map(|&(f, d)| {
                        use crate::features::RawRow;
                        // Days since a value action there never was: empty, not the
                        // tenure the feature reads then ("210.4" read as a last value
                        // action 210 days ago).
                        if f == Core::DaysSinceValue && raw.get(Core::ValueTotal) == 0.0 {
                            return String::new();
                        }
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

/// Why a list of scored users is empty: probability tiers that nobody reaches. With a
/// subscription product's churn (a few percent in a horizon), a new user's B2B night
/// scored 4,225 users, the highest at 0.086, and CS got an empty list without a word.
pub fn empty_list_note(rows: &[RankedRow], list_tier: Tier, tiers: &TierRule) -> Option<String> {
    let top = rows.first()?;
    if rows.iter().any(|r| r.tier.at_least(list_tier)) {
        return None;
    }
    let TierRule::Probability { high, medium } = *tiers else {
        return None;
    };
    let threshold = if list_tier == Tier::High {
        high
    } else {
        medium
    };
    Some(format!(
        "the list is empty: no user reached the {} tier (probability at least {threshold}); the highest of the {} scored is {:.4}. When churn in the horizon is rare, rank tiers put the riskiest users on the list: `[output] tiers = \"top_percent\"` (`--tiers top-percent`)",
        list_tier.label(),
        rows.len(),
        top.probability
    ))
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

    #[test]
    fn an_empty_list_says_why() {
        let mut rows: Vec<RankedRow> = [0.086, 0.02, 0.05]
            .iter()
            .enumerate()
            .map(|(i, &p)| crate::fixtures::ranked_row(&format!("u{i}"), p))
            .collect();
        let probability = TierRule::default();
        order(&mut rows, &probability);
        let note = empty_list_note(&rows, Tier::Medium, &probability).unwrap();
        assert!(
            note.starts_with("the list is empty: no user reached the medium tier (probability at least 0.25); the highest of the 3 scored is 0.0860."),
            "{note}"
        );
        // Rank tiers always fill it; a reached tier and no users say nothing.
        let ranks = TierRule::TopPercent {
            high: 5.0,
            medium: 20.0,
        };
        order(&mut rows, &ranks);
        assert_eq!(empty_list_note(&rows, Tier::Medium, &ranks), None);
        rows[0].probability = 0.3;
        order(&mut rows, &probability);
        assert_eq!(empty_list_note(&rows, Tier::Medium, &probability), None);
        assert_eq!(empty_list_note(&[], Tier::Medium, &probability), None);
    }

    #[test]
    fn rows_are_ordered_by_probability_then_user_and_numbered() {
        // 60 rows in a scrambled order, probabilities in 7 ties, distinct ids.
        let mut rows: Vec<RankedRow> = (0..60)
            .map(|i| {
                let k = (i * 37) % 60;
                crate::fixtures::ranked_row(&format!("u{k:02}"), (k % 7) as f64 / 10.0)
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
