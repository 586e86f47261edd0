//! `churnrisk run`: the whole night — lock the output folder, load, decide whether to
//! retrain (and why), train if so, score, write the ranked list and the run manifest.
//! With `--config` the settings come from the file; without, from flags that default to
//! the shipped sample.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::{SecondsFormat, Utc};

use churnrisk::config::RunConfig;
use churnrisk::error::Error;
use churnrisk::ingest::{format_date, parse_as_of, DAY_MS};
use churnrisk::labels::{Definition, LabelRule, Signal};
use churnrisk::lock::RunLock;
use churnrisk::manifest::{FileEntry, ModelUsed, RunManifest, TierCounts};
use churnrisk::model::policy::{check_population, retrain_reason};
use churnrisk::model::{score, train, ChurnModel, TrainOptions};
use churnrisk::output::{rank, write_csv, Tier, TierRule};
use churnrisk::report::{ranked_summary, training_summary};

use super::{Inputs, Log};
use crate::cli::{InputArgs, RunArgs};

/// Everything a run needs, from the config file or the flags.
struct Settings {
    input: InputArgs,
    as_of: Option<String>,
    rule: LabelRule,
    model: PathBuf,
    max_age_days: u32,
    panel: (usize, u32),
    gate: (usize, usize, f64),
    out: PathBuf,
    tiers: TierRule,
}

pub fn run(args: RunArgs, log: &Log) -> Result<()> {
    let started_at = Utc::now();
    let mut timings = BTreeMap::new();
    let mut clock = Instant::now();
    let mut lap = |name: &str, clock: &mut Instant| {
        timings.insert(name.to_string(), clock.elapsed().as_millis() as u64);
        *clock = Instant::now();
    };

    let s = settings(&args)?;
    let _lock = RunLock::acquire(&s.out)?;
    let inputs = Inputs::load(&s.input, log)?;
    let as_of = match &s.as_of {
        Some(text) => parse_as_of(text)?,
        None if args.config.is_some() => Utc::now().timestamp_millis().div_euclid(DAY_MS) * DAY_MS,
        None => (inputs.events.max_ts.div_euclid(DAY_MS) + 1) * DAY_MS,
    };
    log.info(format!("as of {}", format_date(as_of)));
    lap("load", &mut clock);

    let existing = if s.model.is_file() {
        Some(
            ChurnModel::load(&s.model)
                .with_context(|| format!("reading model {}", s.model.display()))?,
        )
    } else {
        None
    };
    let reason = retrain_reason(
        existing.as_ref(),
        &inputs.spec,
        as_of,
        s.max_age_days,
        args.retrain,
    );
    let model = match (existing, &reason) {
        (Some(model), None) => model,
        (_, reason) => {
            log.info(format!(
                "training a model as of {} ({})",
                format_date(as_of),
                reason.as_deref().unwrap_or("")
            ));
            let mut opts = TrainOptions::new(as_of, s.rule);
            (opts.panel_dates, opts.step_days) = s.panel;
            (opts.min_churned, opts.min_retained) = (s.gate.0, s.gate.1);
            let model = train(&inputs.sources(), &inputs.spec, &opts).context("training")?;
            model
                .save(&s.model)
                .with_context(|| format!("writing model {}", s.model.display()))?;
            if !log.quiet {
                eprint!("{}", training_summary(&model));
            }
            model
        }
    };
    lap("model", &mut clock);

    let scored = score(&inputs.sources(), &inputs.spec, &model, as_of)?;
    check_population(&model, scored.users.len(), s.gate.2)?;
    let rows = rank(&scored, &inputs.spec, inputs.users.as_ref(), &s.tiers)?;
    lap("score", &mut clock);
    let list = s.out.join("at_risk.csv");
    write_csv(&list, &rows, inputs.users.is_some())
        .with_context(|| format!("writing {}", list.display()))?;
    lap("write", &mut clock);

    let mut files = vec![FileEntry::new(
        "events",
        &s.input.events,
        Some(inputs.events.rows()),
    )?];
    if let (Some(p), Some(u)) = (&s.input.users, &inputs.users) {
        files.push(FileEntry::new("users", p, Some(u.df.height()))?);
    }
    if let (Some(p), Some(t)) = (&s.input.subscriptions, &inputs.subscriptions) {
        files.push(FileEntry::new("subscriptions", p, Some(t.df.height()))?);
    }
    files.push(FileEntry::new("features", &s.input.features, None)?);
    let count = |t: Tier| rows.iter().filter(|r| r.tier == t).count();
    let manifest = RunManifest {
        churnrisk_version: env!("CARGO_PKG_VERSION").into(),
        status: "ok".into(),
        started_at: started_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        finished_at: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        as_of: format_date(as_of),
        inputs: files,
        model: ModelUsed {
            path: s.model.display().to_string(),
            sha256: churnrisk::manifest::sha256_file(&s.model)?,
            trained_as_of: model.training.as_of.clone(),
            retrained: reason.is_some(),
            retrain_reason: reason,
            validation_roc_auc: model.validation.roc_auc,
            baseline_roc_auc: model.baseline.roc_auc,
        },
        scored_users: rows.len(),
        tiers: TierCounts {
            high: count(Tier::High),
            medium: count(Tier::Medium),
            low: count(Tier::Low),
        },
        outputs: vec![FileEntry::new("at_risk", &list, Some(rows.len()))?],
        timings_ms: timings,
    };
    let manifest_path = s.out.join("manifest.json");
    manifest
        .write(&manifest_path)
        .with_context(|| format!("writing {}", manifest_path.display()))?;
    print!("{}", ranked_summary(&rows, 10));
    log.info(format!("ranked list written to {}", list.display()));
    Ok(())
}

/// The run's settings: from `--config` when given, else from the flags (sample mode).
fn settings(args: &RunArgs) -> Result<Settings> {
    let Some(path) = &args.config else {
        return Ok(Settings {
            input: InputArgs {
                events: find_events(&args.data)?,
                users: Some(args.data.join("users.csv")).filter(|p| p.is_file()),
                subscriptions: None,
                features: args.features.clone(),
            },
            as_of: args.as_of.clone(),
            rule: LabelRule {
                definition: Definition::Inactivity,
                horizon_days: 28,
                active_days: 28,
                signal: Signal::ValueAction,
            },
            model: args.model.clone(),
            // The sample is fixed: its model never goes stale.
            max_age_days: u32::MAX,
            panel: (12, 7),
            gate: (50, 50, 0.1),
            out: args.out.clone(),
            tiers: TierRule::new(args.list.high, args.list.medium)?,
        });
    };
    let c = RunConfig::load(path)?;
    Ok(Settings {
        rule: LabelRule {
            definition: if c.inputs.subscriptions.is_some() {
                Definition::Subscription
            } else {
                Definition::Inactivity
            },
            horizon_days: c.labels.horizon_days,
            active_days: c.labels.active_days,
            signal: c.labels.churn_signal,
        },
        input: InputArgs {
            events: c.inputs.events,
            users: c.inputs.users,
            subscriptions: c.inputs.subscriptions,
            features: c.inputs.features,
        },
        as_of: args.as_of.clone().or(c.as_of),
        model: c.model.path,
        max_age_days: c.model.max_age_days,
        panel: (c.model.panel_dates, c.model.panel_step_days),
        gate: (
            c.model.min_churned,
            c.model.min_retained,
            c.model.min_population_share,
        ),
        out: c.output.dir,
        tiers: TierRule::new(c.output.high, c.output.medium)?,
    })
}

/// The events file in a data folder: events.parquet, events.csv.gz or events.csv.
fn find_events(dir: &Path) -> Result<PathBuf> {
    ["events.parquet", "events.csv.gz", "events.csv"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Error::MissingFile {
                path: dir.join("events.csv.gz"),
            }
            .into()
        })
}
