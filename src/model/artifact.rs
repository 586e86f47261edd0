//! The model file: everything needed to score, as readable JSON (format version 1).
//! Saving is atomic (temp file + rename); loading checks the format version, and
//! [`ChurnModel::check_spec`] refuses features that do not match.

use std::path::Path;

use ndarray::{Array2, ArrayView1};
use serde::{Deserialize, Serialize};

use super::drift::DriftReference;
use super::evaluate::Metrics;
use crate::base::files::write_atomic;
use crate::error::{Error, ModelProblem, Result};
use crate::features::bgnbd::BgNbdFit;
use crate::features::spec::{FeatureFile, Windows};
use crate::features::{FeatureDef, FeatureSpec, Transform};
use crate::labels::LabelRule;

/// The model file format this build reads and writes.
pub const FORMAT_VERSION: u32 = 2;

/// One feature of a fitted model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelFeature {
    pub name: String,
    pub meaning: String,
    pub transform: Transform,
    /// Scaling: `z = (transform(x) − mean) / std`.
    pub mean: f64,
    pub std: f64,
    /// Log-odds of churn per standard deviation.
    pub coefficient: f64,
}

/// One date of the observation panel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PanelDate {
    pub as_of: String,
    pub rows: usize,
    pub churned: usize,
    /// `train`, `validation`, or `purged` (its horizon overlaps the validation horizon).
    pub role: String,
}

/// Validation result of one regularization strength.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlphaTrial {
    pub alpha: f64,
    pub log_loss: f64,
    pub roc_auc: f64,
}

/// How and on what the model was trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Training {
    /// The as-of date given to `train`; every label ends on or before it.
    pub as_of: String,
    pub panel: Vec<PanelDate>,
    /// Rows the final model was fitted on (all panel dates).
    pub rows: usize,
    pub churned: usize,
    pub base_rate: f64,
    /// The chosen L2 strength per row (the penalty against the mean log loss; linfa's
    /// alpha is this × rows, scikit-learn's C is 1 / (this × rows)).
    pub alpha: f64,
    pub alpha_search: Vec<AlphaTrial>,
    /// The signup cohorts the panel was restricted to (absent: everybody).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cohorts: Option<String>,
    /// How far the solver got on the final fit.
    pub solver: SolverCheck,
    /// The probability calibration fitted on the validation date (folded into the
    /// coefficients and intercept); absent when it did not help.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibration>,
    /// Features whose distribution in the population at the as-of date differs from the
    /// training dates' (PSI ≥ 0.2), largest first: relations learned on the panel may not
    /// hold for them at T.
    #[serde(default)]
    pub shift: Vec<FeatureShift>,
    /// Under the subscription definition: how `renewal_due` dated renewals in the
    /// training table (its cycle, and where the cycle came from).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewals: Option<String>,
    /// The subscriptions table's optional fields the features were computed from
    /// (`interval`, `trial_end`, `canceled_at`): scoring refuses a table without one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subscription_fields: Vec<String>,
}

/// The final fit's convergence: the L2 norm of the gradient of the penalized mean log
/// loss at the solution (0 at the optimum; the solver stops below 1e-4).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SolverCheck {
    pub gradient_norm: f64,
    /// `gradient_norm` ≤ 1e-3.
    pub converged: bool,
}

/// Platt scaling on the validation date: `p = σ(slope · logit + intercept)`, where logit is
/// the model's log-odds. Fitted on the predictions of the model trained without that date.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub slope: f64,
    pub intercept: f64,
    /// Brier score on the validation date before and after (the after is in-sample: the
    /// two parameters were fitted there).
    pub brier_before: f64,
    pub brier_after: f64,
}

/// One feature's population stability between the training dates and the as-of date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureShift {
    pub name: String,
    pub psi: f64,
}

/// A fitted churn model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChurnModel {
    pub format_version: u32,
    pub churnrisk_version: String,
    pub label: LabelRule,
    /// SHA-256 of the feature definitions the model was trained with.
    pub feature_fingerprint: String,
    /// Those feature definitions, as parsed (defaults filled in), for the record.
    pub feature_definitions: FeatureFile,
    /// The windows the features were computed with (the file's, else the rule's for the
    /// horizon and the log's cadence); scoring uses the same.
    pub windows: Windows,
    /// The log's typical gap between a user's value actions at training, in days.
    pub typical_value_gap_days: f64,
    /// The BG/NBD model behind `bgnbd_quiet_odds`, fitted at training (absent when the
    /// log had too few users with a value action: the feature is then 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bgnbd: Option<BgNbdFit>,
    /// The per-event-type rate features' event names, in order.
    pub event_types: Vec<String>,
    pub features: Vec<ModelFeature>,
    pub intercept: f64,
    pub training: Training,
    /// The model fitted on the training dates, evaluated on the validation date.
    pub validation: Metrics,
    /// The recency-only baseline (days since the last value action), same dates.
    pub baseline: Metrics,
    /// Feature and score distributions on the validation date, to measure drift against.
    /// Absent in models written before drift was measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_reference: Option<DriftReference>,
    /// The validation date's out-of-sample predictions (the fit on the training dates
    /// only), for the report's curves. Absent in older model files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_predictions: Option<ValidationPredictions>,
}

/// Out-of-sample probabilities on the validation date, rounded to 4 decimals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationPredictions {
    pub churned: Vec<bool>,
    pub model: Vec<f64>,
    /// The recency baseline's probabilities.
    pub baseline: Vec<f64>,
}

impl ChurnModel {
    /// The format version of a model file written by an older churnrisk (a JSON object
    /// whose `format_version` is below this build's), else `None`.
    pub fn older_format(path: &Path) -> Option<u64> {
        let bytes = std::fs::read(path).ok()?;
        let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        let v = value.get("format_version")?.as_u64()?;
        (v < u64::from(FORMAT_VERSION)).then_some(v)
    }

    /// Reads a model file.
    pub fn load(path: &Path) -> Result<Self> {
        if !path.is_file() {
            return Err(Error::MissingFile { path: path.into() });
        }
        let bytes = std::fs::read(path).map_err(|e| Error::read(path, e))?;
        let bad = |problem: ModelProblem| Error::BadModel {
            path: path.into(),
            problem,
        };
        let json = |e: serde_json::Error| {
            bad(ModelProblem::Json {
                message: e.to_string(),
            })
        };
        // Not UTF-8 is not JSON: the JSON parser says so, as a bad model.
        let version: serde_json::Value = serde_json::from_slice(&bytes).map_err(json)?;
        match version.get("format_version").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(FORMAT_VERSION) => {}
            Some(found) => {
                return Err(bad(ModelProblem::Version {
                    found,
                    reads: FORMAT_VERSION,
                }))
            }
            None => return Err(bad(ModelProblem::NoVersion)),
        }
        let model: ChurnModel = serde_json::from_value(version).map_err(json)?;
        model.check_parameters().map_err(bad)?;
        Ok(model)
    }

    /// Refuses parameters that cannot score: a scale below 1e-9 or non-finite, a mean
    /// beyond ±1e15, or a coefficient or intercept that is not a finite log-odds of a
    /// sane size (beyond ±1e6 per standard deviation no fit produces; it would turn every
    /// probability into 0, 1 or NaN).
    fn check_parameters(&self) -> std::result::Result<(), ModelProblem> {
        const MAX_LOG_ODDS: f64 = 1e6;
        // Training gives a constant feature the scale 1; a smaller scale than this turns
        // a difference of one unit into an overflow.
        const MIN_STD: f64 = 1e-9;
        const MAX_MEAN: f64 = 1e15;
        for f in &self.features {
            if !(f.std.is_finite() && f.std >= MIN_STD) {
                return Err(ModelProblem::Scale {
                    feature: f.name.clone(),
                    std: f.std,
                    min: MIN_STD,
                });
            }
            if !(f.mean.is_finite() && f.mean.abs() <= MAX_MEAN) {
                return Err(ModelProblem::Mean {
                    feature: f.name.clone(),
                    mean: f.mean,
                });
            }
            if !(f.coefficient.is_finite() && f.coefficient.abs() <= MAX_LOG_ODDS) {
                return Err(ModelProblem::Coefficient {
                    feature: f.name.clone(),
                    value: f.coefficient,
                });
            }
        }
        if !(self.intercept.is_finite() && self.intercept.abs() <= MAX_LOG_ODDS) {
            return Err(ModelProblem::Intercept {
                value: self.intercept,
            });
        }
        // The windows and cadence the features are computed with, as a feature file may
        // set them (1 to 3650 days, the long window at least the recent one).
        let w = &self.windows;
        let days = [w.recent_days, w.prior_days, w.long_days];
        if days.iter().any(|d| !(1..=3650).contains(d)) || w.long_days < w.recent_days {
            return Err(ModelProblem::Windows {
                recent: w.recent_days,
                prior: w.prior_days,
                long: w.long_days,
            });
        }
        let gap = self.typical_value_gap_days;
        if !(gap.is_finite() && (0.0..=3650.0).contains(&gap)) {
            return Err(ModelProblem::ValueGap { days: gap });
        }
        if let Some(f) = &self.bgnbd {
            if !f.params.is_valid() {
                let m = f.params;
                return Err(ModelProblem::BgNbd {
                    params: format!(
                        "r {} alpha {} a {} b {} horizon {} days",
                        m.r, m.alpha, m.a, m.b, m.horizon_days
                    ),
                });
            }
        }
        Ok(())
    }

    /// Writes the model atomically (pretty JSON, trailing newline).
    pub fn save(&self, path: &Path) -> Result<()> {
        write_atomic(path, &self.to_bytes(path)?)
    }

    /// The model file's bytes (pretty JSON, trailing newline); `path` names it in errors.
    pub fn to_bytes(&self, path: &Path) -> Result<Vec<u8>> {
        let mut text = serde_json::to_string_pretty(self).map_err(|e| Error::BadModel {
            path: path.into(),
            problem: ModelProblem::Json {
                message: e.to_string(),
            },
        })?;
        text.push('\n');
        Ok(text.into_bytes())
    }

    /// Fails unless the feature definitions are the ones the model was trained with.
    pub fn check_spec(&self, spec: &FeatureSpec) -> Result<()> {
        if self.feature_fingerprint != spec.fingerprint {
            return Err(Error::FeatureFileChanged {
                trained_with: self.feature_fingerprint.clone(),
                file: spec.path.clone(),
                fingerprint: spec.fingerprint.clone(),
            });
        }
        Ok(())
    }

    /// The feature definitions to compute this model's features with: `spec` (which must
    /// be compatible) with the model's windows and cadence.
    pub fn resolve(&self, spec: &FeatureSpec) -> Result<FeatureSpec> {
        self.check_compatible(spec)?;
        Ok(self.resolved(spec))
    }

    fn resolved(&self, spec: &FeatureSpec) -> FeatureSpec {
        spec.with_resolved(
            self.windows,
            self.typical_value_gap_days,
            self.bgnbd.map(|f| f.params),
            self.label.renewal_horizon_days(),
        )
    }

    /// Fails unless this build computes exactly the model's features from `spec`: same
    /// definitions (fingerprint) and same catalog (a model from an older churnrisk may
    /// name features this build no longer computes).
    pub fn check_compatible(&self, spec: &FeatureSpec) -> Result<()> {
        self.check_spec(spec)?;
        self.check_features(&crate::features::catalog(
            &self.resolved(spec),
            &self.event_types,
        ))
    }

    /// Fails when the model's features were computed from a subscriptions field `subs`
    /// has no column for: they would be 0 for every subscriber, and the list quietly wrong.
    pub fn check_subscription_fields(&self, subs: &crate::ingest::Subscriptions) -> Result<()> {
        let present = subs.dating_fields();
        match self
            .training
            .subscription_fields
            .iter()
            .find(|f| !present.contains(f))
        {
            None => Ok(()),
            Some(field) => Err(Error::SubscriptionFieldGone {
                path: subs.path.clone(),
                field: field.clone(),
            }),
        }
    }

    /// Fails unless `defs` are exactly the model's features, in order.
    pub fn check_features(&self, defs: &[FeatureDef]) -> Result<()> {
        let expected: Vec<String> = self.features.iter().map(|f| f.name.clone()).collect();
        let found: Vec<String> = defs.iter().map(|d| d.name.clone()).collect();
        if expected != found {
            return Err(Error::FeatureMismatch { expected, found });
        }
        Ok(())
    }

    /// Standardizes a transformed matrix with the model's scaling.
    pub fn standardize(&self, x: &Array2<f64>) -> Array2<f64> {
        let (mean, std): (Vec<f64>, Vec<f64>) =
            self.features.iter().map(|f| (f.mean, f.std)).unzip();
        super::matrix::standardize(x, &mean, &std)
    }

    /// Churn probability of one standardized row.
    pub fn probability(&self, z: ArrayView1<f64>) -> f64 {
        super::matrix::logistic(
            z,
            self.features.iter().map(|f| f.coefficient),
            self.intercept,
        )
    }
}

/// The logistic function, stable for large |x|.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigmoid_is_stable() {
        assert_eq!(sigmoid(0.0), 0.5);
        assert!(sigmoid(800.0) <= 1.0 && sigmoid(-800.0) >= 0.0);
        assert!((sigmoid(2.0) + sigmoid(-2.0) - 1.0).abs() < 1e-15);
    }

    #[test]
    fn rejects_other_format_versions_and_non_models() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.json");
        std::fs::write(&p, r#"{"format_version": 99}"#).unwrap();
        assert!(matches!(
            ChurnModel::load(&p).unwrap_err(),
            Error::BadModel {
                problem: ModelProblem::Version {
                    found: 99,
                    reads: FORMAT_VERSION
                },
                ..
            }
        ));
        std::fs::write(&p, r#"{"hello": 1}"#).unwrap();
        assert!(matches!(
            ChurnModel::load(&p).unwrap_err(),
            Error::BadModel {
                problem: ModelProblem::NoVersion,
                ..
            }
        ));
        std::fs::write(&p, "not json").unwrap();
        assert!(matches!(
            ChurnModel::load(&p).unwrap_err(),
            Error::BadModel { .. }
        ));
    }

    #[test]
    fn refuses_parameters_that_cannot_score() {
        let dir = tempfile::tempdir().unwrap();
        let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/sample.json");
        let good: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&sample).unwrap()).unwrap();
        let p = dir.path().join("m.json");
        std::fs::write(&p, good.to_string()).unwrap();
        assert!(ChurnModel::load(&p).is_ok());
        let cases: [(&str, serde_json::Value, &str); 11] = [
            ("/features/0/std", 0.0.into(), "scale (std) 0e0"),
            ("/features/1/std", (-1.0).into(), "scale (std) -1e0"),
            ("/features/1/std", 1e-320.into(), "scale (std) 1e-320"),
            (
                "/features/0/coefficient",
                1e308.into(),
                "not a fitted log-odds",
            ),
            ("/features/2/mean", serde_json::Value::Null, "invalid type"),
            ("/intercept", (-1e300).into(), "intercept"),
            ("/windows/recent_days", 0.into(), "windows 0 / 28 / 90"),
            (
                "/windows/long_days",
                4_000_000_000u64.into(),
                "1 to 3650 days",
            ),
            (
                "/typical_value_gap_days",
                (-5.0).into(),
                "typical_value_gap_days -5",
            ),
            ("/bgnbd/r", (-1.0).into(), "bgnbd r -1 alpha"),
            ("/bgnbd/horizon_days", 0.into(), "horizon 0 days"),
        ];
        for (at, value, says) in cases {
            let mut bad = good.clone();
            *bad.pointer_mut(at).unwrap() = value;
            std::fs::write(&p, bad.to_string()).unwrap();
            let err = ChurnModel::load(&p).unwrap_err();
            assert!(
                matches!(err, Error::BadModel { .. }) && err.to_string().contains(says),
                "{at}: {err}"
            );
        }
    }

    #[test]
    fn a_mutated_model_file_is_refused_never_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/sample.json");
        let good = std::fs::read(&sample).unwrap();
        let p = dir.path().join("m.json");
        let mut x: u64 = 11;
        let mut next = |m: usize| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as usize % m.max(1)
        };
        let (mut loaded, mut refused) = (0, 0);
        for _ in 0..300 {
            let mut b = good.clone();
            let at = next(b.len());
            match next(4) {
                0 => b[at] ^= 1 << next(8),
                1 => b.truncate(at),
                2 => b.insert(at, b"-9e99\"{},:"[next(10)]),
                _ => {
                    // A number made huge, negative or zero where a digit stood.
                    if b[at].is_ascii_digit() {
                        b.splice(at..at + 1, b"1e308".iter().copied());
                    } else {
                        b[at] = b'0';
                    }
                }
            }
            std::fs::write(&p, &b).unwrap();
            match ChurnModel::load(&p) {
                Ok(_) => loaded += 1,
                Err(e) => {
                    refused += 1;
                    assert!(matches!(e, Error::BadModel { .. }), "{e}");
                }
            }
        }
        assert!(loaded > 10 && refused > 100, "{loaded} {refused}");
    }
}
