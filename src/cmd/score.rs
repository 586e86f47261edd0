//! `churnrisk score`: load → score the population at T → rank → write the CSV → summary.

use anyhow::{Context, Result};

use churnrisk::history::compare;
use churnrisk::ingest::{format_date, parse_as_of};
use churnrisk::model::{score, ChurnModel};
use churnrisk::output::{
    assign_groups, crm_lookup, rank, write_csv, write_jsonl, write_parquet, Tier,
};
use churnrisk::report::ranked_summary;

use super::{policy_from, settle_rejects, Inputs};
use crate::cli::ScoreArgs;

pub fn run(args: ScoreArgs) -> Result<()> {
    let as_of = parse_as_of(&args.as_of)?;
    let (tiers, view) = super::list_from(&args.list)?;
    let model = ChurnModel::load(&args.model)
        .with_context(|| format!("reading model {}", args.model.display()))?;
    let policy = policy_from(&args.input.validation)?;
    let inputs = Inputs::load(&args.input, &policy)?;
    settle_rejects(&inputs, &args.input, &policy)?;
    let scored = score(&inputs.sources(), &inputs.spec, &model, as_of)
        .with_context(|| format!("scoring with {}", args.model.display()))?;
    let mut rows = rank(&scored, &inputs.spec, inputs.users.as_ref(), &tiers)?;
    assign_groups(&mut rows, &churnrisk::experiment::Split::default());
    // No previous list here: every user on the list is new.
    let as_of_text = format_date(as_of);
    let crm = crm_lookup(inputs.users.as_ref())?;
    compare(&mut rows, None, &as_of_text, Tier::Medium, &crm);
    let selected = view.select(&rows);
    let ext = args
        .out
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let written = match ext.as_str() {
        "jsonl" => write_jsonl(&args.out, &selected, &as_of_text),
        "parquet" => write_parquet(&args.out, &selected, &as_of_text),
        _ => write_csv(&args.out, &selected, inputs.users.is_some(), &as_of_text),
    };
    written.with_context(|| format!("writing {}", args.out.display()))?;
    print!("{}", ranked_summary(&rows, 10));
    tracing::info!("ranked list written to {}", args.out.display());
    Ok(())
}
