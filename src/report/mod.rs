//! The analyst's report: one self-contained HTML file (inline SVG, no network) and the
//! same figures as JSON.
//!
//! Sections: the model on its validation date (ROC and PR curves against the recency
//! baseline, calibration by decile, lift and cumulative gain, score histogram,
//! coefficients with their meaning, and the figures of a previous model when given);
//! drift between the model's training day and the as-of date; the at-risk population by
//! tier and play with the most frequent reasons; engagement (BRIEF §2) over a window
//! before the as-of date (28 days by default), by weekly signup cohort, with a retention
//! heatmap; and, given a
//! past list, whether its plays worked (treatment against control).

pub mod engagement;
pub mod html;
pub mod svg;
pub mod uplift;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::base::time::{format_date, DAY_MS};
use crate::error::{ConfigProblem, Error, ModelProblem, Result};
use crate::features::{self, FeatureSpec, RawRow};
use crate::labels::{self, Sources};
use crate::list::rank::{rank, RankedRow, TierRule};
use crate::model::artifact::ValidationPredictions;
use crate::model::curves::{curves, Curves};
use crate::model::drift::{Drift, Thresholds};
use crate::model::evaluate::{evaluate, CalibrationBin};
use crate::model::matrix::to_matrix;
use crate::model::score::FrameRow;
use crate::model::{score, ChurnModel, Metrics, Scored};
use crate::report::engagement::{engagement, Engagement};
use crate::report::uplift::Measurement;

/// One coefficient with its meaning.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Coefficient {
    pub feature: String,
    pub meaning: String,
    pub coefficient: f64,
}

/// The model section.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelSection {
    pub validation_date: String,
    pub trained_as_of: String,
    pub metrics: Metrics,
    pub baseline: Metrics,
    pub curves: Curves,
    pub baseline_curves: Curves,
    pub calibration: Vec<CalibrationBin>,
    /// True when the model file had no stored validation predictions and the curves come
    /// from the final model, which was also fitted on the validation date.
    pub in_sample_curves: bool,
    pub coefficients: Vec<Coefficient>,
    /// The previous model's stored validation figures, when one was given.
    pub previous: Option<Metrics>,
    /// The date those figures were measured on (its own validation date).
    pub previous_validation_date: Option<String>,
}

/// The at-risk population at the as-of date.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Population {
    pub scored: usize,
    pub by_tier: BTreeMap<String, usize>,
    /// Play → users on the list (tier medium or above).
    pub by_play: BTreeMap<String, usize>,
    /// Reason feature → users on the list it explains.
    pub top_reasons: Vec<(String, usize)>,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub churnrisk_version: String,
    pub as_of: String,
    pub model: ModelSection,
    pub drift: Option<Drift>,
    pub population: Population,
    pub engagement: Engagement,
    pub closed_loop: Option<Measurement>,
}

/// Builds the report at `as_of` for `model`.
pub fn build(
    src: &Sources,
    spec: &FeatureSpec,
    model: &ChurnModel,
    previous: Option<&ChurnModel>,
    as_of: i64,
    window_days: u32,
    closed_loop: Option<Measurement>,
) -> Result<Report> {
    let spec = &model.resolve(spec)?;
    let model_section = model_section(src, spec, model, previous)?;
    // Today: drift and the population.
    let scored = score(src, spec, model, as_of)?;
    let drift = scored.drift(model, Thresholds::default())?;
    let rows = rank(&scored, spec, src.users, &TierRule::default())?;
    let population = population(&rows, &scored);
    let start = as_of - i64::from(window_days.max(1)) * DAY_MS;
    let engagement = engagement(src.events, src.users, spec, start, as_of)?;
    Ok(Report {
        churnrisk_version: env!("CARGO_PKG_VERSION").into(),
        as_of: format_date(as_of),
        model: model_section,
        drift,
        population,
        engagement,
        closed_loop,
    })
}

/// The model on its validation date, `previous`'s figures beside it.
fn model_section(
    src: &Sources,
    spec: &FeatureSpec,
    model: &ChurnModel,
    previous: Option<&ChurnModel>,
) -> Result<ModelSection> {
    let (t0_text, t0) = validation_date(model)?;
    let (v, in_sample) = validation_predictions(src, spec, model, t0)?;
    Ok(ModelSection {
        validation_date: t0_text,
        trained_as_of: model.training.as_of.clone(),
        calibration: evaluate(&v.model, &v.churned).calibration,
        metrics: model.validation.clone(),
        baseline: model.baseline.clone(),
        curves: curves(&v.model, &v.churned, 20),
        baseline_curves: curves(&v.baseline, &v.churned, 20),
        in_sample_curves: in_sample,
        coefficients: coefficients(model),
        previous: previous.map(|m| m.validation.clone()),
        previous_validation_date: previous
            .map(validation_date)
            .transpose()?
            .map(|(text, _)| text),
    })
}

/// The model's validation date, as written in its panel and in ms.
fn validation_date(model: &ChurnModel) -> Result<(String, i64)> {
    let t0_text = model
        .training
        .panel
        .iter()
        .find(|d| d.role == "validation")
        .map(|d| d.as_of.clone())
        .ok_or_else(|| Error::BadModel {
            path: "model".into(),
            problem: ModelProblem::NoValidationDate,
        })?;
    let t0 = crate::base::time::parse_date(&t0_text).ok_or_else(|| Error::BadModel {
        path: "model".into(),
        problem: ModelProblem::ValidationDate {
            value: t0_text.clone(),
        },
    })?;
    Ok((t0_text, t0))
}

/// Predictions on the validation date for the curves, and whether they are in-sample:
/// the out-of-sample ones the model file keeps; an older file without them gets the final
/// model's (also fitted on that date), rebuilt here: population, features, labels,
/// probabilities at `t0`, the baseline rescaled onto [0, 1].
fn validation_predictions(
    src: &Sources,
    spec: &FeatureSpec,
    model: &ChurnModel,
    t0: i64,
) -> Result<(ValidationPredictions, bool)> {
    if let Some(v) = &model.validation_predictions {
        return Ok((v.clone(), false));
    }
    let prepared = features::prepare(src.events, spec)?;
    let src = &src.with_index(&prepared);
    let pop = labels::population(src, &model.label, t0)?;
    let ff = features::compute(&prepared, &pop, t0, spec, &model.event_types)?;
    let z = model.standardize(&to_matrix(&ff.df, &ff.defs)?);
    let p: Vec<f64> = z.rows().into_iter().map(|r| model.probability(r)).collect();
    let y = labels::labels(src, &model.label, &spec.file.events.value, &pop, t0)?;
    let columns = FrameRow::columns(&ff)?;
    let raw: Vec<f64> = (0..ff.df.height())
        .map(|i| FrameRow::new(&columns, i).get(crate::model::train::BASELINE_FEATURE))
        .collect();
    let rebuilt = ValidationPredictions {
        churned: y,
        model: p,
        baseline: rescale(&raw),
    };
    Ok((rebuilt, true))
}

/// The model's coefficients with their meanings, the largest in size first.
fn coefficients(model: &ChurnModel) -> Vec<Coefficient> {
    let mut coefficients: Vec<Coefficient> = model
        .features
        .iter()
        .map(|f| Coefficient {
            feature: f.name.clone(),
            meaning: f.meaning.clone(),
            coefficient: f.coefficient,
        })
        .collect();
    coefficients.sort_by(|a, b| {
        b.coefficient
            .abs()
            .total_cmp(&a.coefficient.abs())
            .then(a.feature.cmp(&b.feature))
    });
    coefficients
}

/// The ranked population by tier and by play, and the reasons most often given to the
/// users on the list (tier medium or above).
fn population(rows: &[RankedRow], scored: &Scored) -> Population {
    let mut by_tier = BTreeMap::new();
    let mut by_play = BTreeMap::new();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for r in rows {
        *by_tier.entry(r.tier.label().to_string()).or_insert(0) += 1;
        if r.tier.at_least(crate::list::rank::Tier::Medium) {
            *by_play.entry(r.play.label().to_string()).or_insert(0) += 1;
        }
    }
    let listed: std::collections::HashSet<&str> = rows
        .iter()
        .filter(|r| r.tier.at_least(crate::list::rank::Tier::Medium))
        .map(|r| r.user_id.as_str())
        .collect();
    for u in &scored.users {
        if listed.contains(u.user_id.as_str()) {
            for reason in &u.reasons {
                *reasons.entry(reason.feature.clone()).or_insert(0) += 1;
            }
        }
    }
    let mut top_reasons: Vec<(String, usize)> = reasons.into_iter().collect();
    top_reasons.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    top_reasons.truncate(10);
    Population {
        scored: rows.len(),
        by_tier,
        by_play,
        top_reasons,
    }
}

/// Maps scores onto [0, 1] by rank order kept (for the histogram of a raw baseline).
fn rescale(v: &[f64]) -> Vec<f64> {
    let (lo, hi) = v
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &x| {
            (l.min(x), h.max(x))
        });
    v.iter()
        .map(|&x| if hi > lo { (x - lo) / (hi - lo) } else { 0.5 })
        .collect()
}

/// The log's `user_id`, `ts` and `event` where `keep` holds, by user, then time.
fn sorted_log(
    events: &crate::ingest::Events,
    keep: polars::prelude::Expr,
) -> Result<polars::prelude::DataFrame> {
    use polars::prelude::*;
    Ok(events
        .df
        .clone()
        .lazy()
        .filter(keep)
        .select([col("user_id"), col("ts"), col("event")])
        .sort(["user_id", "ts"], SortMultipleOptions::default())
        .collect()?)
}

/// Reads a past list's users on the list with their play and arm (`group` column).
pub fn read_past_list(path: &std::path::Path) -> Result<(i64, Vec<crate::report::uplift::Listed>)> {
    let bad = |problem: ConfigProblem| Error::Config {
        path: path.into(),
        problem,
    };
    let syntax = |e: &dyn std::fmt::Display| {
        bad(ConfigProblem::Unreadable {
            message: e.to_string(),
        })
    };
    let (mut r, header) = crate::base::csv_cells::read_with_header(path).map_err(|e| syntax(&e))?;
    let at = |name: &str| {
        crate::base::csv_cells::column_index(&header, name).ok_or_else(|| {
            bad(ConfigProblem::NoColumn {
                column: name.into(),
                expected: ": not a churnrisk list",
            })
        })
    };
    let (id, as_of, status, play, group) = (
        at("user_id")?,
        at("as_of")?,
        at("status")?,
        at("recommended_play")?,
        at("group")?,
    );
    let mut date = None;
    let mut out = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| syntax(&e))?;
        date = date.or_else(|| crate::base::time::parse_date(&rec[as_of]));
        if !matches!(&rec[status], "new" | "still_at_risk") {
            continue;
        }
        out.push(crate::report::uplift::Listed {
            user_id: rec[id].trim_start_matches('\'').to_string(),
            play: rec[play].to_string(),
            control: &rec[group] == "control",
        });
    }
    let date = date.ok_or_else(|| bad(ConfigProblem::EmptyList))?;
    Ok((date, out))
}
