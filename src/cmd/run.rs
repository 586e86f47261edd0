//! `churnrisk run`: the whole night on one folder of data — load, train when the model is
//! missing, does not match the features, or `--retrain` is given; score; write the list.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use churnrisk::error::Error;
use churnrisk::ingest::{format_date, parse_as_of, DAY_MS};
use churnrisk::labels::{Definition, LabelRule, Signal};
use churnrisk::model::{score, train, ChurnModel, TrainOptions};
use churnrisk::output::{rank, write_csv, TierRule};
use churnrisk::report::{ranked_summary, training_summary};

use super::{Inputs, Log};
use crate::cli::{InputArgs, RunArgs};

pub fn run(args: RunArgs, log: &Log) -> Result<()> {
    let tiers = TierRule::new(args.list.high, args.list.medium)?;
    let input = InputArgs {
        events: find_events(&args.data)?,
        users: Some(args.data.join("users.csv")).filter(|p| p.is_file()),
        subscriptions: None,
        features: args.features.clone(),
    };
    let inputs = Inputs::load(&input, log)?;
    let as_of = match &args.as_of {
        Some(text) => parse_as_of(text)?,
        None => (inputs.events.max_ts.div_euclid(DAY_MS) + 1) * DAY_MS,
    };
    log.info(format!("as of {}", format_date(as_of)));

    let existing = if args.retrain || !args.model.is_file() {
        None
    } else {
        let model = ChurnModel::load(&args.model)
            .with_context(|| format!("reading model {}", args.model.display()))?;
        model
            .check_compatible(&inputs.spec)
            .is_ok()
            .then_some(model)
    };
    let model = match existing {
        Some(model) => model,
        None => {
            log.info(format!("training a model as of {}", format_date(as_of)));
            let rule = LabelRule {
                definition: Definition::Inactivity,
                horizon_days: 28,
                active_days: 28,
                signal: Signal::ValueAction,
            };
            let model = train(
                &inputs.sources(),
                &inputs.spec,
                &TrainOptions::new(as_of, rule),
            )
            .context("training")?;
            model
                .save(&args.model)
                .with_context(|| format!("writing model {}", args.model.display()))?;
            if !log.quiet {
                eprint!("{}", training_summary(&model));
            }
            model
        }
    };

    let scored = score(&inputs.sources(), &inputs.spec, &model, as_of)?;
    let rows = rank(&scored, &inputs.spec, inputs.users.as_ref(), &tiers)?;
    let out = args.out.join("at_risk.csv");
    write_csv(&out, &rows, inputs.users.is_some())
        .with_context(|| format!("writing {}", out.display()))?;
    print!("{}", ranked_summary(&rows, 10));
    log.info(format!("ranked list written to {}", out.display()));
    Ok(())
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
