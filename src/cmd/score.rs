//! `churnrisk score`: load → score the population at T → rank → write the CSV → summary.

use anyhow::{Context, Result};

use churnrisk::base::time::format_date;
use churnrisk::features::prepare_owned;
use churnrisk::list::rank::{empty_list_note, rank, Tier};
use churnrisk::list::shards::{write_part, PartHeader};
use churnrisk::model::{score_prepared, ChurnModel};

use super::{policy_from, settle_rejects, Inputs};
use crate::cli::ScoreArgs;

pub fn run(args: ScoreArgs) -> Result<()> {
    let as_of = super::date_arg("--as-of", &args.as_of)?;
    if args.input.shard.is_some() && !has_extension(&args.out, "jsonl") {
        return Err(churnrisk::error::Error::InvalidArgument {
            name: "--out".into(),
            message: format!(
                "{}: a shard writes a part file for `churnrisk merge`; name it .jsonl",
                args.out.display()
            ),
        }
        .into());
    }
    if args.input.shard.is_none() {
        super::check_list_path(&args.out)?;
    }
    let (tiers, view) = super::list_from(&args.list)?;
    let model = ChurnModel::load(&args.model)
        .with_context(|| format!("reading model {}", args.model.display()))?;
    let policy = policy_from(&args.input.validation)?;
    let mut inputs = Inputs::load(&args.input, &policy)?;
    settle_rejects(&inputs, &args.input, &policy)?;
    tracing::debug!("inputs read and checked");
    let scoring = || format!("scoring with {}", args.model.display());
    let spec = model.resolve(&inputs.spec).with_context(scoring)?;
    // Nothing reads the log's rows after the features' index: it takes them, freeing each
    // column as it is read, so the log and its index never fill memory side by side.
    let rows = inputs.events.take_rows();
    let prepared = prepare_owned(rows, &inputs.spec).with_context(scoring)?;
    let scored = score_prepared(&inputs.sources(), &prepared, &inputs.spec, &model, as_of)
        .with_context(scoring)?;
    drop(prepared);
    tracing::debug!("scored");
    let rows = rank(&scored, &spec, inputs.users.as_ref(), &tiers)?;
    tracing::debug!("ranked");
    if let Some(shard) = args.input.shard {
        // A shard's part is not the list: `merge` sees the whole.
        return write_shard_part(&args, &inputs, shard, &format_date(as_of), &rows);
    }
    if let Some(note) = empty_list_note(&rows, Tier::Medium, &tiers) {
        tracing::warn!("{note}");
    }
    super::write_ranked(
        rows,
        &view,
        &args.out,
        inputs.users.is_some(),
        &format_date(as_of),
    )
}

fn has_extension(path: &std::path::Path, ext: &str) -> bool {
    path.extension()
        .is_some_and(|e| e.to_string_lossy().eq_ignore_ascii_case(ext))
}

/// A shard's scored users, unranked, for `churnrisk merge`.
fn write_shard_part(
    args: &ScoreArgs,
    inputs: &super::Inputs,
    shard: churnrisk::ingest::Shard,
    as_of: &str,
    rows: &[churnrisk::list::rank::RankedRow],
) -> Result<()> {
    use churnrisk::base::files::sha256_file;
    let header = PartHeader {
        format: String::new(),
        shard_index: shard.index,
        shard_count: shard.count,
        as_of: as_of.to_string(),
        model_sha256: sha256_file(&args.model)?,
        features_sha256: sha256_file(&args.input.features)?,
        with_crm: inputs.users.is_some(),
        users: rows.len(),
    };
    write_part(&args.out, shard, header, rows)
        .with_context(|| format!("writing {}", args.out.display()))?;
    tracing::info!(
        "shard {shard}: {} users scored, part written to {}",
        rows.len(),
        args.out.display()
    );
    Ok(())
}
