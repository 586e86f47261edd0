//! `churnrisk check`: read an event log the way `run` would (format, preset, column
//! mapping, validation) and say what came out — before trusting a new export to a night.

use anyhow::{Context, Result};

use churnrisk::base::files::write_atomic;
use churnrisk::base::time::format_date;

use churnrisk::features::FeatureSpec;

use super::late::Lateness;
use super::{policy_from, Inputs};
use crate::cli::CheckArgs;

pub fn run(args: CheckArgs) -> Result<()> {
    let policy = policy_from(&args.input.validation)?;
    // The feature file only adds a warning here: without one, check the log anyway.
    let features = &args.input.features;
    let spec = match super::load_features(features) {
        Ok(spec) => Some(spec),
        Err(e) if !features.exists() => {
            tracing::info!("{e}: not checking the log against feature definitions");
            None
        }
        Err(e) => return Err(e.into()),
    };
    let checked = spec.is_some();
    let spec = match spec {
        Some(s) => s,
        // Loading needs none of its definitions: a placeholder stands in.
        None => FeatureSpec::from_toml("[events]\nvalue = [\"-\"]\n", features)?,
    };
    let inputs = Inputs::load_with(spec, &args.input, &policy)?;
    if let Some(path) = &args.input.validation.rejects {
        inputs
            .rejects
            .write_csv(path)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let events = &inputs.events;
    let users = events.df.column("user_id")?.n_unique()?;
    let names = churnrisk::features::event_names(events)?;
    // With `--out -` stdout holds the events alone.
    let to_stdout = args.out.as_deref().is_some_and(|p| p.as_os_str() == "-");
    if !super::logging::is_quiet() && !to_stdout {
        crate::cmd::sayln!(
            "{}: {} of {}, {}, {} to {}{}",
            args.input.events().display(),
            count(events.rows(), "event"),
            count(users, "user"),
            count(names.len(), "event type"),
            format_date(events.min_ts),
            format_date(events.max_ts),
            if events.sessions_derived {
                " (sessions derived for the events without a session id: 30 minutes without an event ends one)"
            } else {
                ""
            }
        )?;
        // The log's rows here; the users' and subscriptions' tables in a clause of their own.
        let tables: Vec<String> = [&args.input.users, &args.input.subscriptions]
            .into_iter()
            .flatten()
            .map(|p| p.display().to_string())
            .collect();
        let (mut log, mut other) = ((0, 0), 0);
        for (name, tally) in &inputs.rejects.files {
            if tables.contains(name) {
                other += tally.total();
            } else {
                log = (log.0 + tally.total(), log.1 + tally.lost());
            }
        }
        crate::cmd::sayln!(
            "set aside: {} rows ({} lost, {} duplicates){}",
            log.0,
            log.1,
            log.0 - log.1,
            if other > 0 {
                format!(
                    "; from the users and subscriptions tables: {other} {}",
                    if other == 1 { "row" } else { "rows" }
                )
            } else {
                String::new()
            }
        )?;
        if let Some(line) = events.identity.describe() {
            crate::cmd::sayln!("{line}")?;
        }
        if let Some(line) = super::not_use_line(events, &inputs.not_use) {
            crate::cmd::sayln!("{line}")?;
        }
        if events.files.len() > 1 {
            crate::cmd::sayln!("read {} files", events.files.len())?;
        }
        crate::cmd::sayln!("event types by rows: {}", event_type_counts(events, 30)?)?;
        if let Some(line) = inputs.users.as_ref().and_then(|u| u.dates_read.as_ref()) {
            crate::cmd::sayln!("users: {line}")?;
        }
        if let Some(s) = &inputs.subscriptions {
            crate::cmd::sayln!(
                "subscriptions: {} rows make {} active periods; {}",
                s.rows,
                s.df.height(),
                s.renewals.describe()
            )?;
        }
    }
    if checked {
        // Outside the repository the default file is the built-in copy.
        let named = super::features_named(features);
        match inputs.spec.check_events_exist(&names) {
            Err(e) => tracing::warn!("{named}: {e}"),
            Ok(missing) if !missing.is_empty() => tracing::warn!(
                "{named}: names events that never occur in the log: {}",
                missing.join(", ")
            ),
            Ok(_) => {}
        }
        for s in churnrisk::features::stopped_events(&inputs.events, &inputs.spec)? {
            tracing::warn!("{}", super::stopped_note(&s, &named));
        }
    }
    if let Some(night) = &args.night {
        let late = Lateness {
            allowed: args.max_missing_days,
            refuse: true,
            how_to_allow: "--max-missing-days (`[inputs] max_missing_days` of `run`)",
            // An orchestrator's check step: the night stops here and publishes nothing.
            consequence: "The night should not run on it: its list and model stay the last night's; rerun when the log is complete.",
        };
        late.check(&inputs, super::date_arg("--night", night)?)?;
    }
    if let Some(out) = &args.out {
        write_canonical(out, &inputs)?;
        tracing::info!("canonical events written to {}", out.display());
    }
    inputs.rejects.enforce(&policy)?;
    Ok(())
}

/// The canonical events as CSV, sorted by user, time and event.
fn write_canonical(path: &std::path::Path, inputs: &Inputs) -> Result<()> {
    let df = &inputs.events.df;
    let user: Vec<Option<&str>> = df.column("user_id")?.str()?.iter().collect();
    let ts: Vec<Option<i64>> = df.column("ts")?.i64()?.iter().collect();
    let event: Vec<Option<&str>> = df.column("event")?.str()?.iter().collect();
    let value: Vec<Option<f64>> = df.column("value")?.f64()?.iter().collect();
    let session: Vec<Option<&str>> = df.column("session_id")?.str()?.iter().collect();
    // Sorted by user, time and event, each text replaced by its rank among the distinct
    // ones (a sort comparing the texts themselves took 14 of 16 s for 3.1M rows), rows in
    // log order among equals.
    let rank = |texts: &[Option<&str>]| -> Vec<u32> {
        let mut distinct: Vec<Option<&str>> = texts.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        let at: std::collections::HashMap<Option<&str>, u32> =
            distinct.into_iter().zip(0..).collect();
        texts.iter().map(|t| at[t]).collect()
    };
    let (user_rank, event_rank) = (rank(&user), rank(&event));
    let mut order: Vec<usize> = (0..user.len()).collect();
    order.sort_unstable_by_key(|&i| (user_rank[i], ts[i], event_rank[i], i));
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["user_id", "timestamp", "event", "value", "session_id"])?;
    let mut time = String::with_capacity(24);
    let mut number = String::with_capacity(24);
    for i in order {
        use std::fmt::Write as _;
        time.clear();
        if let Some(t) = ts[i].and_then(chrono::DateTime::from_timestamp_millis) {
            let _ = write!(time, "{}", t.format("%Y-%m-%dT%H:%M:%S%.3fZ"));
        }
        number.clear();
        if let Some(v) = value[i] {
            let _ = write!(number, "{v}");
        }
        // The canonical events are data for a program (`score --events`, DuckDB),
        // written as they are: a user `-1` stays `-1`.
        w.write_record([
            user[i].unwrap_or_default(),
            time.as_str(),
            event[i].unwrap_or_default(),
            number.as_str(),
            session[i].unwrap_or_default(),
        ])?;
    }
    let bytes = w.into_inner().context("writing CSV")?;
    if path.as_os_str() == "-" {
        // `--out -`: the canonical events on stdout (for `| head`, `| duckdb`, …). A
        // reader that stops early is no failure (the command's own status follows); a
        // stdout that cannot be written is an output failure, exit 7.
        use std::io::Write as _;
        return match std::io::stdout().lock().write_all(&bytes) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(
                churnrisk::error::Error::write(std::path::Path::new("standard output"), e).into(),
            ),
            _ => Ok(()),
        };
    }
    write_atomic(path, &bytes).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// "1 event", "2 events".
fn count(n: usize, one: &str) -> String {
    match n {
        1 => format!("1 {one}"),
        n => format!("{n} {one}s"),
    }
}

/// The log's event types with their rows, most first, the first `shown` of them: what a
/// feature file names.
fn event_type_counts(events: &churnrisk::ingest::Events, shown: usize) -> Result<String> {
    let rows = churnrisk::features::event_type_rows(events, i64::MAX)?;
    let mut listed: Vec<String> = rows
        .iter()
        .take(shown)
        .map(|(e, n)| format!("{e} {n}"))
        .collect();
    if rows.len() > shown {
        listed.push(format!("and {} more", rows.len() - shown));
    }
    Ok(listed.join(", "))
}
