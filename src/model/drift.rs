//! Drift: how far today's population has moved from the one the model was validated on,
//! as the Population Stability Index per feature and on the score.
//!
//! At training, each feature's (transformed) values and the model's scores on the
//! population of the training as-of date (the users it would have scored that day) are
//! cut into up to ten bins at their deciles; the bin edges and shares are stored in the
//! model file. At scoring, today's values are counted into the same
//! bins and `PSI = Σ (actual − expected) · ln(actual / expected)`, with shares floored at
//! 0.0001 so an empty bin does not make it infinite. The usual reading (churnkit's and the
//! credit-scoring literature's): below 0.1 stable, 0.1–0.2 worth a look, 0.2 and above
//! the population has changed and the model should be retrained.

use std::collections::BTreeMap;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// Bins per distribution (deciles; fewer when values tie).
pub const BINS: usize = 10;

/// The smallest share a bin counts with.
const FLOOR: f64 = 1e-4;

/// One distribution, binned: value `v` falls in the first bin whose upper edge is ≥ `v`,
/// the last bin being open above.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// Upper edges of all bins but the last, increasing.
    pub edges: Vec<f64>,
    /// Share of the reference values in each bin (`edges.len() + 1` entries, sum 1).
    pub shares: Vec<f64>,
}

impl Histogram {
    /// Bins `values` at their deciles.
    pub fn fit(values: &[f64]) -> Self {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        sorted.sort_by(f64::total_cmp);
        let mut edges: Vec<f64> = Vec::with_capacity(BINS - 1);
        if !sorted.is_empty() {
            for k in 1..BINS {
                let e = sorted[(k * sorted.len() / BINS).saturating_sub(1)];
                // An edge at the maximum would leave the open last bin empty.
                if edges.last().is_none_or(|&last| e > last) && e < sorted[sorted.len() - 1] {
                    edges.push(e);
                }
            }
        }
        let shares = Self::count(&edges, &sorted);
        Histogram { edges, shares }
    }

    /// Shares of `values` in this histogram's bins.
    pub fn shares_of(&self, values: &[f64]) -> Vec<f64> {
        Self::count(&self.edges, values)
    }

    /// PSI of `values` against this reference.
    pub fn psi(&self, values: &[f64]) -> f64 {
        psi(&self.shares, &self.shares_of(values))
    }

    fn count(edges: &[f64], values: &[f64]) -> Vec<f64> {
        let mut counts = vec![0usize; edges.len() + 1];
        let mut n = 0usize;
        for &v in values.iter().filter(|v| v.is_finite()) {
            counts[edges.partition_point(|&e| e < v)] += 1;
            n += 1;
        }
        counts
            .into_iter()
            .map(|c| c as f64 / n.max(1) as f64)
            .collect()
    }
}

/// The Population Stability Index of `actual` shares against `expected` shares.
pub fn psi(expected: &[f64], actual: &[f64]) -> f64 {
    expected
        .iter()
        .zip(actual)
        .map(|(&e, &a)| {
            let (e, a) = (e.max(FLOOR), a.max(FLOOR));
            (a - e) * (a / e).ln()
        })
        .sum()
}

/// What the model file keeps to measure drift against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReference {
    /// The date whose population the reference describes (the training as-of date).
    pub as_of: String,
    pub rows: usize,
    /// Per feature, in the model's feature order: the transformed values' histogram.
    pub features: Vec<(String, Histogram)>,
    /// The model's churn probabilities on that population.
    pub score: Histogram,
}

impl DriftReference {
    /// Bins each column of `x` (transformed features, named by `names`) and the scores.
    pub fn fit(as_of: String, names: &[String], x: &Array2<f64>, scores: &[f64]) -> Self {
        let features = names
            .iter()
            .enumerate()
            .map(|(j, n)| (n.clone(), Histogram::fit(&x.column(j).to_vec())))
            .collect();
        DriftReference {
            as_of,
            rows: x.nrows(),
            features,
            score: Histogram::fit(scores),
        }
    }

    /// Today's drift: PSI per feature and on the score.
    pub fn measure(&self, x: &Array2<f64>, scores: &[f64], thresholds: Thresholds) -> Drift {
        let features: BTreeMap<String, f64> = self
            .features
            .iter()
            .enumerate()
            .map(|(j, (n, h))| (n.clone(), round4(h.psi(&x.column(j).to_vec()))))
            .collect();
        let score = round4(self.score.psi(scores));
        let (max_feature, max_feature_psi) = features
            .iter()
            .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(n, v)| (n.clone(), *v))
            .unwrap_or_default();
        let worst = score.max(max_feature_psi);
        let level = if worst >= thresholds.act {
            DriftLevel::Act
        } else if worst >= thresholds.warn {
            DriftLevel::Warn
        } else {
            DriftLevel::Stable
        };
        Drift {
            reference_as_of: self.as_of.clone(),
            score_psi: score,
            max_feature,
            max_feature_psi,
            level,
            warn: thresholds.warn,
            act: thresholds.act,
            features,
        }
    }
}

/// PSI thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// At or above: worth a look (default 0.1).
    pub warn: f64,
    /// At or above: retrain (default 0.2).
    pub act: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            warn: 0.1,
            act: 0.2,
        }
    }
}

/// How worried to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftLevel {
    Stable,
    Warn,
    Act,
}

/// Drift of one run, for the manifest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Drift {
    pub reference_as_of: String,
    pub score_psi: f64,
    pub max_feature: String,
    pub max_feature_psi: f64,
    pub level: DriftLevel,
    pub warn: f64,
    pub act: f64,
    /// PSI per feature.
    pub features: BTreeMap<String, f64>,
}

impl Drift {
    /// One line for the log and the retrain reason.
    pub fn describe(&self) -> String {
        format!(
            "score PSI {:.3}, largest feature PSI {:.3} ({}), against {}",
            self.score_psi, self.max_feature_psi, self.max_feature, self.reference_as_of
        )
    }
}

fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deciles_of_distinct_values_hold_a_tenth_each() {
        let v: Vec<f64> = (0..1000).map(f64::from).collect();
        let h = Histogram::fit(&v);
        assert_eq!(h.edges.len(), 9);
        assert!(h.shares.iter().all(|s| (s - 0.1).abs() < 1e-9), "{h:?}");
        assert!(h.psi(&v).abs() < 1e-12);
    }

    #[test]
    fn ties_merge_bins() {
        // 70% zeros: one bin holds them all.
        let v: Vec<f64> = (0..100)
            .map(|i| if i < 70 { 0.0 } else { f64::from(i) })
            .collect();
        let h = Histogram::fit(&v);
        assert!((h.shares[0] - 0.7).abs() < 1e-9, "{h:?}");
        assert!((h.shares.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        // A constant column has one bin and no drift from itself.
        let c = Histogram::fit(&[3.0; 50]);
        assert_eq!((c.edges.len(), c.shares.clone()), (0, vec![1.0]));
        assert_eq!(c.psi(&[3.0; 10]), 0.0);
    }

    #[test]
    fn psi_matches_a_hand_computed_value() {
        // Two bins, 50/50 expected, 70/30 actual:
        // (0.7−0.5)·ln(0.7/0.5) + (0.3−0.5)·ln(0.3/0.5) = 0.0673 + 0.1022 = 0.1695.
        let p = psi(&[0.5, 0.5], &[0.7, 0.3]);
        assert!((p - 0.16946).abs() < 1e-4, "{p}");
    }

    #[test]
    fn a_shifted_population_crosses_the_act_threshold() {
        let reference: Vec<f64> = (0..2000).map(|i| f64::from(i % 100)).collect();
        let x = Array2::from_shape_vec((2000, 1), reference.clone()).unwrap();
        let r = DriftReference::fit("2026-01-01".into(), &["f".into()], &x, &reference);
        let same = r.measure(&x, &reference, Thresholds::default());
        assert_eq!(same.level, DriftLevel::Stable);
        let shifted: Vec<f64> = reference.iter().map(|v| v + 30.0).collect();
        let xs = Array2::from_shape_vec((2000, 1), shifted.clone()).unwrap();
        let moved = r.measure(&xs, &reference, Thresholds::default());
        assert_eq!(moved.level, DriftLevel::Act);
        assert_eq!(moved.max_feature, "f");
        assert!(moved.max_feature_psi > 1.0, "{moved:?}");
        assert_eq!(moved.score_psi, 0.0);
    }
    #[test]
    fn a_reference_read_back_from_its_file_measures_its_own_population_as_stable() {
        // Log ratios pile up on a few exact values (ln 1/2, ln 2/3, 0): an edge read back
        // one bit off moves a whole pile to the next bin.
        let values: Vec<f64> = (0..3000)
            .map(|i| match i % 6 {
                0 => (1.0f64 / 2.0).ln(),
                1 => (2.0f64 / 3.0).ln(),
                2 => (0.7276f64).ln(),
                3 => 0.0,
                4 => (4.0f64 / 3.0).ln(),
                _ => f64::from(i % 97) / 41.0,
            })
            .collect();
        let x = Array2::from_shape_vec((values.len(), 1), values.clone()).unwrap();
        let fitted = DriftReference::fit("2026-01-01".into(), &["trend".into()], &x, &values);
        let read: DriftReference =
            serde_json::from_str(&serde_json::to_string_pretty(&fitted).unwrap()).unwrap();
        assert_eq!(read, fitted);
        let drift = read.measure(&x, &values, Thresholds::default());
        assert_eq!((drift.max_feature_psi, drift.score_psi), (0.0, 0.0));
    }
}
