//! Training: build the observation panel, choose the L2 strength on the latest fully
//! labelled date, fit linfa-logistic on standardized features, and assemble the model.
//!
//! The panel holds weekly as-of dates `t_k = T − H − k·step` (k = 0, 1, …), so every label
//! window `[t_k, t_k + H)` ends by T and is fully observed. `t_0` is the validation date.
//! Training dates are those whose label window ends by `t_0` ("purged": no label of a
//! training row looks into the validation horizon); if fewer than two such dates exist the
//! purge is dropped and the model file says so. The final model is refitted on every panel
//! date with the chosen strength. Dates whose windows reach before the first event are
//! skipped: their users' history would be cut off.

use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use ndarray::{concatenate, Array1, Array2, Axis, ShapeBuilder};

use super::artifact::{
    sigmoid, AlphaTrial, ChurnModel, ModelFeature, PanelDate, Training, ValidationPredictions,
    FORMAT_VERSION,
};
use super::drift::DriftReference;
use super::evaluate::{evaluate, Metrics};
use super::matrix::to_matrix;
use crate::error::{Error, Result};
use crate::features::{self, FeatureSpec, Prepared};
use crate::ingest::{format_date, DAY_MS};
use crate::labels::{self, LabelRule, Sources};
use polars::prelude::{BooleanChunked, DataFrame};

/// Training settings.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// T: the last moment whose events may be read (labels end by it).
    pub as_of: i64,
    pub rule: LabelRule,
    /// How many weekly as-of dates the panel may hold (default 12).
    pub panel_dates: usize,
    /// Days between panel dates (default 7).
    pub step_days: u32,
    /// L2 strengths tried (linfa `alpha`; the loss is a sum, so ≈ 1/C of scikit-learn).
    pub alphas: Vec<f64>,
    /// The eligibility gate: fewest churned rows accepted on the training dates and on the
    /// validation date (default 50; GA4's predictive audiences ask for 1,000).
    pub min_churned: usize,
    /// Fewest retained rows accepted on each side of the split (default 50).
    pub min_retained: usize,
    /// Train (and validate) only on these signup cohorts (default: everybody).
    pub cohorts: CohortFilter,
}

/// Which users a panel keeps, by signup time (from the users table). Users without a
/// signup time are left out whenever a filter is set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CohortFilter {
    /// Only users who signed up at or after this moment (epoch ms).
    pub since: Option<i64>,
    /// Only users whose signup week starts on one of these Mondays (epoch ms, 00:00 UTC).
    pub weeks: Vec<i64>,
}

impl CohortFilter {
    /// True when no filter is set.
    pub fn is_all(&self) -> bool {
        self.since.is_none() && self.weeks.is_empty()
    }

    /// A one-line description for the model file.
    pub fn describe(&self) -> Option<String> {
        if self.is_all() {
            return None;
        }
        let mut parts = Vec::new();
        if let Some(s) = self.since {
            parts.push(format!("signed up since {}", format_date(s)));
        }
        if !self.weeks.is_empty() {
            let weeks: Vec<String> = self.weeks.iter().map(|w| format_date(*w)).collect();
            parts.push(format!("signup weeks {}", weeks.join(", ")));
        }
        Some(parts.join("; "))
    }

    /// Keeps the population rows that pass.
    fn apply(&self, pop: DataFrame) -> Result<DataFrame> {
        if self.is_all() {
            return Ok(pop);
        }
        let signup = pop.column("signup_ts")?.i64()?;
        let keep: BooleanChunked = signup
            .iter()
            .map(|s| {
                s.is_some_and(|s| {
                    self.since.is_none_or(|since| s >= since)
                        && (self.weeks.is_empty() || self.weeks.contains(&week_start(s)))
                })
            })
            .collect();
        Ok(pop.filter(&keep)?)
    }
}

/// The Monday 00:00 UTC starting the week of `t`.
pub fn week_start(t: i64) -> i64 {
    // 1970-01-01 was a Thursday: day 4 is the first Monday.
    let day = t.div_euclid(DAY_MS);
    (day - (day - 4).rem_euclid(7)) * DAY_MS
}

impl TrainOptions {
    /// Defaults: 12 weekly panel dates, alphas 0.1 … 1000, at least 10 rows per class.
    pub fn new(as_of: i64, rule: LabelRule) -> Self {
        TrainOptions {
            as_of,
            rule,
            panel_dates: 12,
            step_days: 7,
            alphas: vec![0.1, 1.0, 10.0, 100.0, 1000.0],
            min_churned: 50,
            min_retained: 50,
            cohorts: CohortFilter::default(),
        }
    }
}

impl TrainOptions {
    /// Fails on settings no panel can satisfy.
    pub fn check(&self) -> Result<()> {
        let bad = |name: &str, message: &str| {
            Err(Error::InvalidArgument {
                name: name.into(),
                message: message.into(),
            })
        };
        if self.rule.horizon_days == 0 {
            return bad("--horizon-days", "must be at least 1");
        }
        if self.rule.active_days == 0 {
            return bad("--active-days", "must be at least 1");
        }
        if self.panel_dates < 2 {
            return bad(
                "--panel-dates",
                "must be at least 2 (one to validate on, one to train on)",
            );
        }
        if self.step_days == 0 {
            return bad("--panel-step-days", "must be at least 1");
        }
        if self.alphas.iter().any(|a| !(a.is_finite() && *a > 0.0)) {
            return bad("alphas", "every L2 strength must be a positive number");
        }
        Ok(())
    }
}

/// The feature whose values alone make the recency baseline.
pub const BASELINE_FEATURE: &str = "days_since_last_value";

struct PanelRows {
    as_of: i64,
    x: Array2<f64>,
    y: Vec<bool>,
}

/// Trains a model; `Err(NotEnoughData)` explains what is missing.
pub fn train(src: &Sources, spec: &FeatureSpec, opts: &TrainOptions) -> Result<ChurnModel> {
    let prepared = features::prepare(src.events, spec)?;
    train_prepared(src, &prepared, spec, opts)
}

/// As [`train`], with the log already regrouped by user (`prepared`, made from
/// `src.events` with `spec`): a nightly run builds that index once for training and
/// scoring.
pub fn train_prepared(
    src: &Sources,
    prepared: &Prepared,
    spec: &FeatureSpec,
    opts: &TrainOptions,
) -> Result<ChurnModel> {
    opts.check()?;
    let events = src.events;
    let horizon = opts.rule.horizon_days as i64 * DAY_MS;
    if events.max_ts < opts.as_of - 7 * DAY_MS {
        return Err(Error::NotEnoughData {
            message: format!(
                "the event log ends on {} but the as-of date is {}: days without data would read as churn; pass an earlier --as-of",
                format_date(events.max_ts),
                format_date(opts.as_of)
            ),
        });
    }
    let clock = std::time::Instant::now();
    let event_types = features::top_event_types(events, opts.as_of, spec.file.event_rates.top)?;
    let defs = features::catalog(spec, &event_types);
    // Populations and labels of every date read off the index.
    let src = &src.with_index(prepared);
    let w = &spec.file.windows;
    let history = (w.recent_days + w.prior_days) as i64 * DAY_MS;

    let mut panel = Vec::new();
    for k in 0..opts.panel_dates {
        let t = opts.as_of - horizon - k as i64 * opts.step_days as i64 * DAY_MS;
        if t < events.min_ts + history {
            break;
        }
        let pop = opts
            .cohorts
            .apply(labels::population(src, &opts.rule, t)?)?;
        if pop.height() == 0 {
            continue;
        }
        let ff = features::compute(prepared, &pop, t, spec, &event_types)?;
        let x = to_matrix(&ff.df, &defs)?;
        let y = labels::labels(src, &opts.rule, &spec.file.events.value, &pop, t)?;
        panel.push(PanelRows { as_of: t, x, y });
    }
    tracing::debug!(
        "panel: {} dates, {} rows, features and labels in {:?}",
        panel.len(),
        panel.iter().map(|p| p.y.len()).sum::<usize>(),
        clock.elapsed()
    );
    let Some(validation) = panel.first() else {
        return Err(Error::NotEnoughData {
            message: format!(
                "no panel date has both {} days of history and a full {}-day horizon before {}; the log covers {} to {}",
                w.recent_days + w.prior_days,
                opts.rule.horizon_days,
                format_date(opts.as_of),
                format_date(events.min_ts),
                format_date(events.max_ts)
            ),
        });
    };
    let t0 = validation.as_of;
    let purged: Vec<usize> = (1..panel.len())
        .filter(|&i| panel[i].as_of + horizon <= t0)
        .collect();
    let train_idx: Vec<usize> = if purged.len() >= 2 {
        purged
    } else {
        (1..panel.len()).collect()
    };
    if train_idx.is_empty() {
        return Err(Error::NotEnoughData {
            message: format!(
                "only one panel date ({}) fits in the log; a time-based validation needs at least two: use a longer log or a smaller --panel-step-days",
                format_date(t0)
            ),
        });
    }
    let (x_train, y_train) = stack(&panel, &train_idx);
    let (x_val, y_val) = (validation.x.clone(), validation.y.clone());
    check_classes("the training dates", &y_train, opts)?;
    check_classes("the validation date", &y_val, opts)?;

    // Choose alpha on the validation date.
    let (train_mean, train_std) = scaling(&x_train);
    let (mean, std) = (&train_mean, &train_std);
    let z_train = standardize(&x_train, mean, std);
    let z_val = standardize(&x_val, mean, std);
    let mut trials = Vec::new();
    let mut best: Option<(f64, f64, Metrics, Solution, Vec<f64>)> = None;
    // Strongest regularization first, each fit starting from the previous solution: the
    // path is smooth, so warm starts save the solver iterations.
    let mut alphas = opts.alphas.clone();
    alphas.sort_by(|a, b| b.total_cmp(a));
    let mut warm: Option<Solution> = None;
    for alpha in alphas {
        let solution = fit_from(&z_train, &y_train, alpha, warm.as_ref())?;
        let (coef, intercept) = solution.churn_side();
        let p = predict(&z_val, &coef, intercept);
        let m = evaluate(&p, &y_val);
        trials.push(AlphaTrial {
            alpha,
            log_loss: m.log_loss,
            roc_auc: m.roc_auc,
        });
        if best.as_ref().is_none_or(|b| m.log_loss < b.1) {
            best = Some((alpha, m.log_loss, m, solution.clone(), p));
        }
        warm = Some(solution);
    }
    trials.sort_by(|a, b| a.alpha.total_cmp(&b.alpha));
    tracing::debug!(
        "{} regularization strengths fitted by {:?}",
        trials.len(),
        clock.elapsed()
    );
    let Some((alpha, _, validation_metrics, best_solution, val_p)) = best else {
        return Err(Error::InvalidArgument {
            name: "alphas".into(),
            message: "no regularization strength to try".into(),
        });
    };

    // The baseline: days since the last value action alone, same dates.
    let b = defs
        .iter()
        .position(|d| d.name == BASELINE_FEATURE)
        .ok_or_else(|| Error::Fit(format!("the catalog has no {BASELINE_FEATURE}")))?;
    let zb_train = z_train.select(Axis(1), &[b]);
    let (bc, bi) = fit(&zb_train, &y_train, 1.0)?;
    let baseline_p = predict(&z_val.select(Axis(1), &[b]), &bc, bi);
    let baseline = evaluate(&baseline_p, &y_val);
    let round = |v: &[f64]| v.iter().map(|p| (p * 1e4).round() / 1e4).collect();
    let validation_predictions = ValidationPredictions {
        churned: y_val.clone(),
        model: round(&val_p),
        baseline: round(&baseline_p),
    };

    // The final model: every panel date.
    let all: Vec<usize> = (0..panel.len()).collect();
    let (x_all, y_all) = stack(&panel, &all);
    let (mean, std) = scaling(&x_all);
    let final_z = standardize(&x_all, &mean, &std);
    // Started from the chosen solution carried over to the new scaling: the same model,
    // so the solver only has the extra dates to learn.
    let start = best_solution.rescaled((&train_mean, &train_std), (&mean, &std));
    let (coef, intercept) = fit_from(&final_z, &y_all, alpha, Some(&start))?.churn_side();

    tracing::debug!("baseline and final fit by {:?}", clock.elapsed());
    // The drift reference: the population the model would score on its training day.
    let names: Vec<String> = defs.iter().map(|d| d.name.clone()).collect();
    let pop = labels::population(src, &opts.rule, opts.as_of)?;
    let (ref_date, x_ref) = if pop.height() > 0 {
        let ff = features::compute(prepared, &pop, opts.as_of, spec, &event_types)?;
        (opts.as_of, to_matrix(&ff.df, &defs)?)
    } else {
        (t0, x_val.clone())
    };
    let ref_scores = predict(&standardize(&x_ref, &mean, &std), &coef, intercept);
    let drift_reference = DriftReference::fit(format_date(ref_date), &names, &x_ref, &ref_scores);

    let churned = y_all.iter().filter(|&&v| v).count();
    let panel_info = panel
        .iter()
        .enumerate()
        .map(|(i, r)| PanelDate {
            as_of: format_date(r.as_of),
            rows: r.y.len(),
            churned: r.y.iter().filter(|&&v| v).count(),
            role: if i == 0 {
                "validation"
            } else if train_idx.contains(&i) {
                "train"
            } else {
                "purged"
            }
            .into(),
        })
        .collect();
    Ok(ChurnModel {
        format_version: FORMAT_VERSION,
        churnrisk_version: env!("CARGO_PKG_VERSION").into(),
        label: opts.rule,
        feature_fingerprint: spec.fingerprint.clone(),
        feature_definitions: spec.file.clone(),
        event_types,
        features: defs
            .iter()
            .enumerate()
            .map(|(j, d)| ModelFeature {
                name: d.name.clone(),
                meaning: d.meaning.clone(),
                transform: d.transform,
                mean: mean[j],
                std: std[j],
                coefficient: coef[j],
            })
            .collect(),
        intercept,
        training: Training {
            as_of: format_date(opts.as_of),
            panel: panel_info,
            rows: y_all.len(),
            churned,
            base_rate: churned as f64 / y_all.len() as f64,
            alpha,
            alpha_search: trials,
            cohorts: opts.cohorts.describe(),
        },
        validation: validation_metrics,
        baseline,
        drift_reference: Some(drift_reference),
        validation_predictions: Some(validation_predictions),
    })
}

/// Fits an L2-regularized logistic regression on standardized rows; returns coefficients
/// and intercept for the log-odds of churn (`true`).
///
/// linfa-logistic 0.8 reports its "positive" class by its own rule (measured: the
/// majority class), so the sign is taken from `labels().pos` rather than assumed.
pub fn fit(z: &Array2<f64>, y: &[bool], alpha: f64) -> Result<(Vec<f64>, f64)> {
    Ok(fit_from(z, y, alpha, None)?.churn_side())
}

/// A fitted solution in the solver's own orientation, reusable as a warm start.
#[derive(Debug, Clone)]
pub struct Solution {
    /// Coefficients then intercept, for the class linfa calls positive.
    params: Array1<f64>,
    /// True when linfa's positive class is churn.
    churn_positive: bool,
}

impl Solution {
    /// The same linear function of the raw features for rows standardized with `to`
    /// instead of `from` (means, standard deviations).
    fn rescaled(&self, from: (&[f64], &[f64]), to: (&[f64], &[f64])) -> Solution {
        let n = self.params.len() - 1;
        let mut params = self.params.clone();
        for j in 0..n {
            let w = self.params[j] / from.1[j];
            params[j] = w * to.1[j];
            params[n] += w * (to.0[j] - from.0[j]);
        }
        Solution {
            params,
            churn_positive: self.churn_positive,
        }
    }

    /// Coefficients and intercept for the log-odds of churn.
    fn churn_side(&self) -> (Vec<f64>, f64) {
        let sign = if self.churn_positive { 1.0 } else { -1.0 };
        let n = self.params.len() - 1;
        (
            self.params.iter().take(n).map(|w| sign * w).collect(),
            sign * self.params[n],
        )
    }
}

/// [`fit`], optionally warm-started from an earlier solution.
fn fit_from(z: &Array2<f64>, y: &[bool], alpha: f64, warm: Option<&Solution>) -> Result<Solution> {
    let targets = Array1::from_iter(y.iter().copied());
    let data = DatasetBase::new(z.view(), targets);
    let mut params = LogisticRegression::default();
    if let Some(w) = warm {
        params = params.initial_params(w.params.clone());
    }
    let fitted = params
        .alpha(alpha)
        .with_intercept(true)
        .max_iterations(1000)
        // The loss is a sum over rows, so its gradient grows with them: a fixed tolerance
        // that is loose for a thousand rows makes L-BFGS grind for minutes on a million.
        // This one is 1e-4 per row: an L2 norm of 1e-4 on the mean loss's gradient, at
        // least as strict as scikit-learn's lbfgs default (largest component ≤ 1e-4 of the
        // mean loss). On 10M events 1e-5 per row gave validation log loss 0.40264 against
        // this one's 0.40265, for 1.7× the solver time.
        .gradient_tolerance(1e-4 * y.len().max(1) as f64)
        .fit(&data)
        .map_err(|e| Error::Fit(e.to_string()))?;
    let churn_positive = fitted.labels().pos.class;
    if warm.is_some_and(|w| w.churn_positive != churn_positive) {
        // linfa picked the other class as positive here: the warm start meant the
        // opposite signs, so start cold instead.
        return fit_from(z, y, alpha, None);
    }
    let mut all = fitted.params().to_vec();
    all.push(fitted.intercept());
    Ok(Solution {
        params: Array1::from(all),
        churn_positive,
    })
}

/// Churn probabilities of standardized rows.
pub fn predict(z: &Array2<f64>, coef: &[f64], intercept: f64) -> Vec<f64> {
    z.rows()
        .into_iter()
        .map(|row| sigmoid(intercept + row.iter().zip(coef).map(|(v, w)| v * w).sum::<f64>()))
        .collect()
}

/// Column means and population standard deviations (1 for constant columns).
fn scaling(x: &Array2<f64>) -> (Vec<f64>, Vec<f64>) {
    let n = x.nrows().max(1) as f64;
    x.columns()
        .into_iter()
        .map(|c| {
            let m = c.sum() / n;
            let var = c.iter().map(|v| (v - m).powi(2)).sum::<f64>() / n;
            let s = var.sqrt();
            (m, if s > 1e-12 { s } else { 1.0 })
        })
        .unzip()
}

/// Standardized columns, stored column-major. linfa-logistic's gradient is `Xᵀ·r`; without
/// BLAS, ndarray computes a matrix-vector product row by row of its left side, so a
/// row-major X makes every row of `Xᵀ` a strided walk through the whole matrix. Column-major
/// X makes them contiguous (and `X·w` goes through matrixmultiply in either layout).
fn standardize(x: &Array2<f64>, mean: &[f64], std: &[f64]) -> Array2<f64> {
    let mut z = Array2::zeros(x.raw_dim().f());
    for (j, (mut zc, xc)) in z.columns_mut().into_iter().zip(x.columns()).enumerate() {
        zc.zip_mut_with(&xc, |z, &v| *z = (v - mean[j]) / std[j]);
    }
    z
}

fn stack(panel: &[PanelRows], idx: &[usize]) -> (Array2<f64>, Vec<bool>) {
    let views: Vec<_> = idx.iter().map(|&i| panel[i].x.view()).collect();
    let x = concatenate(Axis(0), &views).unwrap_or_else(|_| Array2::zeros((0, panel[0].x.ncols())));
    let y = idx
        .iter()
        .flat_map(|&i| panel[i].y.iter().copied())
        .collect();
    (x, y)
}

/// The eligibility gate: a model fitted or judged on a handful of churners is noise.
fn check_classes(what: &str, y: &[bool], opts: &TrainOptions) -> Result<()> {
    let churned = y.iter().filter(|&&v| v).count();
    let retained = y.len() - churned;
    if churned < opts.min_churned || retained < opts.min_retained {
        return Err(Error::NotEnoughData {
            message: format!(
                "{what} hold {churned} churned and {retained} retained users; the minimums are {} churned and {} retained (lower them only if you accept a noisier model)",
                opts.min_churned, opts.min_retained
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::evaluate::roc_auc;
    use rand::{Rng, SeedableRng};

    /// Churn is the minority class and rises with x0; x1 is noise. The fitted coefficient
    /// of x0 must be positive and the AUC high — this catches linfa's class-order quirk.
    #[test]
    fn fit_points_coefficients_at_churn_even_when_churn_is_rare() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let n = 2000;
        let mut x = Array2::<f64>::zeros((n, 2));
        let mut y = Vec::with_capacity(n);
        for i in 0..n {
            let a: f64 = rng.random_range(-2.0..2.0);
            let b: f64 = rng.random_range(-2.0..2.0);
            x[[i, 0]] = a;
            x[[i, 1]] = b;
            let p = sigmoid(-2.0 + 2.0 * a);
            y.push(rng.random::<f64>() < p);
        }
        let churned = y.iter().filter(|&&v| v).count();
        assert!(
            churned < n / 2,
            "churn must be the minority here ({churned})"
        );
        let (coef, intercept) = fit(&x, &y, 1.0).unwrap();
        assert!(coef[0] > 1.5 && coef[0] < 2.5, "coef {coef:?}");
        assert!(coef[1].abs() < 0.3, "coef {coef:?}");
        assert!(intercept < -1.5, "intercept {intercept}");
        let p = predict(&x, &coef, intercept);
        assert!(roc_auc(&p, &y) > 0.8);
    }

    #[test]
    fn cohort_filter_keeps_signups_since_and_in_chosen_weeks() {
        let mon = 1_767_571_200_000i64; // 2026-01-05, a Monday
        assert_eq!(week_start(mon + 3 * DAY_MS + 5), mon);
        assert_eq!(week_start(mon - 1), mon - 7 * DAY_MS);
        let pop = DataFrame::new(
            4,
            vec![
                polars::prelude::Column::new("user_id".into(), ["a", "b", "c", "d"]),
                polars::prelude::Column::new(
                    "signup_ts".into(),
                    [
                        Some(mon - 3 * DAY_MS),
                        Some(mon + DAY_MS),
                        Some(mon + 9 * DAY_MS),
                        None,
                    ],
                ),
            ],
        )
        .unwrap();
        let ids = |f: &CohortFilter| -> Vec<String> {
            let df = f.apply(pop.clone()).unwrap();
            df.column("user_id")
                .unwrap()
                .str()
                .unwrap()
                .iter()
                .flatten()
                .map(String::from)
                .collect()
        };
        assert_eq!(ids(&CohortFilter::default()), ["a", "b", "c", "d"]);
        let since = CohortFilter {
            since: Some(mon),
            weeks: vec![],
        };
        assert_eq!(ids(&since), ["b", "c"]);
        let week = CohortFilter {
            since: None,
            weeks: vec![mon - 7 * DAY_MS, mon + 7 * DAY_MS],
        };
        assert_eq!(ids(&week), ["a", "c"]);
        assert_eq!(
            week.describe().unwrap(),
            "signup weeks 2025-12-29, 2026-01-12"
        );
    }

    #[test]
    fn scaling_handles_constant_columns() {
        let x = ndarray::array![[1.0, 5.0], [3.0, 5.0]];
        let (m, s) = scaling(&x);
        assert_eq!(m, [2.0, 5.0]);
        assert_eq!(s, [1.0, 1.0]);
        let z = standardize(&x, &m, &s);
        assert_eq!(z, ndarray::array![[-1.0, 0.0], [1.0, 0.0]]);
    }

    #[test]
    fn rejects_impossible_settings() {
        use crate::labels::{Definition, Signal};
        let rule = LabelRule {
            definition: Definition::Inactivity,
            horizon_days: 28,
            active_days: 28,
            signal: Signal::ValueAction,
        };
        assert!(TrainOptions::new(0, rule).check().is_ok());
        let zero_horizon = TrainOptions::new(
            0,
            LabelRule {
                horizon_days: 0,
                ..rule
            },
        );
        assert!(
            matches!(zero_horizon.check(), Err(Error::InvalidArgument { ref name, .. }) if name == "--horizon-days")
        );
        let one_date = TrainOptions {
            panel_dates: 1,
            ..TrainOptions::new(0, rule)
        };
        assert!(
            matches!(one_date.check(), Err(Error::InvalidArgument { ref name, .. }) if name == "--panel-dates")
        );
    }

    #[test]
    fn rejects_too_few_churned() {
        use crate::labels::{Definition, Signal};
        let rule = LabelRule {
            definition: Definition::Inactivity,
            horizon_days: 28,
            active_days: 28,
            signal: Signal::ValueAction,
        };
        let opts = TrainOptions {
            min_churned: 2,
            min_retained: 2,
            ..TrainOptions::new(0, rule)
        };
        assert!(check_classes("training dates", &[true, true, false, false], &opts).is_ok());
        let err = check_classes("training dates", &[true, false, false], &opts).unwrap_err();
        assert!(
            matches!(err, Error::NotEnoughData { ref message } if message.contains("1 churned"))
        );
    }
}
