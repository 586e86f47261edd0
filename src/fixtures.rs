//! Fixtures shared by the unit tests of every layer: hand-made event logs and a generated
//! sample log. Compiled only for tests; the one library module that may use any layer
//! (`tests/cli/layers.rs` lets test code import it from anywhere).

use polars::prelude::*;

use crate::base::time::{parse_timestamp, DAY_MS};
use crate::features::catalog::{catalog, Core, FeatureId};
use crate::features::{FeatureSpec, RawRow};
use crate::generate::{generate, EventFormat, GenerateConfig};
use crate::ingest::{load_events, Events, ReadPolicy, Rejects};
use crate::list::experiment::Group;
use crate::list::plays::Play;
use crate::list::rank::{RankedRow, Status, Tier};

/// A checked event log of `(user, time in epoch ms, event, value, session id)` rows, in
/// the canonical schema, its time span the rows' own.
pub fn events_with(rows: &[(&str, i64, &str, Option<f64>, &str)]) -> Events {
    let df = df!(
        "user_id" => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        "ts" => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
        "event" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
        "value" => rows.iter().map(|r| r.3).collect::<Vec<_>>(),
        "session_id" => rows.iter().map(|r| r.4).collect::<Vec<_>>(),
    )
    .unwrap();
    Events {
        df,
        path: "t.csv".into(),
        min_ts: rows.iter().map(|r| r.1).min().unwrap_or(0),
        max_ts: rows.iter().map(|r| r.1).max().unwrap_or(0),
        sessions_derived: false,
        groups: None,
        names: Default::default(),
        files: Vec::new(),
        identity: Default::default(),
    }
}

/// [`events_with`] for `(user, time, event)` rows: no values, one session per user and day.
pub fn events(rows: &[(&str, i64, &str)]) -> Events {
    let sessions: Vec<String> = rows
        .iter()
        .map(|r| format!("{}-{}", r.0, r.1.div_euclid(DAY_MS)))
        .collect();
    let full: Vec<_> = rows
        .iter()
        .zip(&sessions)
        .map(|(r, s)| (r.0, r.1, r.2, None, s.as_str()))
        .collect();
    events_with(&full)
}

/// [`events`] with times written as text (`2026-04-01T10:00:00Z`, or any form the readers take).
pub fn events_at(rows: &[(&str, &str, &str)]) -> Events {
    let rows: Vec<_> = rows
        .iter()
        .map(|r| (r.0, parse_timestamp(r.1).unwrap(), r.2))
        .collect();
    events(&rows)
}

/// A generated log of `users` users over 182 days (the generator's default product),
/// written as Parquet into a temporary folder (kept alive by the returned guard) and
/// loaded as the nightly job loads it.
pub fn loaded_sample(users: usize) -> (tempfile::TempDir, Events) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = GenerateConfig {
        users,
        days: 182,
        format: EventFormat::Parquet,
        ..GenerateConfig::default()
    };
    generate(&cfg, dir.path()).unwrap();
    let policy = ReadPolicy::new(parse_timestamp("2027-01-01").unwrap());
    let path = dir.path().join(EventFormat::Parquet.file_name());
    let events = load_events(&path, &policy, &mut Rejects::default()).unwrap();
    (dir, events)
}

/// A row of the ranked list for user `user` with probability `p`: low tier, no CRM data,
/// no reasons, the re-engagement play, new to the list, treatment group. Tests set what
/// they look at with `RankedRow { tier: Tier::High, ..ranked_row("u1", 0.8) }`.
pub fn ranked_row(user: &str, p: f64) -> RankedRow {
    RankedRow {
        rank: 0,
        user_id: user.into(),
        crm: Default::default(),
        probability: p,
        tier: Tier::Low,
        reasons: Vec::new(),
        play: Play::Reengagement,
        play_rule: String::new(),
        figures: Vec::new(),
        status: Status::NotAtRisk,
        first_flagged: None,
        days_on_list: None,
        group: Group::Treatment,
    }
}

/// A user's raw figures by column name, read through the catalog's identities: what a
/// scored frame's row gives the plays and the reasons. Names not given read as 0.
pub struct NamedRow {
    values: std::collections::HashMap<FeatureId, f64>,
    names: std::collections::HashMap<String, FeatureId>,
}

impl NamedRow {
    /// The figures `pairs` of a user under `spec`'s catalog (no event types).
    pub fn new(spec: &FeatureSpec, pairs: &[(&str, f64)]) -> Self {
        Self::with_events(spec, &[], pairs)
    }

    /// The same under the catalog of `event_types` (their rates named `n_long__x`, …).
    pub fn with_events(spec: &FeatureSpec, event_types: &[String], pairs: &[(&str, f64)]) -> Self {
        let defs = catalog(spec, event_types);
        let id_of = |name: &str| {
            Core::ALL
                .iter()
                .find(|c| c.name() == name)
                .map(|&c| FeatureId::Core(c))
                .or_else(|| defs.iter().find(|d| d.name == name).map(|d| d.id))
                .unwrap_or_else(|| panic!("no feature {name}"))
        };
        NamedRow {
            values: pairs.iter().map(|&(n, v)| (id_of(n), v)).collect(),
            names: defs.iter().map(|d| (d.name.clone(), d.id)).collect(),
        }
    }
}

impl RawRow for NamedRow {
    fn value(&self, id: FeatureId) -> f64 {
        self.values.get(&id).copied().unwrap_or(0.0)
    }

    fn named(&self, name: &str) -> Option<f64> {
        self.names.get(name).map(|&id| self.value(id))
    }
}
