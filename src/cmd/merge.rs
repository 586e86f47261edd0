//! `churnrisk merge`: the part files of `score --shard i/n` workers → the ranked list one
//! unsharded `score` writes (same order, tiers, groups and bytes).

use anyhow::{Context, Result};

use churnrisk::history::compare;
use churnrisk::output::{assign_groups, order, write_list, Tier};
use churnrisk::report::ranked_summary;
use churnrisk::shards::read_parts;

use crate::cli::MergeArgs;

pub fn run(args: MergeArgs) -> Result<()> {
    let (tiers, view) = super::list_from(&args.list)?;
    let (header, mut rows) = read_parts(&args.parts)?;
    tracing::info!(
        "merging {} parts: {} users as of {}",
        header.shard_count,
        rows.len(),
        header.as_of
    );
    order(&mut rows, &tiers);
    assign_groups(&mut rows, &churnrisk::experiment::Split::default());
    // As in `score`: no previous list, every user on the list is new. The CRM columns
    // travel in the parts, so no users table is needed here.
    compare(
        &mut rows,
        None,
        &header.as_of,
        Tier::Medium,
        &Default::default(),
    );
    let selected = view.select(&rows);
    let written = write_list(&args.out, &selected, header.with_crm, &header.as_of);
    written.with_context(|| format!("writing {}", args.out.display()))?;
    if !super::logging::is_quiet() {
        print!("{}", ranked_summary(&rows, 10));
    }
    tracing::info!("ranked list written to {}", args.out.display());
    Ok(())
}
