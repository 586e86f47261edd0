//! Scoring: features of the population at T → probabilities, per-feature contributions and
//! the top reasons in plain words. Writes nothing; ranking and files are `output`'s job.

use std::collections::HashMap;

use rayon::prelude::*;

use super::artifact::ChurnModel;
use super::drift::{Drift, Thresholds};
use super::matrix::to_matrix;
use crate::error::{Error, Result};
use crate::features::catalog::FeatureId;
use crate::features::{self, FeatureFrame, FeatureSpec, Prepared, RawRow, Transform, AUX_COLUMNS};
use crate::labels::{self, Sources};

/// The most reasons listed per user.
pub const MAX_REASONS: usize = 3;

/// A contribution (log-odds) below this is too small to call a reason.
pub const MIN_REASON_CONTRIBUTION: f64 = 0.05;

/// One feature pushing a user's risk up.
#[derive(Debug, Clone, PartialEq)]
pub struct Reason {
    pub feature: String,
    /// `coefficient × standardized value`, in log-odds.
    pub contribution: f64,
    pub text: String,
}

/// One scored user.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredUser {
    pub user_id: String,
    pub probability: f64,
    /// Largest positive contributions first, at most [`MAX_REASONS`].
    pub reasons: Vec<Reason>,
    /// Row of this user in [`Scored::features`].
    pub row: usize,
}

/// The scored population with the feature frame behind it.
pub struct Scored {
    pub users: Vec<ScoredUser>,
    pub features: FeatureFrame,
}

/// The `f64` columns of a feature frame by feature, built once and shared by every row: a
/// row's figure is a hash lookup and an offset (a list of 30k users reads several
/// hundred thousand figures for its reasons, plays and figure columns).
pub struct FrameColumns<'a> {
    by_id: HashMap<FeatureId, usize>,
    /// The model's features by name.
    by_name: HashMap<String, usize>,
    values: Vec<std::borrow::Cow<'a, [f64]>>,
}

/// Raw figures of one row of a feature frame.
pub struct FrameRow<'a> {
    columns: &'a FrameColumns<'a>,
    row: usize,
}

impl<'a> FrameRow<'a> {
    /// The columns of `ff`'s features and raw figures (an empty cell reads as 0). A
    /// feature of its catalog without its column is an error.
    pub fn columns(ff: &'a FeatureFrame) -> Result<FrameColumns<'a>> {
        let ids = ff
            .defs
            .iter()
            .map(|d| (d.id, d.name.as_str()))
            .chain(AUX_COLUMNS.map(|c| (FeatureId::Core(c), c.name())));
        let mut by_id = HashMap::new();
        let mut by_name = HashMap::new();
        let mut values = Vec::new();
        for (id, name) in ids {
            let ca =
                ff.df
                    .column(name)
                    .and_then(|c| c.f64())
                    .map_err(|_| Error::NoFeatureColumn {
                        column: name.to_string(),
                    })?;
            let v = match ca.cont_slice() {
                Ok(v) => std::borrow::Cow::Borrowed(v),
                Err(_) => ca.iter().map(|v| v.unwrap_or(0.0)).collect(),
            };
            by_id.insert(id, values.len());
            by_name.insert(name.to_string(), values.len());
            values.push(v);
        }
        Ok(FrameColumns {
            by_id,
            by_name,
            values,
        })
    }

    pub fn new(columns: &'a FrameColumns<'a>, row: usize) -> Self {
        FrameRow { columns, row }
    }
}

impl RawRow for FrameRow<'_> {
    fn value(&self, id: FeatureId) -> f64 {
        self.columns
            .by_id
            .get(&id)
            .and_then(|&k| self.columns.values[k].get(self.row))
            .copied()
            .unwrap_or(0.0)
    }

    fn named(&self, name: &str) -> Option<f64> {
        let &k = self.columns.by_name.get(name)?;
        Some(self.columns.values[k].get(self.row).copied().unwrap_or(0.0))
    }
}

impl Scored {
    /// Drift of this population from the model's validation date; `None` for a model
    /// file without a reference (written before drift was measured).
    pub fn drift(&self, model: &ChurnModel, thresholds: Thresholds) -> Result<Option<Drift>> {
        let Some(reference) = &model.drift_reference else {
            return Ok(None);
        };
        let x = to_matrix(&self.features.df, &self.features.defs)?;
        let scores: Vec<f64> = self.users.iter().map(|u| u.probability).collect();
        Ok(Some(reference.measure(&x, &scores, thresholds)))
    }
}

/// Scores the population at `as_of` with `model`.
pub fn score(src: &Sources, spec: &FeatureSpec, model: &ChurnModel, as_of: i64) -> Result<Scored> {
    model.check_compatible(spec)?;
    let prepared = features::prepare(src.events, spec)?;
    score_prepared(src, &prepared, spec, model, as_of)
}

/// As [`score`], with the log already regrouped by user (`prepared`, made from
/// `src.events` with `spec`): the log's rows themselves are then not read.
pub fn score_prepared(
    src: &Sources,
    prepared: &Prepared,
    spec: &FeatureSpec,
    model: &ChurnModel,
    as_of: i64,
) -> Result<Scored> {
    super::train::check_log_reaches(src.events, as_of)?;
    // The model's windows and cadence, not the file's defaults.
    let spec = &model.resolve(spec)?;
    if let Some(subs) = src.subscriptions {
        model.check_subscription_fields(subs)?;
    }
    let clock = std::time::Instant::now();
    let src = &src.with_index(prepared);
    let pop = labels::population(src, &model.label, as_of)?;
    tracing::debug!("population of {} by {:?}", pop.height(), clock.elapsed());
    let ff = features::compute(prepared, &pop, as_of, spec, &model.event_types)?;
    tracing::debug!("features by {:?}", clock.elapsed());
    model.check_features(&ff.defs)?;
    let z = model.standardize(&to_matrix(&ff.df, &ff.defs)?);
    let ids = ff.df.column("user_id")?.str()?;
    let columns = FrameRow::columns(&ff)?;
    let typical: Vec<f64> = model
        .features
        .iter()
        .map(|f| match f.transform {
            Transform::Log1p => f.mean.exp_m1(),
            Transform::None => f.mean,
        })
        .collect();
    // Users are independent: each one's reasons are worded on the threads.
    let users: Vec<ScoredUser> = (0..z.nrows())
        .into_par_iter()
        .map(|i| {
            let zrow = z.row(i);
            let raw = FrameRow::new(&columns, i);
            let mut contributions: Vec<(usize, f64)> = zrow
                .iter()
                .zip(&model.features)
                .map(|(v, f)| v * f.coefficient)
                .enumerate()
                .filter(|&(j, c)| {
                    c >= MIN_REASON_CONTRIBUTION
                        && ff.defs[j].is_reason(spec, zrow[j], &raw, typical[j])
                })
                .collect();
            contributions.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            // One reason per family: "no value action for 40 days" and "0 reports in 90
            // days" say the same thing to a CS manager.
            let mut families = Vec::new();
            let mut reasons = Vec::new();
            for (j, c) in contributions {
                if reasons.len() == MAX_REASONS {
                    break;
                }
                if families.contains(&&ff.defs[j].family) {
                    continue;
                }
                families.push(&ff.defs[j].family);
                reasons.push(Reason {
                    feature: model.features[j].name.clone(),
                    contribution: c,
                    text: features::phrase(spec, &ff.defs[j], &raw, typical[j]),
                });
            }
            ScoredUser {
                user_id: ids.get(i).unwrap_or_default().to_string(),
                probability: model.probability(zrow),
                reasons,
                row: i,
            }
        })
        .collect();
    tracing::debug!("probabilities and reasons by {:?}", clock.elapsed());
    // The last guard: no number that is not a number reaches a list.
    if let Some(u) = users.iter().find(|u| !u.probability.is_finite()) {
        return Err(Error::InvalidArgument {
            name: "model".into(),
            message: format!(
                "its parameters give user {} the probability {}: retrain it",
                u.user_id, u.probability
            ),
        });
    }
    Ok(Scored {
        users,
        features: ff,
    })
}
