//! Shard parts and their merge. `score --shard i/n` writes every scored user of its
//! shard, unranked, to a part file (JSON Lines: a header line, then one line per user with
//! the probability at full precision). `merge` checks that the parts are one complete set
//! — the same as-of date, model and feature file, every shard of `n` exactly once — and
//! ranks them with [`output::order`], the ordering of every list, so the merged list is
//! the list one unsharded run writes, byte for byte.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::base::files::write_atomic;
use crate::error::{Error, InputSetProblem, Result};
use crate::ingest::Shard;
use crate::list::experiment::Group;
use crate::list::plays::Play;
use crate::list::rank::{RankedRow, Status, Tier};

/// The first line's `format` value.
pub const PART_FORMAT: &str = "churnrisk-part/1";

/// What a part was computed from: parts merge only when these agree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartHeader {
    pub format: String,
    pub shard_index: u32,
    pub shard_count: u32,
    pub as_of: String,
    pub model_sha256: String,
    pub features_sha256: String,
    /// Whether the shards read a users table (the list then has CRM columns).
    pub with_crm: bool,
    /// Users in this part.
    pub users: usize,
}

/// One scored user of a part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct PartRow {
    user_id: String,
    crm: [String; 4],
    probability: f64,
    reasons: Vec<String>,
    play: Play,
    play_rule: String,
    figures: Vec<String>,
}

/// Writes a shard's scored rows (any order) as a part file.
pub fn write_part(path: &Path, shard: Shard, header: PartHeader, rows: &[RankedRow]) -> Result<()> {
    let header = PartHeader {
        format: PART_FORMAT.into(),
        shard_index: shard.index,
        shard_count: shard.count,
        users: rows.len(),
        ..header
    };
    let json = |e: serde_json::Error| Error::read(path, std::io::Error::other(e));
    let mut out = serde_json::to_vec(&header).map_err(json)?;
    out.push(b'\n');
    for r in rows {
        let row = PartRow {
            user_id: r.user_id.clone(),
            crm: r.crm.clone(),
            probability: r.probability,
            reasons: r.reasons.clone(),
            play: r.play,
            play_rule: r.play_rule.clone(),
            figures: r.figures.clone(),
        };
        serde_json::to_writer(&mut out, &row).map_err(json)?;
        out.push(b'\n');
    }
    write_atomic(path, &out)
}

/// Reads a complete set of parts: the common header (with `users` the total) and every
/// row, unranked (rank 0, tier low, status not at risk, treatment group).
pub fn read_parts(paths: &[PathBuf]) -> Result<(PartHeader, Vec<RankedRow>)> {
    let bad = |path: &Path, problem: InputSetProblem| Error::BadInputSet {
        path: path.into(),
        problem,
    };
    let mut first: Option<(PathBuf, PartHeader)> = None;
    let mut seen: Vec<Option<PathBuf>> = Vec::new();
    let mut users: HashSet<String> = HashSet::new();
    let mut rows = Vec::new();
    for path in paths {
        let file = std::fs::File::open(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::MissingFile { path: path.clone() },
            _ => Error::read(path, e),
        })?;
        let mut lines = BufReader::new(file).lines();
        let head = lines
            .next()
            .transpose()
            .map_err(|e| Error::read(path, e))?
            .ok_or_else(|| Error::EmptyInput { path: path.clone() })?;
        let header: PartHeader = serde_json::from_str(&head)
            .ok()
            .filter(|h: &PartHeader| h.format == PART_FORMAT)
            .ok_or_else(|| {
                bad(
                    path,
                    InputSetProblem::NotAPart {
                        how_to_write_one: None,
                    },
                )
            })?;
        match &first {
            None => {
                seen = vec![None; header.shard_count as usize];
                first = Some((path.clone(), header.clone()));
            }
            Some((p0, h0)) => {
                let differs = [
                    (
                        "shard count",
                        h0.shard_count.to_string(),
                        header.shard_count.to_string(),
                    ),
                    ("as-of date", h0.as_of.clone(), header.as_of.clone()),
                    (
                        "model",
                        h0.model_sha256.clone(),
                        header.model_sha256.clone(),
                    ),
                    (
                        "feature file",
                        h0.features_sha256.clone(),
                        header.features_sha256.clone(),
                    ),
                    (
                        "users table",
                        h0.with_crm.to_string(),
                        header.with_crm.to_string(),
                    ),
                ]
                .into_iter()
                .find(|(_, a, b)| a != b);
                if let Some((what, a, b)) = differs {
                    let problem = InputSetProblem::PartsDiffer {
                        what,
                        this: b,
                        other_file: p0.clone(),
                        other: a,
                    };
                    return Err(bad(path, problem));
                }
            }
        }
        let slot = seen
            .get_mut(header.shard_index as usize - 1)
            .ok_or_else(|| {
                let (index, count) = (header.shard_index, header.shard_count);
                bad(path, InputSetProblem::ShardOutOfRange { index, count })
            })?;
        if let Some(other) = slot {
            let problem = InputSetProblem::ShardTwice {
                index: header.shard_index,
                count: header.shard_count,
                other_file: other.clone(),
            };
            return Err(bad(path, problem));
        }
        *slot = Some(path.clone());
        let mut count = 0;
        for (i, line) in lines.enumerate() {
            let line = line.map_err(|e| Error::read(path, e))?;
            let row: PartRow = serde_json::from_str(&line).map_err(|e| {
                let message = e.to_string();
                bad(
                    path,
                    InputSetProblem::BadPartRow {
                        line: i + 2,
                        message,
                    },
                )
            })?;
            if !users.insert(row.user_id.clone()) {
                let user = row.user_id.clone();
                return Err(bad(path, InputSetProblem::UserInTwoParts { user }));
            }
            rows.push(RankedRow {
                rank: 0,
                user_id: row.user_id,
                crm: row.crm,
                probability: row.probability,
                tier: Tier::Low,
                reasons: row.reasons,
                play: row.play,
                play_rule: row.play_rule,
                figures: row.figures,
                status: Status::NotAtRisk,
                first_flagged: None,
                days_on_list: None,
                group: Group::Treatment,
            });
            count += 1;
        }
        if count != header.users {
            let (found, header) = (count, header.users);
            return Err(bad(path, InputSetProblem::PartCutShort { found, header }));
        }
    }
    let Some((p0, mut header)) = first else {
        return Err(Error::InvalidArgument {
            name: "merge".into(),
            message: "no part files given".into(),
        });
    };
    let missing: Vec<String> = seen
        .iter()
        .enumerate()
        .filter(|(_, s)| s.is_none())
        .map(|(i, _)| format!("{}/{}", i + 1, header.shard_count))
        .collect();
    if !missing.is_empty() {
        return Err(bad(&p0, InputSetProblem::MissingShards { missing }));
    }
    header.users = rows.len();
    header.shard_index = 0;
    Ok((header, rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(user: &str, p: f64) -> RankedRow {
        RankedRow {
            reasons: vec!["a reason".into()],
            play_rule: "rule".into(),
            figures: vec!["1.0".into()],
            ..crate::fixtures::ranked_row(user, p)
        }
    }

    fn header() -> PartHeader {
        PartHeader {
            format: String::new(),
            shard_index: 0,
            shard_count: 0,
            as_of: "2026-07-06".into(),
            model_sha256: "m".into(),
            features_sha256: "f".into(),
            with_crm: false,
            users: 0,
        }
    }

    #[test]
    fn parts_round_trip_exactly_and_must_be_complete() {
        let dir = tempfile::tempdir().unwrap();
        let p = |i: u32| dir.path().join(format!("part{i}.jsonl"));
        let third = 1.0 / 3.0;
        write_part(
            &p(1),
            Shard { index: 1, count: 2 },
            header(),
            &[row("a", third)],
        )
        .unwrap();
        write_part(
            &p(2),
            Shard { index: 2, count: 2 },
            header(),
            &[row("b", 0.1), row("c", 1e-17)],
        )
        .unwrap();
        let (h, rows) = read_parts(&[p(2), p(1)]).unwrap();
        assert_eq!((h.users, h.shard_count), (3, 2));
        let a = rows.iter().find(|r| r.user_id == "a").unwrap();
        assert_eq!(a.probability.to_bits(), third.to_bits());
        assert_eq!(a.play, Play::Reengagement);
        assert!(rows.iter().any(|r| r.probability == 1e-17));

        let err = read_parts(&[p(1)]).unwrap_err().to_string();
        assert!(err.contains("lacks shard 2/2"), "{err}");
        let err = read_parts(&[p(1), p(1), p(2)]).unwrap_err().to_string();
        assert!(err.contains("shard 1/2 is also"), "{err}");
        let other = PartHeader {
            model_sha256: "other".into(),
            ..header()
        };
        write_part(&p(3), Shard { index: 2, count: 2 }, other, &[row("b", 0.1)]).unwrap();
        let err = read_parts(&[p(1), p(3)]).unwrap_err().to_string();
        assert!(err.contains("its model"), "{err}");
        std::fs::write(p(4), "rank,user_id\n1,a\n").unwrap();
        let err = read_parts(&[p(4)]).unwrap_err().to_string();
        assert!(err.contains("not a shard part"), "{err}");
        // A part cut short is refused, not merged.
        let text = std::fs::read_to_string(p(2)).unwrap();
        std::fs::write(p(5), text.lines().take(2).collect::<Vec<_>>().join("\n")).unwrap();
        let err = read_parts(&[p(1), p(5)]).unwrap_err().to_string();
        assert!(err.contains("cut short"), "{err}");
    }
}
