//! What changed since the previous run: who is newly at risk, who is still at risk (and
//! since when), who recovered, and who went inactive while on the list.
//!
//! "On the list" means a tier at or above the list's minimum (default medium), computed on
//! every scored user before any view filter. Each run keeps its list in
//! `list_state.csv` (`user_id, as_of, tier, probability, first_flagged`). A run with a
//! later as-of date first copies the existing state to `list_state.previous.csv`, then
//! compares against that copy; a rerun of the same night compares against the same copy,
//! so reruns give the same bytes. Both files are written atomically; a killed run leaves
//! either the old or the new state.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use crate::base::csv_cells::{neutralize, write_table};
use crate::base::files::write_atomic;
use crate::error::{Error, Result, StateProblem};
use crate::list::experiment::{Group, Split};
use crate::list::rank::{RankedRow, Status, Tier};
use crate::list::write::CRM_IS_KEY;

/// The state file of the latest run, in the output folder.
pub const STATE_FILE: &str = "list_state.csv";
/// The state of the run before, the comparison base.
pub const PREVIOUS_FILE: &str = "list_state.previous.csv";

/// One user on a run's list.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    pub tier: Tier,
    pub probability: f64,
    pub first_flagged: String,
}

/// A run's list as kept in its state file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListState {
    pub as_of: String,
    pub users: BTreeMap<String, Listed>,
}

impl ListState {
    /// Reads a state file; `None` when it does not exist.
    pub fn read(path: &Path) -> Result<Option<Self>> {
        if !path.is_file() {
            return Ok(None);
        }
        let bad = |problem: StateProblem| Error::BadState {
            path: path.into(),
            problem,
        };
        let unreadable = |e: csv::Error| {
            bad(StateProblem::Unreadable {
                message: e.to_string(),
            })
        };
        let mut r = csv::Reader::from_path(path).map_err(unreadable)?;
        let mut state = ListState::default();
        for rec in r.records() {
            let rec = rec.map_err(unreadable)?;
            if rec.len() != 5 {
                return Err(bad(StateProblem::FieldCount { found: rec.len() }));
            }
            state.as_of = rec[1].to_string();
            state.users.insert(
                rec[0].to_string(),
                Listed {
                    tier: Tier::from_label(&rec[2]).ok_or_else(|| {
                        bad(StateProblem::Tier {
                            value: rec[2].to_string(),
                        })
                    })?,
                    probability: rec[3].parse().map_err(|_| {
                        bad(StateProblem::Probability {
                            value: rec[3].to_string(),
                        })
                    })?,
                    first_flagged: rec[4].to_string(),
                },
            );
        }
        Ok(Some(state))
    }

    /// Writes the state file atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        let header = ["user_id", "as_of", "tier", "probability", "first_flagged"];
        let rows = self.users.iter().map(|(id, l)| {
            [
                id.clone(),
                self.as_of.clone(),
                l.tier.label().into(),
                format!("{:.4}", l.probability),
                l.first_flagged.clone(),
            ]
        });
        write_table(path, &header, rows)
    }
}

/// A user whose standing changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub user_id: String,
    pub crm: [String; 4],
    /// `new`, `recovered` or `inactive` (on the previous list, not scored now: churned
    /// by the definition — no activity in the activity window, or no subscription running).
    pub change: &'static str,
    pub tier: Option<Tier>,
    pub previous_tier: Option<Tier>,
    pub probability: Option<f64>,
    pub previous_probability: Option<f64>,
    pub reason: String,
    pub play: String,
    /// Days the user has been (`new`: 0) or had been on the list.
    pub days_on_list: Option<i64>,
    /// When the user's stretch on the list began (`inactive`: the stretch that ended).
    pub first_flagged: Option<String>,
    /// The user's experiment group: a control user is not contacted, whatever changed.
    pub group: Group,
}

/// The comparison of one run with the previous.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The previous run's as-of date, when there was one to compare with.
    pub previous_as_of: Option<String>,
    pub changes: Vec<Change>,
    pub new: usize,
    pub still: usize,
    pub recovered: usize,
    pub inactive: usize,
}

/// Days between two ISO dates (`b − a`), if both parse.
fn days_between(a: &str, b: &str) -> Option<i64> {
    let p = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
    Some((p(b)? - p(a)?).num_days())
}

/// Rotates the state files for a run at `as_of` and returns the comparison base: the
/// state of the latest run with an earlier as-of date, if any.
pub fn previous_state(dir: &Path, as_of: &str) -> Result<Option<ListState>> {
    previous_state_into(dir, as_of, dir)
}

/// As [`previous_state`], writing the rotated state into `to` (a night's staging folder).
pub fn previous_state_into(dir: &Path, as_of: &str, to: &Path) -> Result<Option<ListState>> {
    let current = dir.join(STATE_FILE);
    let previous = dir.join(PREVIOUS_FILE);
    if let Some(state) = ListState::read(&current)? {
        if state.as_of.as_str() < as_of && !state.as_of.is_empty() {
            let bytes = std::fs::read(&current).map_err(|e| Error::read(&current, e))?;
            write_atomic(&to.join(PREVIOUS_FILE), &bytes)?;
            return Ok(Some(state));
        }
    }
    Ok(ListState::read(&previous)?.filter(|s| s.as_of.as_str() < as_of))
}

/// Sets each row's status, `first_flagged` and `days_on_list` against `previous`, and
/// lists the changes; `crm` finds CRM columns of users no longer scored, and `left` says
/// why they are not ([`crate::labels::Definition::left_reason`]).
pub fn compare(
    rows: &mut [RankedRow],
    previous: Option<&ListState>,
    as_of: &str,
    list_tier: Tier,
    crm: &HashMap<String, [String; 4]>,
    split: &Split,
    left: &str,
) -> (ListState, Comparison) {
    let empty = ListState::default();
    let prev = previous.unwrap_or(&empty);
    let mut state = ListState {
        as_of: as_of.into(),
        users: BTreeMap::new(),
    };
    let mut changes = Vec::new();
    let (mut new, mut still, mut recovered) = (0, 0, 0);
    let mut seen = HashSet::new();
    for r in rows.iter_mut() {
        if !prev.users.is_empty() {
            seen.insert(r.user_id.clone());
        }
        let before = prev.users.get(&r.user_id);
        let on_list = r.tier.at_least(list_tier);
        r.status = match (on_list, before) {
            (true, Some(_)) => Status::Still,
            (true, None) => Status::New,
            (false, Some(_)) => Status::Recovered,
            (false, None) => Status::NotAtRisk,
        };
        if on_list {
            let listed = flag(r, before, as_of);
            state.users.insert(r.user_id.clone(), listed);
        } else if let Some(b) = before {
            // Recovered: the stretch on the list that ended tonight.
            r.first_flagged = Some(b.first_flagged.clone());
            r.days_on_list = days_between(&b.first_flagged, as_of);
        }
        let change = match r.status {
            Status::New => {
                new += 1;
                "new"
            }
            Status::Recovered => {
                recovered += 1;
                "recovered"
            }
            Status::Still => {
                still += 1;
                continue;
            }
            Status::NotAtRisk => continue,
        };
        changes.push(scored_change(r, before, change));
    }
    let inactive = inactive_changes(prev, &seen, crm, split, (as_of, left), &mut changes);
    let comparison = Comparison {
        previous_as_of: previous.map(|p| p.as_of.clone()),
        changes,
        new,
        still,
        recovered,
        inactive,
    };
    (state, comparison)
}

/// Sets a listed row's `first_flagged` (kept from `before`, else today) and
/// `days_on_list`; returns its entry in the list's state.
fn flag(r: &mut RankedRow, before: Option<&Listed>, as_of: &str) -> Listed {
    let first = before
        .map(|b| b.first_flagged.clone())
        .unwrap_or_else(|| as_of.to_string());
    r.days_on_list = days_between(&first, as_of);
    r.first_flagged = Some(first.clone());
    Listed {
        tier: r.tier,
        probability: (r.probability * 1e4).round() / 1e4,
        first_flagged: first,
    }
}

/// The change of a scored user (`new` or `recovered`), beside their previous entry.
fn scored_change(r: &RankedRow, before: Option<&Listed>, change: &'static str) -> Change {
    Change {
        user_id: r.user_id.clone(),
        crm: r.crm.clone(),
        change,
        tier: Some(r.tier),
        previous_tier: before.map(|b| b.tier),
        probability: Some(r.probability),
        previous_probability: before.map(|b| b.probability),
        reason: r.reasons.first().cloned().unwrap_or_default(),
        play: r.play.label().into(),
        // Set by `compare` for every listed or recovered row.
        days_on_list: r.days_on_list,
        first_flagged: r.first_flagged.clone(),
        group: r.group,
    }
}

/// Adds an `inactive` change for each previously listed user not scored today (not in
/// `seen`); returns how many.
fn inactive_changes(
    prev: &ListState,
    seen: &HashSet<String>,
    crm: &HashMap<String, [String; 4]>,
    split: &Split,
    (as_of, left): (&str, &str),
    changes: &mut Vec<Change>,
) -> usize {
    let mut inactive = 0;
    for (id, b) in &prev.users {
        if seen.contains(id) {
            continue;
        }
        inactive += 1;
        changes.push(Change {
            user_id: id.clone(),
            crm: crm.get(id).cloned().unwrap_or_default(),
            change: "inactive",
            tier: None,
            previous_tier: Some(b.tier),
            probability: None,
            previous_probability: Some(b.probability),
            reason: left.into(),
            play: String::new(),
            days_on_list: days_between(&b.first_flagged, as_of),
            first_flagged: Some(b.first_flagged.clone()),
            group: split.group(id),
        });
    }
    inactive
}

/// Writes the changes file (`changes.csv`): new first (in rank order), then recovered,
/// then inactive.
pub fn write_changes(path: &Path, comparison: &Comparison, as_of: &str) -> Result<()> {
    let header = [
        "change",
        "user_id",
        "email",
        "crm_id",
        "account",
        "plan",
        "as_of",
        "previous_as_of",
        "risk_tier",
        "previous_tier",
        "churn_probability",
        "previous_probability",
        "days_on_list",
        "reason",
        "recommended_play",
        "group",
    ];
    let order = |c: &str| match c {
        "new" => 0,
        "recovered" => 1,
        _ => 2,
    };
    let mut sorted: Vec<&Change> = comparison.changes.iter().collect();
    sorted.sort_by_key(|c| order(c.change));
    let prev = comparison.previous_as_of.clone().unwrap_or_default();
    let label = |t: Option<Tier>| t.map(|t| t.label().to_string()).unwrap_or_default();
    let number = |p: Option<f64>| p.map(|p| format!("{p:.4}")).unwrap_or_default();
    let rows = sorted.into_iter().map(|c| {
        // Keys as they are, text neutralized (see `base::csv_cells::neutralize`).
        let mut rec = vec![c.change.to_string(), c.user_id.clone()];
        rec.extend(c.crm.iter().zip(CRM_IS_KEY).map(|(v, key)| match key {
            true => v.clone(),
            false => neutralize(v),
        }));
        rec.extend([
            as_of.to_string(),
            prev.clone(),
            label(c.tier),
            label(c.previous_tier),
            number(c.probability),
            number(c.previous_probability),
            c.days_on_list.map(|d| d.to_string()).unwrap_or_default(),
            neutralize(&c.reason),
            c.play.clone(),
            c.group.label().to_string(),
        ]);
        rec
    });
    write_table(path, &header, rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::list::rank::Status;

    fn row(id: &str, p: f64, tier: Tier) -> RankedRow {
        RankedRow {
            tier,
            reasons: vec![format!("reason of {id}")],
            ..crate::fixtures::ranked_row(id, p)
        }
    }

    #[test]
    fn statuses_days_on_list_and_changes_across_three_nights() {
        use crate::labels::Definition;
        let dir = tempfile::tempdir().unwrap();
        let crm = HashMap::new();
        // Night 1: a and b on the list; c low.
        let mut rows = vec![
            row("a", 0.9, Tier::High),
            row("b", 0.4, Tier::Medium),
            row("c", 0.1, Tier::Low),
        ];
        let prev = previous_state(dir.path(), "2026-07-01").unwrap();
        assert!(prev.is_none());
        let (state, cmp) = compare(
            &mut rows,
            prev.as_ref(),
            "2026-07-01",
            Tier::Medium,
            &crm,
            &Split::default(),
            Definition::Subscription.left_reason(),
        );
        assert_eq!(
            (cmp.new, cmp.still, cmp.recovered, cmp.inactive),
            (2, 0, 0, 0)
        );
        assert_eq!(rows[0].status, Status::New);
        assert_eq!(rows[0].days_on_list, Some(0));
        assert_eq!(rows[2].status, Status::NotAtRisk);
        state.write(&dir.path().join(STATE_FILE)).unwrap();

        // Night 2, a week later: a still, b recovered, c new; d was never seen.
        let mut rows = vec![
            row("a", 0.8, Tier::High),
            row("c", 0.6, Tier::High),
            row("b", 0.2, Tier::Low),
        ];
        let prev = previous_state(dir.path(), "2026-07-08").unwrap();
        let (state, cmp) = compare(
            &mut rows,
            prev.as_ref(),
            "2026-07-08",
            Tier::Medium,
            &crm,
            &Split::default(),
            Definition::Subscription.left_reason(),
        );
        assert_eq!(
            (cmp.new, cmp.still, cmp.recovered, cmp.inactive),
            (1, 1, 1, 0)
        );
        assert_eq!(rows[0].status, Status::Still);
        assert_eq!(rows[0].first_flagged.as_deref(), Some("2026-07-01"));
        assert_eq!(rows[0].days_on_list, Some(7));
        assert_eq!(rows[2].status, Status::Recovered);
        let b = cmp.changes.iter().find(|c| c.user_id == "b").unwrap();
        assert_eq!(
            (b.previous_tier, b.days_on_list),
            (Some(Tier::Medium), Some(7))
        );
        state.write(&dir.path().join(STATE_FILE)).unwrap();

        // The same night again: the same comparison (against night 1).
        let mut again = vec![
            row("a", 0.8, Tier::High),
            row("c", 0.6, Tier::High),
            row("b", 0.2, Tier::Low),
        ];
        let prev = previous_state(dir.path(), "2026-07-08").unwrap();
        assert_eq!(prev.as_ref().unwrap().as_of, "2026-07-01");
        let (_, cmp2) = compare(
            &mut again,
            prev.as_ref(),
            "2026-07-08",
            Tier::Medium,
            &crm,
            &Split::default(),
            Definition::Subscription.left_reason(),
        );
        assert_eq!(cmp2, cmp);

        // Night 3: a is no longer scored (inactive).
        let mut rows = vec![row("c", 0.7, Tier::High)];
        let prev = previous_state(dir.path(), "2026-07-15").unwrap();
        let (_, cmp) = compare(
            &mut rows,
            prev.as_ref(),
            "2026-07-15",
            Tier::Medium,
            &crm,
            &Split::default(),
            Definition::Subscription.left_reason(),
        );
        assert_eq!(
            (cmp.new, cmp.still, cmp.recovered, cmp.inactive),
            (0, 1, 0, 1)
        );
        assert_eq!(rows[0].days_on_list, Some(7));
        let a = cmp.changes.iter().find(|c| c.user_id == "a").unwrap();
        assert_eq!((a.change, a.days_on_list), ("inactive", Some(14)));
        assert_eq!(
            a.reason,
            "no subscription running: churned by the definition"
        );

        let p = dir.path().join("changes.csv");
        write_changes(&p, &cmp, "2026-07-15").unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(
            text.contains("inactive,a,,,,,2026-07-15,2026-07-08,,high,,0.8000,14,"),
            "{text}"
        );
    }
}
