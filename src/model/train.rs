//! Training: build the observation panel, choose the L2 strength on the latest fully
//! labelled date, fit linfa-logistic on standardized features, calibrate, and assemble the
//! model.
//!
//! - **Windows** follow the horizon and the log's typical gap between a user's value
//!   actions ([`crate::features::spec::Windows::follow`]) unless the feature file sets them;
//!   the model stores them and the gap, and scoring uses the same.
//! - **Panel**: weekly as-of dates `t_k = T − H − k·step` (k = 0, 1, …), so every label
//!   window `[t_k, t_k + H)` ends by T and is fully observed. `t_0` is the validation date.
//!   Training dates are those whose label window ends by `t_0` ("purged": no label of a
//!   training row looks into the validation horizon); if fewer than two such dates exist
//!   the purge is dropped and the model file says so. A date needs one recent window of log
//!   before it; longer windows are clipped to the log, as they are for young users at T.
//! - **Regularization**: `alpha` is per row (the penalty against the mean log loss), so the
//!   refit on all dates is as regularized as the fit chosen on validation. The alpha with
//!   the lowest validation log loss is kept.
//! - **Final model**: refitted on every panel date with that alpha; the gradient norm at
//!   its solution is recorded (converged or not).
//! - **Calibration**: Platt scaling fitted on the validation date's out-of-sample log-odds,
//!   folded into the coefficients and intercept (ranking and reasons unchanged), kept only
//!   when it lowers the Brier score there.
//! - **Shift check**: each feature's distribution on the training dates against the
//!   population at T (PSI, the drift machinery); features at 0.2 or more are recorded and
//!   printed by `train`.

use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use ndarray::{concatenate, Array1, Array2, Axis};

use super::artifact::{
    sigmoid, AlphaTrial, Calibration, ChurnModel, FeatureShift, ModelFeature, PanelDate,
    SolverCheck, Training, ValidationPredictions, FORMAT_VERSION,
};
use super::drift::{DriftReference, Histogram};
use super::evaluate::{evaluate, Metrics};
use super::matrix::{standardize, to_matrix};
use crate::base::time::week_start;
use crate::base::time::{format_date, DAY_MS};
use crate::error::{Error, Result};
use crate::features::bgnbd;
use crate::features::catalog::{Core, FeatureId};
use crate::features::{self, FeatureSpec, Prepared};
use crate::labels::{self, Definition, LabelRule, Sources};
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
    /// L2 strengths tried, per row: the penalty `alpha · ‖w‖² / 2` is set against the
    /// mean log loss, so a strength means the same on the validation fit and on the refit
    /// over more rows (linfa's own alpha, on the summed loss, is `alpha × rows`; scikit-
    /// learn's C is `1 / (alpha × rows)`).
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

impl TrainOptions {
    /// Defaults: 12 weekly panel dates, alphas 0.001 … 1 per row, at least 50 rows per
    /// class. Weaker strengths (1e-4, 1e-5) were never the one-SE choice on the held-out
    /// runs and tripled the solver time on 10M events (many correlated features converge
    /// slowly when barely penalized).
    pub fn new(as_of: i64, rule: LabelRule) -> Self {
        TrainOptions {
            as_of,
            rule,
            panel_dates: PANEL_DATES,
            step_days: PANEL_STEP_DAYS,
            alphas: ALPHAS.to_vec(),
            min_churned: MIN_CHURNED,
            min_retained: MIN_RETAINED,
            cohorts: CohortFilter::default(),
        }
    }
}

/// Weekly as-of dates a training panel may hold, unless set.
pub const PANEL_DATES: usize = 12;
/// Days between panel dates, unless set.
pub const PANEL_STEP_DAYS: u32 = 7;
/// The eligibility gate, unless set: fewest churned and fewest retained users on the
/// training dates and on the validation date.
pub const MIN_CHURNED: usize = 50;
pub const MIN_RETAINED: usize = 50;
/// L2 strengths tried per row, unless set (see [`TrainOptions::alphas`]).
pub const ALPHAS: [f64; 4] = [1e-3, 1e-2, 1e-1, 1.0];

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
            return bad("horizon_days", "must be at least 1");
        }
        if self.rule.active_days == 0 {
            return bad("active_days", "must be at least 1");
        }
        if self.panel_dates < 2 {
            return bad(
                "panel_dates",
                "must be at least 2 (one to validate on, one to train on)",
            );
        }
        if self.step_days == 0 {
            return bad("panel_step_days", "must be at least 1");
        }
        if self.alphas.iter().any(|a| !(a.is_finite() && *a > 0.0)) {
            return bad("alphas", "every L2 strength must be a positive number");
        }
        Ok(())
    }
}

/// The feature whose values alone make the recency baseline.
pub const BASELINE_FEATURE: Core = Core::DaysSinceValue;

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

/// Under the inactivity definition a horizon not much longer than the log's typical gap
/// between a user's value actions labels regulars churned: a customer at their own pace g
/// has a chance exp(−H / g) of no value action in the horizon H — 37% at H = g, 25% at
/// H = 1.39 g. From 25% it is said, with the horizon that fits (three gaps: 5%).
fn warn_if_horizon_short(rule: &LabelRule, typical_gap: f64) {
    if let Some(note) = horizon_note(rule, typical_gap) {
        tracing::warn!("{note}");
    }
}

fn horizon_note(rule: &LabelRule, typical_gap: f64) -> Option<String> {
    let horizon = f64::from(rule.horizon_days);
    let quiet = (-horizon / typical_gap).exp();
    let unknown = typical_gap.is_nan() || typical_gap <= 0.0;
    if rule.definition != Definition::Inactivity || unknown || quiet < 0.25 {
        return None;
    }
    let relation = if typical_gap > horizon {
        "longer than"
    } else {
        "close to"
    };
    // Three gaps, in whole weeks.
    let fits = ((3.0 * typical_gap) / 7.0).ceil() * 7.0;
    Some(format!(
        "the log's typical gap between a user's value actions ({typical_gap:.1} days) is {relation} the churn horizon ({} days): a regular at that pace has a {:.0}% chance of no value action in it, and is labelled churned when they have simply not come back yet; a horizon of about three gaps fits this product ([labels] horizon_days and active_days = {fits:.0}, --horizon-days and --active-days)",
        rule.horizon_days,
        quiet * 100.0
    ))
}

/// Refuses an as-of date more than a week after the log's last event: the days without
/// data would read as churn (training's labels, scoring's recency). `run` applies its own,
/// stricter rule for a night (its lateness check).
pub fn check_log_reaches(events: &crate::ingest::Events, as_of: i64) -> Result<()> {
    if events.max_ts < as_of - 7 * DAY_MS {
        return Err(Error::LogEndsBeforeAsOf {
            log_ends: format_date(events.max_ts),
            as_of: format_date(as_of),
        });
    }
    Ok(())
}

/// A model that predicts the validation date worse than recency alone has learnt
/// something that no longer holds (a helper's stale feature file, its value event renamed
/// in the log: log loss 0.904 against the baseline's 0.843, written at exit 0 in silence).
fn worse_than_baseline(model: &Metrics, baseline: &Metrics) -> Option<String> {
    (model.log_loss > baseline.log_loss).then(|| {
        format!(
            "the model predicts its validation date worse than days since the last value action alone (log loss {:.4} against {:.4}, Brier {:.4} against {:.4}): the training dates are unlike the validation date — is an event renamed or no longer tracked (`churnrisk check --features …`), or the log cut?",
            model.log_loss, baseline.log_loss, model.brier, baseline.brier
        )
    })
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
    check_log_reaches(events, opts.as_of)?;
    let clock = std::time::Instant::now();
    // Windows follow the horizon and the log's cadence (unless the file sets them).
    let typical_gap = prepared.typical_value_gap(opts.as_of).unwrap_or(0.0);
    warn_if_horizon_short(&opts.rule, typical_gap);
    let spec = &spec.fitted_to(opts.rule.horizon_days, typical_gap);
    // The BG/NBD model behind `bgnbd_quiet_odds`, fitted once on the whole log before T
    // (four population parameters, like the typical gap) and used on every panel date.
    let bgnbd = bgnbd::fit(
        &prepared.value_summaries(opts.as_of),
        typical_gap,
        opts.rule.horizon_days,
    );
    match &bgnbd {
        Some(f) if !f.converged => tracing::warn!(
            "the BG/NBD fit stopped after {} iterations without converging",
            f.iterations
        ),
        Some(f) => tracing::debug!("BG/NBD fit: {f:?} by {:?}", clock.elapsed()),
        None => tracing::debug!(
            "no BG/NBD fit (fewer than {} users with a value action, or no finite optimum)",
            bgnbd::MIN_USERS
        ),
    }
    let spec = &spec
        .with_bgnbd(bgnbd.map(|f| f.params))
        .with_renewal(opts.rule.renewal_horizon_days());
    let rates = &spec.file.event_rates;
    let event_types = features::top_event_types(events, opts.as_of, rates.top, &rates.exclude)?;
    let defs = features::catalog(spec, &event_types);
    // Populations and labels of every date read off the index.
    let src = &src.with_index(prepared);
    let panel = build_panel(src, prepared, spec, &event_types, &defs, opts)?;
    tracing::debug!(
        "panel: {} dates, {} rows, features and labels in {:?}",
        panel.len(),
        panel.iter().map(|p| p.y.len()).sum::<usize>(),
        clock.elapsed()
    );
    let train_idx = training_dates(&panel, src, spec, opts)?;
    let chosen = choose_on_validation(&panel, &train_idx, &defs, opts)?;
    tracing::debug!("alpha and baseline by {:?}", clock.elapsed());
    if let Some(note) = worse_than_baseline(&chosen.metrics, &chosen.baseline) {
        tracing::warn!("{note}");
    }
    let fitted = final_fit(&panel, &chosen)?;
    tracing::debug!("final fit by {:?}", clock.elapsed());
    // The population the model would score on its training day: the drift reference and
    // the shift check.
    let pop = labels::population(src, &opts.rule, opts.as_of)?;
    let (ref_date, x_ref) = if pop.height() > 0 {
        let ff = features::compute(prepared, &pop, opts.as_of, spec, &event_types)?;
        (opts.as_of, to_matrix(&ff.df, &defs)?)
    } else {
        (panel[0].as_of, panel[0].x.clone())
    };
    let names: Vec<String> = defs.iter().map(|d| d.name.clone()).collect();
    let ref_scores = fitted.predict(&x_ref);
    let drift_reference = DriftReference::fit(format_date(ref_date), &names, &x_ref, &ref_scores);
    let shift = population_shift(&names, &chosen.x_train, &x_ref);
    report_shift(&shift, ref_date);
    Ok(ChurnModel {
        format_version: FORMAT_VERSION,
        churnrisk_version: env!("CARGO_PKG_VERSION").into(),
        label: opts.rule,
        feature_fingerprint: spec.fingerprint.clone(),
        feature_definitions: spec.file.clone(),
        windows: spec.windows,
        typical_value_gap_days: spec.typical_gap_days,
        bgnbd,
        event_types,
        features: fitted.features(&defs),
        intercept: fitted.intercept,
        training: Training {
            as_of: format_date(opts.as_of),
            panel: panel_dates(&panel, &train_idx),
            rows: fitted.rows,
            churned: fitted.churned,
            base_rate: fitted.churned as f64 / fitted.rows as f64,
            alpha: chosen.alpha,
            alpha_search: chosen.trials,
            cohorts: opts.cohorts.describe(),
            solver: fitted.solver,
            calibration: fitted.calibration,
            shift,
            renewals: src
                .subscriptions
                .filter(|_| opts.rule.renewal_horizon_days().is_some())
                .map(|s| s.renewals.describe()),
            subscription_fields: src
                .subscriptions
                .filter(|_| opts.rule.renewal_horizon_days().is_some())
                .map(|s| s.dating_fields())
                .unwrap_or_default(),
        },
        validation: chosen.metrics,
        baseline: chosen.baseline,
        drift_reference: Some(drift_reference),
        validation_predictions: Some(chosen.predictions),
    })
}

/// The training dates (indices into `panel`; `panel[0]` is the validation date): those
/// whose label window ends by the validation date, or every other date when fewer than two
/// do. Refuses a log too short for any date, or for a second one.
fn training_dates(
    panel: &[PanelRows],
    src: &Sources,
    spec: &FeatureSpec,
    opts: &TrainOptions,
) -> Result<Vec<usize>> {
    let events = src.events;
    let Some(validation) = panel.first() else {
        return Err(Error::LogTooShort {
            recent_days: spec.windows.recent_days,
            horizon_days: opts.rule.horizon_days,
            as_of: format_date(opts.as_of),
            covered_days: (opts.as_of.min(events.max_ts) - events.min_ts).max(0) / DAY_MS,
            first: format_date(events.min_ts),
            last: format_date(events.max_ts),
        });
    };
    let t0 = validation.as_of;
    let settle = opts.rule.settle_days() * DAY_MS;
    let purged: Vec<usize> = (1..panel.len())
        .filter(|&i| panel[i].as_of + settle <= t0)
        .collect();
    let train_idx: Vec<usize> = if purged.len() >= 2 {
        purged
    } else {
        (1..panel.len()).collect()
    };
    if train_idx.is_empty() {
        return Err(Error::OnePanelDate {
            date: format_date(t0),
        });
    }
    Ok(train_idx)
}

/// What the validation date decided: the strength, its fit and metrics, the baseline's.
struct Chosen {
    /// The training dates' rows (untransformed scale: the shift check reads them).
    x_train: Array2<f64>,
    /// The training dates' scaling, under which `solution` was fitted.
    scaling: (Vec<f64>, Vec<f64>),
    z_val: Array2<f64>,
    y_val: Vec<bool>,
    alpha: f64,
    solution: Solution,
    trials: Vec<AlphaTrial>,
    metrics: Metrics,
    baseline: Metrics,
    predictions: ValidationPredictions,
}

/// Fits on the training dates, chooses the strength on the validation date (`panel[0]`),
/// and fits the baseline (days since the last value action alone) on the same dates.
fn choose_on_validation(
    panel: &[PanelRows],
    train_idx: &[usize],
    defs: &[features::FeatureDef],
    opts: &TrainOptions,
) -> Result<Chosen> {
    let (x_train, y_train) = stack(panel, train_idx);
    let (x_val, y_val) = (&panel[0].x, panel[0].y.clone());
    check_classes("the training dates", &y_train, opts)?;
    check_classes("the validation date", &y_val, opts)?;
    let (mean, std) = scaling(&x_train);
    let z_train = standardize(&x_train, &mean, &std);
    let z_val = standardize(x_val, &mean, &std);
    let AlphaChoice {
        alpha,
        metrics,
        solution,
        predictions: val_p,
        trials,
    } = choose_alpha(&z_train, &y_train, &z_val, &y_val, &opts.alphas)?;
    let b = defs
        .iter()
        .position(|d| d.id == FeatureId::Core(BASELINE_FEATURE))
        .ok_or_else(|| Error::NoBaseline {
            feature: BASELINE_FEATURE.name().to_string(),
        })?;
    let (bc, bi) = fit(&z_train.select(Axis(1), &[b]), &y_train, 1e-4)?;
    let baseline_p = predict(&z_val.select(Axis(1), &[b]), &bc, bi);
    let round = |v: &[f64]| v.iter().map(|p| (p * 1e4).round() / 1e4).collect();
    Ok(Chosen {
        baseline: evaluate(&baseline_p, &y_val),
        predictions: ValidationPredictions {
            churned: y_val.clone(),
            model: round(&val_p),
            baseline: round(&baseline_p),
        },
        x_train,
        scaling: (mean, std),
        z_val,
        y_val,
        alpha,
        solution,
        trials,
        metrics,
    })
}

/// The published model: refitted on every panel date, calibrated, with its scaling.
struct FinalFit {
    mean: Vec<f64>,
    std: Vec<f64>,
    coef: Vec<f64>,
    intercept: f64,
    rows: usize,
    churned: usize,
    solver: SolverCheck,
    calibration: Option<Calibration>,
}

impl FinalFit {
    /// Churn probabilities of untransformed-scale rows `x`.
    fn predict(&self, x: &Array2<f64>) -> Vec<f64> {
        predict(
            &standardize(x, &self.mean, &self.std),
            &self.coef,
            self.intercept,
        )
    }

    fn features(&self, defs: &[features::FeatureDef]) -> Vec<ModelFeature> {
        defs.iter()
            .enumerate()
            .map(|(j, d)| ModelFeature {
                name: d.name.clone(),
                meaning: d.meaning.clone(),
                transform: d.transform,
                mean: self.mean[j],
                std: self.std[j],
                coefficient: self.coef[j],
            })
            .collect()
    }
}

/// Refits the chosen strength on every panel date, records whether the solver converged,
/// and folds the validation date's Platt calibration into the log-odds.
fn final_fit(panel: &[PanelRows], chosen: &Chosen) -> Result<FinalFit> {
    let all: Vec<usize> = (0..panel.len()).collect();
    let (x_all, y_all) = stack(panel, &all);
    let (mean, std) = scaling(&x_all);
    let z = standardize(&x_all, &mean, &std);
    // Started from the chosen solution carried over to the new scaling: the same model,
    // so the solver only has the extra dates to learn.
    let (train_mean, train_std) = &chosen.scaling;
    let start = chosen
        .solution
        .rescaled((train_mean, train_std), (&mean, &std));
    let (coef, intercept) = fit_from(&z, &y_all, chosen.alpha, Some(&start))?.churn_side();
    let norm = gradient_norm(&z, &y_all, chosen.alpha, &coef, intercept);
    let solver = SolverCheck {
        gradient_norm: norm,
        converged: norm <= 1e-3,
    };
    if !solver.converged {
        tracing::warn!(
            "the solver stopped before converging (gradient norm {norm:.2e}); the model may be off its optimum"
        );
    }
    // Calibration on the validation date, folded into the published log-odds.
    let (best_coef, best_intercept) = chosen.solution.churn_side();
    let calibration = calibrate(&chosen.z_val, &chosen.y_val, &best_coef, best_intercept)?;
    let (coef, intercept) = match &calibration {
        Some(c) => (
            coef.iter().map(|w| w * c.slope).collect::<Vec<f64>>(),
            intercept * c.slope + c.intercept,
        ),
        None => (coef, intercept),
    };
    Ok(FinalFit {
        mean,
        std,
        coef,
        intercept,
        rows: y_all.len(),
        churned: y_all.iter().filter(|&&v| v).count(),
        solver,
        calibration,
    })
}

/// Logs the features whose distribution at `date` differs from the training dates'.
/// Recorded in the model and printed by `train`; a nightly run's population always moves
/// a little from its training dates, so this is no warning there.
fn report_shift(shift: &[FeatureShift], date: i64) {
    if shift.is_empty() {
        return;
    }
    let top: Vec<String> = shift
        .iter()
        .take(5)
        .map(|f| format!("{} (PSI {:.2})", f.name, f.psi))
        .collect();
    tracing::info!(
        "the population at {} differs from the training dates' in {} feature(s): {}; relations learned on younger or older users may not hold",
        format_date(date),
        shift.len(),
        top.join(", ")
    );
}

/// The panel as the model file records it: each date's rows, churned and role.
fn panel_dates(panel: &[PanelRows], train_idx: &[usize]) -> Vec<PanelDate> {
    panel
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
        .collect()
}

/// Fits an L2-regularized logistic regression on standardized rows (`alpha` per row, see
/// [`TrainOptions::alphas`]); returns coefficients and intercept for the log-odds of churn
/// (`true`).
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
        .alpha(alpha * y.len().max(1) as f64)
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
        .map_err(|source| Error::Fit { source })?;
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

/// The L2 norm of the gradient of the penalized mean log loss (`alpha` per row, intercept
/// not penalized) at a churn-side solution: 0 at the optimum.
fn gradient_norm(z: &Array2<f64>, y: &[bool], alpha: f64, coef: &[f64], intercept: f64) -> f64 {
    let n = y.len().max(1) as f64;
    let p = predict(z, coef, intercept);
    let r: Array1<f64> = p
        .iter()
        .zip(y)
        .map(|(p, &y)| (p - f64::from(u8::from(y))) / n)
        .collect();
    let grad_w = z.t().dot(&r);
    let sq: f64 = grad_w
        .iter()
        .zip(coef)
        .map(|(g, w)| (g + alpha * w).powi(2))
        .sum::<f64>()
        + r.sum().powi(2);
    sq.sqrt()
}

/// Platt scaling: a one-feature logistic fit of the validation labels on the log-odds the
/// model trained without them gave. `None` when it would not lower the Brier score or
/// would turn the ranking around.
fn calibrate(
    z_val: &Array2<f64>,
    y_val: &[bool],
    coef: &[f64],
    intercept: f64,
) -> Result<Option<Calibration>> {
    let logits: Vec<f64> = z_val
        .rows()
        .into_iter()
        .map(|row| intercept + row.iter().zip(coef).map(|(v, w)| v * w).sum::<f64>())
        .collect();
    let s = Array2::from_shape_vec((logits.len(), 1), logits.clone())
        .map_err(|source| Error::FitShape { source })?;
    let (a, b) = fit(&s, y_val, 1e-6)?;
    let slope = a[0];
    let brier = |p: &mut dyn Iterator<Item = f64>| {
        let (sum, n) = p.zip(y_val).fold((0.0, 0usize), |(s, n), (p, &y)| {
            (s + (p - f64::from(u8::from(y))).powi(2), n + 1)
        });
        sum / n.max(1) as f64
    };
    let before = brier(&mut logits.iter().map(|&l| sigmoid(l)));
    let after = brier(&mut logits.iter().map(|&l| sigmoid(slope * l + b)));
    if !(slope.is_finite() && slope > 0.0 && b.is_finite() && after < before) {
        return Ok(None);
    }
    Ok(Some(Calibration {
        slope,
        intercept: b,
        brier_before: before,
        brier_after: after,
    }))
}

/// Features whose values in the population at the as-of date (`x_ref`) have moved from
/// the training rows' (`x_train`) by a PSI of 0.2 or more, largest first.
fn population_shift(
    names: &[String],
    x_train: &Array2<f64>,
    x_ref: &Array2<f64>,
) -> Vec<FeatureShift> {
    let mut out: Vec<FeatureShift> = names
        .iter()
        .enumerate()
        .filter_map(|(j, name)| {
            let train: Vec<f64> = x_train.column(j).to_vec();
            let now: Vec<f64> = x_ref.column(j).to_vec();
            let psi = Histogram::fit(&train).psi(&now);
            (psi >= 0.2).then(|| FeatureShift {
                name: name.clone(),
                psi: (psi * 1e4).round() / 1e4,
            })
        })
        .collect();
    out.sort_by(|a, b| b.psi.total_cmp(&a.psi));
    out
}

/// Churn probabilities of standardized rows.
pub fn predict(z: &Array2<f64>, coef: &[f64], intercept: f64) -> Vec<f64> {
    z.rows()
        .into_iter()
        .map(|row| super::matrix::logistic(row, coef.iter().copied(), intercept))
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
fn stack(panel: &[PanelRows], idx: &[usize]) -> (Array2<f64>, Vec<bool>) {
    let views: Vec<_> = idx.iter().map(|&i| panel[i].x.view()).collect();
    let x = concatenate(Axis(0), &views).unwrap_or_else(|_| Array2::zeros((0, panel[0].x.ncols())));
    let y = idx
        .iter()
        .flat_map(|&i| panel[i].y.iter().copied())
        .collect();
    (x, y)
}

/// The panel: the population, features and labels of every weekly date back from
/// T − horizon (and, for subscriptions, the renewal gap: [`LabelRule::settle_days`]; the
/// validation date first) that has a full recent window of log before it.
fn build_panel(
    src: &Sources,
    prepared: &Prepared,
    spec: &FeatureSpec,
    event_types: &[String],
    defs: &[features::FeatureDef],
    opts: &TrainOptions,
) -> Result<Vec<PanelRows>> {
    let events = src.events;
    let settle = opts.rule.settle_days() * DAY_MS;
    // A date needs a full recent window of log before it; longer windows are clipped to
    // the log (rates per observable day), as they are for young users at T.
    let history = spec.windows.recent_days as i64 * DAY_MS;

    let mut panel = Vec::new();
    for k in 0..opts.panel_dates {
        let t = opts.as_of - settle - k as i64 * opts.step_days as i64 * DAY_MS;
        if t < events.min_ts + history {
            break;
        }
        let pop = opts
            .cohorts
            .apply(labels::population(src, &opts.rule, t)?)?;
        if pop.height() == 0 {
            continue;
        }
        let ff = features::compute(prepared, &pop, t, spec, event_types)?;
        let x = to_matrix(&ff.df, defs)?;
        let y = labels::labels(src, &opts.rule, &spec.file.events.value, &pop, t)?;
        panel.push(PanelRows { as_of: t, x, y });
    }
    Ok(panel)
}

/// What the search over regularization strengths chose, and every strength tried.
struct AlphaChoice {
    alpha: f64,
    metrics: Metrics,
    solution: Solution,
    /// The chosen fit's predictions on the validation date.
    predictions: Vec<f64>,
    trials: Vec<AlphaTrial>,
}

/// Fits every strength in `alphas` on the training dates and keeps the one with the
/// lowest log loss on the validation date.
fn choose_alpha(
    z_train: &Array2<f64>,
    y_train: &[bool],
    z_val: &Array2<f64>,
    y_val: &[bool],
    alphas: &[f64],
) -> Result<AlphaChoice> {
    let mut trials = Vec::new();
    // Every strength's fit, its validation metrics and predictions.
    let mut fits: Vec<(f64, Metrics, Solution, Vec<f64>)> = Vec::new();
    // Strongest regularization first, each fit starting from the previous solution: the
    // path is smooth, so warm starts save the solver iterations.
    let mut alphas = alphas.to_vec();
    alphas.sort_by(|a, b| b.total_cmp(a));
    let mut warm: Option<Solution> = None;
    for alpha in alphas {
        let solution = fit_from(z_train, y_train, alpha, warm.as_ref())?;
        let (coef, intercept) = solution.churn_side();
        let p = predict(z_val, &coef, intercept);
        let m = evaluate(&p, y_val);
        trials.push(AlphaTrial {
            alpha,
            log_loss: m.log_loss,
            roc_auc: m.roc_auc,
        });
        warm = Some(solution.clone());
        fits.push((alpha, m, solution, p));
    }
    // The lowest validation log loss wins (a tie goes to the stronger regularization).
    // Held out on five log shapes, this beat keeping the strongest alpha within one
    // standard error of it (README, Model): the one-SE rule gave up fit the later,
    // older population at T still rewarded.
    let best = fits.into_iter().min_by(|a, b| {
        a.1.log_loss
            .total_cmp(&b.1.log_loss)
            .then(b.0.total_cmp(&a.0))
    });
    trials.sort_by(|a, b| a.alpha.total_cmp(&b.alpha));
    let Some((alpha, metrics, solution, predictions)) = best else {
        return Err(Error::InvalidArgument {
            name: "alphas".into(),
            message: "no regularization strength to try".into(),
        });
    };
    Ok(AlphaChoice {
        alpha,
        metrics,
        solution,
        predictions,
        trials,
    })
}

/// The eligibility gate: a model fitted or judged on a handful of churners is noise.
fn check_classes(what: &str, y: &[bool], opts: &TrainOptions) -> Result<()> {
    let churned = y.iter().filter(|&&v| v).count();
    let retained = y.len() - churned;
    if churned < opts.min_churned || retained < opts.min_retained {
        // A population of the last 28 days' users against a horizon of a year: a product
        // used yearly has few of them (a helper's yearly shop: 44 on the validation date).
        let (h, a) = (opts.rule.horizon_days, opts.rule.active_days);
        let hint = if opts.rule.definition == Definition::Inactivity && h > a {
            format!("; each date's users are those active in the {a} days before it against a {h}-day horizon: for a product used less often than that, widen the activity window to the horizon (`--active-days {h}`, `[labels] active_days`)")
        } else {
            String::new()
        };
        return Err(Error::TooFewLabels {
            what: what.into(),
            hint,
            churned,
            retained,
            min_churned: opts.min_churned,
            min_retained: opts.min_retained,
            settings: "`[model] min_churned`, `min_retained`",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_horizon_shorter_than_the_logs_cadence_is_named_with_one_that_fits() {
        let rule = |definition, horizon_days| LabelRule {
            definition,
            horizon_days,
            active_days: 28,
            signal: crate::labels::Signal::ValueAction,
        };
        // A shop ordering every 39 days on the default 28-day horizon: 3 gaps, in weeks.
        let note = horizon_note(&rule(Definition::Inactivity, 28), 39.2).unwrap();
        assert!(note.contains("(39.2 days) is longer than the churn horizon (28 days)"));
        assert!(
            note.contains("horizon_days and active_days = 119"),
            "{note}"
        );
        assert!(
            note.contains("a 49% chance of no value action in it"),
            "{note}"
        );
        assert_eq!(horizon_note(&rule(Definition::Inactivity, 91), 39.2), None);
        // A yearly buyer (every 354 days) on a 365-day horizon: close to it, 36%.
        let note = horizon_note(&rule(Definition::Inactivity, 365), 354.0).unwrap();
        assert!(
            note.contains("(354.0 days) is close to the churn horizon (365 days): a regular at that pace has a 36% chance"),
            "{note}"
        );
        // 25% is where it starts: H = 1.39 g.
        assert!(horizon_note(&rule(Definition::Inactivity, 28), 20.3).is_some());
        assert_eq!(horizon_note(&rule(Definition::Inactivity, 28), 20.0), None);
        assert_eq!(
            horizon_note(&rule(Definition::Inactivity, 28), f64::NAN),
            None
        );
        // Under subscriptions the renewal decides, not the gap.
        assert_eq!(
            horizon_note(&rule(Definition::Subscription, 28), 39.2),
            None
        );
    }
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
        let (coef, intercept) = fit(&x, &y, 1e-3).unwrap();
        assert!(coef[0] > 1.5 && coef[0] < 2.5, "coef {coef:?}");
        assert!(coef[1].abs() < 0.3, "coef {coef:?}");
        assert!(intercept < -1.5, "intercept {intercept}");
        let p = predict(&x, &coef, intercept);
        assert!(roc_auc(&p, &y) > 0.8);
    }

    fn sample(n: usize, seed: u64) -> (Array2<f64>, Vec<bool>) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut x = Array2::<f64>::zeros((n, 2));
        let mut y = Vec::with_capacity(n);
        for i in 0..n {
            let (a, b): (f64, f64) = (rng.random_range(-2.0..2.0), rng.random_range(-2.0..2.0));
            x[[i, 0]] = a;
            x[[i, 1]] = b;
            y.push(rng.random::<f64>() < sigmoid(-1.0 + 1.5 * a - 0.5 * b));
        }
        (x, y)
    }

    /// alpha is per row: the same data twice over gives the same model, so the refit on
    /// all panel dates is as regularized as the fit chosen on validation.
    #[test]
    fn a_strength_means_the_same_on_more_rows() {
        let (x, y) = sample(1500, 3);
        let x2 = concatenate(Axis(0), &[x.view(), x.view()]).unwrap();
        let y2: Vec<bool> = y.iter().chain(&y).copied().collect();
        for alpha in [1e-3, 1e-1] {
            let (a, ai) = fit(&x, &y, alpha).unwrap();
            let (b, bi) = fit(&x2, &y2, alpha).unwrap();
            for (u, v) in a.iter().zip(&b).chain([(&ai, &bi)]) {
                assert!(
                    (u - v).abs() < 2e-3,
                    "alpha {alpha}: {a:?} {ai} vs {b:?} {bi}"
                );
            }
        }
        // A strong penalty shrinks the coefficients.
        let (weak, _) = fit(&x, &y, 1e-4).unwrap();
        let (strong, _) = fit(&x, &y, 1.0).unwrap();
        assert!(strong[0].abs() < 0.5 * weak[0].abs(), "{strong:?} {weak:?}");
    }

    #[test]
    fn the_gradient_norm_is_zero_at_the_fit_and_not_elsewhere() {
        let (x, y) = sample(2000, 5);
        let (coef, intercept) = fit(&x, &y, 1e-3).unwrap();
        assert!(gradient_norm(&x, &y, 1e-3, &coef, intercept) < 1e-3);
        let off = [coef[0] + 0.5, coef[1]];
        assert!(gradient_norm(&x, &y, 1e-3, &off, intercept) > 0.05);
    }

    #[test]
    fn platt_scaling_repairs_overconfident_log_odds() {
        let (x, y) = sample(4000, 9);
        // Log-odds three times too large: the right ranking, probabilities too extreme.
        let (coef, intercept) = fit(&x, &y, 1e-4).unwrap();
        let loud: Vec<f64> = coef.iter().map(|w| 3.0 * w).collect();
        let c = calibrate(&x, &y, &loud, 3.0 * intercept).unwrap().unwrap();
        assert!((c.slope - 1.0 / 3.0).abs() < 0.05, "{c:?}");
        assert!(c.brier_after < c.brier_before - 0.01, "{c:?}");
        // Already calibrated: Platt changes next to nothing.
        if let Some(c) = calibrate(&x, &y, &coef, intercept).unwrap() {
            assert!(
                (c.slope - 1.0).abs() < 0.05 && c.intercept.abs() < 0.05,
                "{c:?}"
            );
            assert!(c.brier_before - c.brier_after < 1e-3, "{c:?}");
        }
    }

    #[test]
    fn population_shift_names_the_feature_that_moved() {
        // One feature moves by two standard deviations, the other stays.
        let (x, _) = sample(3000, 1);
        let mut now = x.clone();
        now.column_mut(0).mapv_inplace(|v| v + 2.3);
        let shift = population_shift(&["moved".into(), "still".into()], &x, &now);
        assert_eq!(shift.len(), 1);
        assert_eq!(shift[0].name, "moved");
        assert!(shift[0].psi > 1.0, "{shift:?}");
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
            matches!(zero_horizon.check(), Err(Error::InvalidArgument { ref name, .. }) if name == "horizon_days")
        );
        let one_date = TrainOptions {
            panel_dates: 1,
            ..TrainOptions::new(0, rule)
        };
        assert!(
            matches!(one_date.check(), Err(Error::InvalidArgument { ref name, .. }) if name == "panel_dates")
        );
    }

    #[test]
    fn a_model_worse_than_recency_is_said() {
        let y = [false, true, false, true];
        let good = evaluate(&[0.2, 0.8, 0.3, 0.7], &y);
        let bad = evaluate(&[0.6, 0.4, 0.5, 0.5], &y);
        let note = worse_than_baseline(&bad, &good).unwrap();
        assert!(
            note.starts_with("the model predicts its validation date worse than days since the last value action alone (log loss 0.8047 against 0.2899, Brier 0.3050 against 0.0650)"),
            "{note}"
        );
        assert_eq!(worse_than_baseline(&good, &bad), None);
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
        assert!(matches!(err, Error::TooFewLabels { churned: 1, .. }));
        assert!(!err.to_string().contains("--active-days"), "{err}");
        // A year's horizon over the last 28 days' users: the activity window is named.
        let yearly = TrainOptions {
            rule: LabelRule {
                horizon_days: 365,
                ..rule
            },
            ..opts
        };
        let err = check_classes("the validation date", &[true, false, false], &yearly)
            .unwrap_err()
            .to_string();
        assert!(
            err.ends_with("; each date's users are those active in the 28 days before it against a 365-day horizon: for a product used less often than that, widen the activity window to the horizon (`--active-days 365`, `[labels] active_days`)"),
            "{err}"
        );
    }
}
