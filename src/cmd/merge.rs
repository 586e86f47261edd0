//! `churnrisk merge`: the part files of `score --shard i/n` workers → the ranked list one
//! unsharded `score` writes (same order, tiers, groups and bytes).

use anyhow::Result;

use churnrisk::list::rank::order;
use churnrisk::list::shards::read_parts;

use crate::cli::MergeArgs;

pub fn run(args: MergeArgs) -> Result<()> {
    super::check_list_path(&args.out)?;
    let (tiers, view) = super::list_from(&args.list)?;
    let (header, mut rows) = read_parts(&args.parts).map_err(super::flags::reading_parts)?;
    tracing::info!(
        "merging {} parts: {} users as of {}",
        header.shard_count,
        rows.len(),
        header.as_of
    );
    order(&mut rows, &tiers);
    // The CRM columns travel in the parts: no users table is needed here.
    super::write_ranked(rows, &view, &args.out, header.with_crm, &header.as_of)
}
