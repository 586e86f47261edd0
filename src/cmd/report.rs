//! `churnrisk report`: load → rebuild the validation date → today's drift, population and
//! engagement → (a past list's closed loop) → report.html and report.json.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result};

use churnrisk::base::files::write_atomic;
use churnrisk::base::time::parse_timestamp;
use churnrisk::error::{ConfigProblem, Error};
use churnrisk::model::ChurnModel;
use churnrisk::report::html::render_html;
use churnrisk::report::uplift::{measure, Windows};
use churnrisk::report::{build, read_past_list};

use super::{policy_from, settle_rejects, Inputs};
use crate::cli::ReportArgs;

pub fn run(args: ReportArgs) -> Result<()> {
    let model = ChurnModel::load(&args.model).with_context(|| {
        // The default is the shipped sample's model, in the repository's folder.
        let default = args.model == Path::new(churnrisk::run::config::SAMPLE_MODEL_PATH);
        format!(
            "reading model {}{}",
            args.model.display(),
            if default {
                " (the default, the shipped sample's; give the model to report on with --model)"
            } else {
                ""
            }
        )
    })?;
    let previous = args
        .previous_model
        .as_deref()
        .map(|p| ChurnModel::load(p).with_context(|| format!("reading model {}", p.display())))
        .transpose()?;
    let policy = policy_from(&args.input.validation)?;
    let inputs = Inputs::load(&args.input, &policy)?;
    settle_rejects(&inputs, &args.input, &policy)?;
    let as_of = super::as_of_or_after_log("--as-of", args.as_of.as_deref(), &inputs.events)?;
    let closed_loop = match &args.list {
        None => None,
        Some(list) => {
            let (list_as_of, listed) = read_past_list(list)?;
            let contacts = args.contacts.as_deref().map(read_contacts).transpose()?;
            Some(measure(
                &listed,
                list_as_of,
                &inputs.events,
                &inputs.spec.file.events.value,
                contacts.as_ref(),
                Windows::default(),
            )?)
        }
    };
    let step = super::logging::step("building the report");
    let report = build(
        &inputs.sources(),
        &inputs.spec,
        &model,
        previous.as_ref(),
        as_of,
        args.window_days,
        closed_loop,
    )
    .context("building the report")?;
    step.finish_and_clear();
    let html = render_html(&report);
    write_atomic(&args.out, html.as_bytes())
        .with_context(|| format!("writing {}", args.out.display()))?;
    let json_path = args.out.with_extension("json");
    let mut json = serde_json::to_string_pretty(&report)?;
    json.push('\n');
    write_atomic(&json_path, json.as_bytes())
        .with_context(|| format!("writing {}", json_path.display()))?;
    if !super::logging::is_quiet() {
        crate::cmd::sayln!(
            "report written to {} ({} KB) and {}",
            args.out.display(),
            html.len() / 1024,
            json_path.display()
        )?;
    }
    Ok(())
}

/// Reads `user_id, contacted_at[, play]`: the first contact per user counts.
fn read_contacts(path: &Path) -> Result<HashMap<String, i64>> {
    let bad = |problem: ConfigProblem| Error::Config {
        path: path.into(),
        problem,
    };
    let syntax = |e: &dyn std::fmt::Display| {
        bad(ConfigProblem::Unreadable {
            message: e.to_string(),
        })
    };
    let (mut r, header) =
        churnrisk::base::csv_cells::read_with_header(path).map_err(|e| syntax(&e))?;
    let at = |n: &str| {
        churnrisk::base::csv_cells::column_index(&header, n).ok_or_else(|| {
            bad(ConfigProblem::NoColumn {
                column: n.into(),
                expected: " (expected user_id, contacted_at)",
            })
        })
    };
    let (id, when) = (at("user_id")?, at("contacted_at")?);
    let mut out: HashMap<String, i64> = HashMap::new();
    for (i, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| syntax(&e))?;
        let t = parse_timestamp(&rec[when]).ok_or_else(|| {
            bad(ConfigProblem::ContactedAt {
                row: i + 1,
                value: rec[when].to_string(),
            })
        })?;
        let e = out.entry(rec[id].to_string()).or_insert(t);
        *e = (*e).min(t);
    }
    Ok(out)
}
