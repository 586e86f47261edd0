//! Shard parts and their merge. `score --shard i/n` writes every scored user of its
//! shard, unranked, to a part file (JSON Lines: a header line, then one line per user with
//! the probability at full precision). `merge` checks that the parts are one complete set
//! — the same as-of date, model and feature file, every shard of `n` exactly once — and
//! ranks them with [`output::order`], the ordering of every list, so the merged list is
//! the list one unsharded run writes, byte for byte.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Lines};
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
    let mut set = PartSet::default();
    for path in paths {
        let (header, lines) = open_part(path)?;
        set.place(path, &header)?;
        set.read_rows(path, &header, lines)?;
    }
    set.finish()
}

fn bad(path: &Path, problem: InputSetProblem) -> Error {
    Error::BadInputSet {
        path: path.into(),
        problem,
    }
}

/// A part's header, and its lines after it.
fn open_part(path: &Path) -> Result<(PartHeader, Lines<BufReader<std::fs::File>>)> {
    let file = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::MissingFile { path: path.into() },
        _ => Error::read(path, e),
    })?;
    let mut lines = BufReader::new(file).lines();
    let head = lines
        .next()
        .transpose()
        .map_err(|e| Error::read(path, e))?
        .ok_or_else(|| Error::EmptyInput { path: path.into() })?;
    let header: PartHeader = serde_json::from_str(&head)
        .ok()
        .filter(|h: &PartHeader| h.format == PART_FORMAT)
        .ok_or_else(|| {
            let how_to_write_one = None;
            bad(path, InputSetProblem::NotAPart { how_to_write_one })
        })?;
    Ok((header, lines))
}

/// The first of the settings two parts must share on which they differ: what, and the
/// values of `a` and `b`.
fn first_difference(a: &PartHeader, b: &PartHeader) -> Option<(&'static str, String, String)> {
    [
        (
            "shard count",
            a.shard_count.to_string(),
            b.shard_count.to_string(),
        ),
        ("as-of date", a.as_of.clone(), b.as_of.clone()),
        ("model", a.model_sha256.clone(), b.model_sha256.clone()),
        (
            "feature file",
            a.features_sha256.clone(),
            b.features_sha256.clone(),
        ),
        (
            "users table",
            a.with_crm.to_string(),
            b.with_crm.to_string(),
        ),
    ]
    .into_iter()
    .find(|(_, a, b)| a != b)
}

/// The parts read so far.
#[derive(Default)]
struct PartSet {
    /// The first part and its header, which every other part must agree with.
    first: Option<(PathBuf, PartHeader)>,
    /// Each shard's part, by shard index − 1.
    seen: Vec<Option<PathBuf>>,
    users: HashSet<String>,
    rows: Vec<RankedRow>,
}

impl PartSet {
    /// Takes the part at `path` as its shard's: it must agree with the first part and
    /// be the only one of its shard.
    fn place(&mut self, path: &Path, header: &PartHeader) -> Result<()> {
        match &self.first {
            None => {
                self.seen = vec![None; header.shard_count as usize];
                self.first = Some((path.into(), header.clone()));
            }
            Some((p0, h0)) => {
                if let Some((what, a, b)) = first_difference(h0, header) {
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
        let slot = self
            .seen
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
        *slot = Some(path.into());
        Ok(())
    }

    /// Reads a part's rows: no user twice in the set, as many as its header says.
    fn read_rows(
        &mut self,
        path: &Path,
        header: &PartHeader,
        lines: Lines<BufReader<std::fs::File>>,
    ) -> Result<()> {
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
            if !self.users.insert(row.user_id.clone()) {
                let user = row.user_id.clone();
                return Err(bad(path, InputSetProblem::UserInTwoParts { user }));
            }
            self.rows.push(row.unranked());
            count += 1;
        }
        if count != header.users {
            let (found, header) = (count, header.users);
            return Err(bad(path, InputSetProblem::PartCutShort { found, header }));
        }
        Ok(())
    }

    /// The set's header and rows, once every shard is in.
    fn finish(self) -> Result<(PartHeader, Vec<RankedRow>)> {
        let Some((p0, mut header)) = self.first else {
            return Err(Error::InvalidArgument {
                name: "merge".into(),
                message: "no part files given".into(),
            });
        };
        let missing: Vec<String> = self
            .seen
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_none())
            .map(|(i, _)| format!("{}/{}", i + 1, header.shard_count))
            .collect();
        if !missing.is_empty() {
            return Err(bad(&p0, InputSetProblem::MissingShards { missing }));
        }
        header.users = self.rows.len();
        header.shard_index = 0;
        Ok((header, self.rows))
    }
}

impl PartRow {
    /// The row in a list before ranking: rank 0, tier low, not at risk, treated.
    fn unranked(self) -> RankedRow {
        RankedRow {
            rank: 0,
            user_id: self.user_id,
            crm: self.crm,
            probability: self.probability,
            tier: Tier::Low,
            reasons: self.reasons,
            play: self.play,
            play_rule: self.play_rule,
            figures: self.figures,
            status: Status::NotAtRisk,
            first_flagged: None,
            days_on_list: None,
            group: Group::Treatment,
        }
    }
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
