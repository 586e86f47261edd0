//! `churnrisk compare`: two models side by side on the same labelled date, so an analyst
//! can decide which to promote.

use anyhow::{Context, Result};

use churnrisk::base::time::{format_date, DAY_MS};
use churnrisk::error::{Error, ModelProblem};
use churnrisk::features;
use churnrisk::features::FeatureSpec;
use churnrisk::labels;
use churnrisk::model::evaluate::evaluate;
use churnrisk::model::matrix::to_matrix;
use churnrisk::model::{ChurnModel, Metrics};

use super::{policy_from, settle_rejects, Inputs};
use crate::cli::CompareArgs;

/// Paired bootstrap resamples behind the difference's interval.
const BOOTSTRAP_RESAMPLES: usize = 1000;

pub fn run(args: CompareArgs) -> Result<()> {
    let load = |p: &std::path::Path| {
        ChurnModel::load(p).with_context(|| format!("reading model {}", p.display()))
    };
    let (a, b) = (load(&args.model)?, load(&args.against)?);
    if a.label != b.label {
        return Err(Error::InvalidArgument {
            name: "--against".into(),
            message: "the two models define churn differently (label rule); compare models of one definition".into(),
        }
        .into());
    }
    let policy = policy_from(&args.input.validation)?;
    let inputs = Inputs::load(&args.input, &policy)?;
    settle_rejects(&inputs, &args.input, &policy)?;
    let as_of = super::as_of_or_after_log("--as-of", args.as_of.as_deref(), &inputs.events)?;
    // The latest date whose churn horizon has fully passed (and, under the subscription
    // definition, the renewal gap after it): train's latest labelled date.
    let t = as_of - a.label.settle_days() * DAY_MS;
    let prepared = features::prepare(&inputs.events, &inputs.spec)?;
    let src = inputs.sources().with_index(&prepared);
    let pop = labels::population(&src, &a.label, t)?;
    // Churn is judged by the value actions of the definitions given (`--features`), for
    // both models alike.
    let y = labels::labels(&src, &a.label, &inputs.spec.file.events.value, &pop, t)?;
    // A model trained with other definitions (last month's, before a release renamed an
    // event) computes its features with the ones it stores, as it was trained.
    let evaluate_model = |m: &ChurnModel, path: &std::path::Path| -> Result<(Metrics, Vec<f64>)> {
        let own;
        let (spec, prepared) = if m.feature_fingerprint == inputs.spec.fingerprint {
            (m.resolve(&inputs.spec)?, &prepared)
        } else {
            let stored = FeatureSpec::from_file(m.feature_definitions.clone(), path)?;
            crate::cmd::sayln!(
                "{}: features computed with the definitions stored in it (they differ from {})",
                path.display(),
                inputs.spec.path.display()
            )?;
            own = features::prepare(&inputs.events, &stored)?;
            (m.resolve(&stored)?, &own)
        };
        let ff = features::compute(prepared, &pop, t, &spec, &m.event_types)?;
        let z = m.standardize(&to_matrix(&ff.df, &ff.defs)?);
        let p: Vec<f64> = z.rows().into_iter().map(|r| m.probability(r)).collect();
        Ok((evaluate(&p, &y), p))
    };
    let ((ma, pa), (mb, pb)) = (
        evaluate_model(&a, &args.model)?,
        evaluate_model(&b, &args.against)?,
    );
    let [auc_ci, brier_ci] =
        churnrisk::model::evaluate::paired_intervals(&pa, &pb, &y, BOOTSTRAP_RESAMPLES);
    crate::cmd::sayln!(
        "labelled date {} ({} users, {} churned)",
        format_date(t),
        ma.rows,
        ma.churned
    )?;
    crate::cmd::sayln!(
        "  {:<22} {:>10} {:>10} {:>10}",
        "metric",
        "model",
        "against",
        "difference"
    )?;
    for (name, f) in churnrisk::model::evaluate::HEADLINE {
        crate::cmd::sayln!(
            "  {:<22} {:>10.4} {:>10.4} {:>+10.4}",
            name,
            f(&ma),
            f(&mb),
            f(&ma) - f(&mb)
        )?;
    }
    crate::cmd::sayln!(
        "  difference, 95% interval ({BOOTSTRAP_RESAMPLES} paired resamples of the users): ROC AUC [{:+.4}, {:+.4}], Brier [{:+.4}, {:+.4}]{}",
        auc_ci.0,
        auc_ci.1,
        brier_ci.0,
        brier_ci.1,
        if auc_ci.0 <= 0.0 && auc_ci.1 >= 0.0 && brier_ci.0 <= 0.0 && brier_ci.1 >= 0.0 {
            ": both hold 0, so the two are level on this date"
        } else {
            ""
        }
    )?;
    for (name, m) in [("model", &a), ("against", &b)] {
        // A model trained as of T saw every labelled date up to T − horizon (− the renewal
        // gap under the subscription definition).
        let trained = churnrisk::base::time::parse_date(&m.training.as_of).ok_or_else(|| {
            Error::BadModel {
                path: name.into(),
                problem: ModelProblem::TrainingDate {
                    value: m.training.as_of.clone(),
                },
            }
        })?;
        if t <= trained - m.label.settle_days() * DAY_MS {
            crate::cmd::sayln!(
                "  note: the --{name} model (trained as of {}) was fitted on this date too: its figures are in-sample",
                m.training.as_of
            )?;
        }
    }
    if let Some(out) = &args.out {
        let json = serde_json::json!({
            "labelled_date": format_date(t),
            "difference_95": {"roc_auc": [auc_ci.0, auc_ci.1], "brier": [brier_ci.0, brier_ci.1],
                "resamples": BOOTSTRAP_RESAMPLES},
            "model": {"path": args.model.display().to_string(), "metrics": ma},
            "against": {"path": args.against.display().to_string(), "metrics": mb},
        });
        churnrisk::base::files::write_atomic(
            out,
            format!("{}\n", serde_json::to_string_pretty(&json)?).as_bytes(),
        )
        .with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(())
}
