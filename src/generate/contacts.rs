//! Simulated re-engagement contacts: rewrites a generated SaaS events file as if CS had
//! contacted the treatment arm of a past list (control users are never touched).

use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::Path;

use flate2::{write::GzEncoder, Compression};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::text::DAY;
use super::vocabulary::VALUE_ACTIONS;
use crate::base::files::write_atomic;
use crate::error::{Error, Result};

/// The simulated effect of re-engagement contacts: of the treated users who would not
/// have come back to a value action within `window_days` after `as_of`, a share `uplift`
/// (drawn by a seeded hash of the user id) does: a login and a `report_created` on a day
/// of the window, and a login a week later. Users who come back anyway are left as they
/// are, so the true intent-to-treat uplift is `uplift × (share of treated users who would
/// not have come back)`.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactEffect {
    pub treated: Vec<String>,
    pub as_of: i64,
    pub window_days: u32,
    pub uplift: f64,
    pub seed: u64,
}

/// What [`apply_contacts`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ContactSummary {
    pub treated: usize,
    /// Treated users who came back without help.
    pub back_anyway: usize,
    /// Treated users the contact brought back.
    pub brought_back: usize,
}

/// Rewrites a generated events file with the contacts' effect (same format and order).
pub fn apply_contacts(effect: &ContactEffect, events_path: &Path) -> Result<ContactSummary> {
    if !(0.0..=1.0).contains(&effect.uplift) {
        return Err(Error::InvalidArgument {
            name: "contact uplift".into(),
            message: format!("must be between 0 and 1, not {}", effect.uplift),
        });
    }
    let gz = events_path.to_string_lossy().ends_with(".gz");
    let io = |e| Error::read(events_path, e);
    let text = read_text(events_path, gz)?;
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default().to_string();
    let mut rows: Vec<String> = lines.map(String::from).collect();
    let treated: HashSet<&str> = effect.treated.iter().map(String::as_str).collect();
    let back = came_back(effect, &treated, &rows);
    let brought_back = add_contacts(effect, &treated, &back, &mut rows);
    let out = sorted_text(header, rows);
    let bytes = if gz {
        let mut enc = GzEncoder::new(Vec::new(), Compression::new(3));
        enc.write_all(out.as_bytes()).map_err(io)?;
        enc.finish().map_err(io)?
    } else {
        out.into_bytes()
    };
    write_atomic(events_path, &bytes)?;
    Ok(ContactSummary {
        treated: treated.len(),
        back_anyway: back.len(),
        brought_back,
    })
}

/// The whole events file as text (gunzipped when `gz`).
fn read_text(events_path: &Path, gz: bool) -> Result<String> {
    let io = |e| Error::read(events_path, e);
    let file = std::fs::File::open(events_path).map_err(io)?;
    let mut text = String::new();
    if gz {
        flate2::read::MultiGzDecoder::new(file)
            .read_to_string(&mut text)
            .map_err(io)?;
    } else {
        std::io::BufReader::new(file)
            .read_to_string(&mut text)
            .map_err(io)?;
    }
    Ok(text)
}

/// The treated users with a value action within the window after the list, uncontacted.
fn came_back(effect: &ContactEffect, treated: &HashSet<&str>, rows: &[String]) -> HashSet<String> {
    let end = effect.as_of + i64::from(effect.window_days) * i64::from(DAY) * 1000;
    let mut back = HashSet::new();
    for row in rows {
        let mut cells = row.split(',');
        let (Some(user), Some(ts), Some(event)) = (cells.next(), cells.next(), cells.next()) else {
            continue;
        };
        if treated.contains(user) && VALUE_ACTIONS.contains(&event) {
            if let Some(t) = crate::base::time::parse_timestamp(ts) {
                if t > effect.as_of && t <= end {
                    back.insert(user.to_string());
                }
            }
        }
    }
    back
}

/// Appends the rows of the contacts that bring a user back (a seeded draw per user, in
/// user id order); returns how many users they are.
fn add_contacts(
    effect: &ContactEffect,
    treated: &HashSet<&str>,
    back: &HashSet<String>,
    rows: &mut Vec<String>,
) -> usize {
    let stamp = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default()
    };
    let mut ids: Vec<&str> = treated.iter().copied().collect();
    ids.sort_unstable();
    let mut brought_back = 0;
    for user in ids {
        if back.contains(user) {
            continue;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(effect.seed ^ 0xC0_47AC7);
        rng.set_stream(crate::base::hash::fnv1a(user.as_bytes()));
        if rng.random::<f64>() >= effect.uplift {
            continue;
        }
        brought_back += 1;
        let day = 1 + rng.random_range(0..effect.window_days.max(2) - 1);
        let t = effect.as_of + i64::from(day) * i64::from(DAY) * 1000 + 10 * 3_600_000;
        let session = format!("c{user}");
        rows.push(format!("{user},{},login,,{session}", stamp(t)));
        rows.push(format!(
            "{user},{},report_created,,{session}",
            stamp(t + 300_000)
        ));
        rows.push(format!(
            "{user},{},login,,{session}-2",
            stamp(t + 7 * i64::from(DAY) * 1000)
        ));
    }
    brought_back
}

/// The file's text in its order: timestamp, then user id (numeric), then the user's own order.
fn sorted_text(header: String, mut rows: Vec<String>) -> String {
    let key = |r: &String| {
        let mut c = r.split(',');
        let user = c
            .next()
            .unwrap_or_default()
            .parse::<u64>()
            .unwrap_or(u64::MAX);
        (c.next().unwrap_or_default().to_string(), user)
    };
    rows.sort_by_cached_key(key);
    let mut out = header;
    out.push('\n');
    for r in rows {
        out.push_str(&r);
        out.push('\n');
    }
    out
}
