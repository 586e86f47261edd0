//! `churnrisk score`: load → score the population at T → rank → write the CSV → summary.

use anyhow::{Context, Result};

use churnrisk::ingest::parse_as_of;
use churnrisk::model::{score, ChurnModel};
use churnrisk::output::{rank, write_csv, TierRule};
use churnrisk::report::ranked_summary;

use super::{policy_from, settle_rejects, Inputs};
use crate::cli::ScoreArgs;

pub fn run(args: ScoreArgs) -> Result<()> {
    let as_of = parse_as_of(&args.as_of)?;
    let tiers = TierRule::new(args.list.high, args.list.medium)?;
    let model = ChurnModel::load(&args.model)
        .with_context(|| format!("reading model {}", args.model.display()))?;
    let policy = policy_from(&args.input.validation)?;
    let inputs = Inputs::load(&args.input, &policy)?;
    settle_rejects(&inputs, &args.input, &policy)?;
    let scored = score(&inputs.sources(), &inputs.spec, &model, as_of)
        .with_context(|| format!("scoring with {}", args.model.display()))?;
    let rows = rank(&scored, &inputs.spec, inputs.users.as_ref(), &tiers)?;
    write_csv(&args.out, &rows, inputs.users.is_some())
        .with_context(|| format!("writing {}", args.out.display()))?;
    print!("{}", ranked_summary(&rows, 10));
    tracing::info!("ranked list written to {}", args.out.display());
    Ok(())
}
