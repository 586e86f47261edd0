//! `churnrisk train`: load → check → train on the panel → save the model → print the
//! evaluation.

use anyhow::{Context, Result};

use churnrisk::base::time::week_start;
use churnrisk::list::summary::training_summary;
use churnrisk::model::{train, TrainOptions};

use super::{label_rule, policy_from, settle_rejects, Inputs};
use crate::cli::TrainArgs;

pub fn run(args: TrainArgs) -> Result<()> {
    let as_of = super::date_arg("--as-of", &args.as_of)?;
    let policy = policy_from(&args.input.validation)?;
    let inputs = Inputs::load(&args.input, &policy)?;
    settle_rejects(&inputs, &args.input, &policy)?;
    let mut opts = TrainOptions::new(
        as_of,
        label_rule(&args.labels, inputs.subscriptions.is_some()),
    );
    opts.panel_dates = args.panel_dates;
    opts.step_days = args.panel_step_days;
    opts.min_churned = args.min_churned;
    opts.min_retained = args.min_retained;
    if !args.alphas.is_empty() {
        opts.alphas = args.alphas.clone();
    }
    opts.cohorts.since = args
        .since
        .as_deref()
        .map(|t| super::date_arg("--since", t))
        .transpose()?;
    for c in &args.cohorts {
        let t = super::date_arg("--cohort", c)?;
        if week_start(t) != t {
            return Err(churnrisk::error::Error::InvalidArgument {
                name: "--cohort".into(),
                message: format!("{c} is not a Monday: cohorts are the weeks starting on Mondays"),
            }
            .into());
        }
        opts.cohorts.weeks.push(t);
    }
    if !opts.cohorts.is_all() && inputs.users.is_none() {
        return Err(churnrisk::error::Error::InvalidArgument {
            name: "--since/--cohort".into(),
            message: "cohorts come from signup times: pass --users with signup_at".into(),
        }
        .into());
    }
    let step = super::logging::step("training");
    let model = train(&inputs.sources(), &inputs.spec, &opts)
        .map_err(super::flags::training)
        .context("training")?;
    step.finish_and_clear();
    model
        .save(&args.model)
        .with_context(|| format!("writing model {}", args.model.display()))?;
    if !super::logging::is_quiet() {
        crate::cmd::say!("{}", training_summary(&model))?;
    }
    tracing::info!("model written to {}", args.model.display());
    Ok(())
}
