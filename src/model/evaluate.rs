//! Model quality on labelled rows: ROC AUC, PR AUC, log loss, Brier score, calibration by
//! decile, precision and lift in the top decile. Pure functions of (probability, label).

use serde::{Deserialize, Serialize};

/// One calibration bin: rows ranked by probability, cut into ten equal groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationBin {
    pub rows: usize,
    pub mean_predicted: f64,
    pub observed_rate: f64,
}

/// Quality of a set of predictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub rows: usize,
    pub churned: usize,
    pub base_rate: f64,
    pub roc_auc: f64,
    /// Average precision (area under the precision-recall curve, step-wise).
    pub pr_auc: f64,
    pub log_loss: f64,
    pub brier: f64,
    /// Churn rate among the top 10% most at risk.
    pub top_decile_precision: f64,
    /// `top_decile_precision / base_rate`.
    pub top_decile_lift: f64,
    /// From the highest-risk decile to the lowest.
    pub calibration: Vec<CalibrationBin>,
}

/// Reads one figure of a [`Metrics`].
pub type MetricOf = fn(&Metrics) -> f64;

/// The headline figures in display order, with how to read each from [`Metrics`]: the one
/// list the training summary, the report and `compare` print.
pub const HEADLINE: [(&str, MetricOf); 6] = [
    ("ROC AUC", |m| m.roc_auc),
    ("PR AUC", |m| m.pr_auc),
    ("log loss", |m| m.log_loss),
    ("Brier", |m| m.brier),
    ("top-decile precision", |m| m.top_decile_precision),
    ("top-decile lift", |m| m.top_decile_lift),
];

/// Computes every metric. `p` are churn probabilities, `y` true when churned.
pub fn evaluate(p: &[f64], y: &[bool]) -> Metrics {
    let n = p.len();
    let churned = y.iter().filter(|&&v| v).count();
    let base_rate = if n == 0 {
        0.0
    } else {
        churned as f64 / n as f64
    };
    let eps = 1e-15;
    let log_loss = mean(p.iter().zip(y).map(|(&p, &y)| {
        let p = p.clamp(eps, 1.0 - eps);
        if y {
            -p.ln()
        } else {
            -(1.0 - p).ln()
        }
    }));
    let brier = mean(
        p.iter()
            .zip(y)
            .map(|(&p, &y)| (p - f64::from(u8::from(y))).powi(2)),
    );
    let order = ranked(p);
    let top = n.div_ceil(10);
    let top_hits = order[..top].iter().filter(|&&i| y[i]).count();
    let top_decile_precision = if top == 0 {
        0.0
    } else {
        top_hits as f64 / top as f64
    };
    let calibration = (0..10)
        .filter_map(|d| {
            let (lo, hi) = (d * n / 10, (d + 1) * n / 10);
            (hi > lo).then(|| CalibrationBin {
                rows: hi - lo,
                mean_predicted: mean(order[lo..hi].iter().map(|&i| p[i])),
                observed_rate: mean(order[lo..hi].iter().map(|&i| f64::from(u8::from(y[i])))),
            })
        })
        .collect();
    Metrics {
        rows: n,
        churned,
        base_rate,
        roc_auc: roc_auc(p, y),
        pr_auc: average_precision(p, y),
        log_loss,
        brier,
        top_decile_precision,
        top_decile_lift: if base_rate > 0.0 {
            top_decile_precision / base_rate
        } else {
            0.0
        },
        calibration,
    }
}

/// ROC AUC by the rank-sum (Mann-Whitney) formula, ties counted half. Any score works:
/// higher means more at risk.
pub fn roc_auc(score: &[f64], y: &[bool]) -> f64 {
    let pos = y.iter().filter(|&&v| v).count() as f64;
    let neg = y.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return f64::NAN;
    }
    let mut idx: Vec<usize> = (0..score.len()).collect();
    idx.sort_by(|&a, &b| score[a].total_cmp(&score[b]));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && score[idx[j + 1]] == score[idx[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += idx[i..=j].iter().filter(|&&k| y[k]).count() as f64 * avg_rank;
        i = j + 1;
    }
    (rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
}

/// Average precision: Σ (recall_k − recall_{k−1}) · precision_k over distinct thresholds.
pub fn average_precision(score: &[f64], y: &[bool]) -> f64 {
    let pos = y.iter().filter(|&&v| v).count() as f64;
    if pos == 0.0 {
        return f64::NAN;
    }
    let order = ranked(score);
    let (mut tp, mut seen, mut ap, mut last_recall) = (0.0, 0.0, 0.0, 0.0);
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && score[order[j + 1]] == score[order[i]] {
            j += 1;
        }
        for &k in &order[i..=j] {
            seen += 1.0;
            if y[k] {
                tp += 1.0;
            }
        }
        let recall = tp / pos;
        ap += (recall - last_recall) * (tp / seen);
        last_recall = recall;
        i = j + 1;
    }
    ap
}

/// 95% intervals of model `a` minus model `b` on the same users, for ROC AUC and for Brier:
/// the 2.5th and 97.5th percentiles over `resamples` paired bootstrap resamples of the
/// users (each resample draws users with replacement and scores both models on them), with
/// a fixed seed, so a rerun prints the same interval.
pub fn paired_intervals(a: &[f64], b: &[f64], y: &[bool], resamples: usize) -> [(f64, f64); 2] {
    use rand::{Rng, SeedableRng};
    let n = y.len();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20_261_207);
    let (mut auc, mut brier) = (Vec::with_capacity(resamples), Vec::with_capacity(resamples));
    let (mut pa, mut pb, mut yy) = (vec![0.0; n], vec![0.0; n], vec![false; n]);
    for _ in 0..resamples {
        for i in 0..n {
            let k = rng.random_range(0..n);
            (pa[i], pb[i], yy[i]) = (a[k], b[k], y[k]);
        }
        let d = roc_auc(&pa, &yy) - roc_auc(&pb, &yy);
        if d.is_finite() {
            auc.push(d);
        }
        let sq = |p: &[f64]| {
            mean(
                p.iter()
                    .zip(&yy)
                    .map(|(&p, &y)| (p - f64::from(u8::from(y))).powi(2)),
            )
        };
        brier.push(sq(&pa) - sq(&pb));
    }
    let interval = |v: &mut Vec<f64>| {
        if v.is_empty() {
            return (f64::NAN, f64::NAN);
        }
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        (at(0.025), at(0.975))
    };
    [interval(&mut auc), interval(&mut brier)]
}

/// Row indices from the highest score down (ties by index, so the order is total).
fn ranked(score: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..score.len()).collect();
    idx.sort_by(|&a, &b| score[b].total_cmp(&score[a]).then(a.cmp(&b)));
    idx
}

fn mean(it: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = it.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 {
        0.0
    } else {
        s / n as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model that ranks better beyond chance has an AUC interval above 0 and a Brier
    /// interval below it; a model against itself has both at 0.
    #[test]
    fn paired_intervals_tell_a_better_model_from_the_same_one() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let n = 2000;
        let risk: Vec<f64> = (0..n).map(|_| rng.random::<f64>()).collect();
        let y: Vec<bool> = risk.iter().map(|&r| rng.random::<f64>() < r).collect();
        let noisy: Vec<f64> = risk
            .iter()
            .map(|&r| (r + rng.random::<f64>() - 0.5).clamp(0.0, 1.0))
            .collect();
        let [auc, brier] = paired_intervals(&risk, &noisy, &y, 300);
        assert!(auc.0 > 0.0 && brier.1 < 0.0, "{auc:?} {brier:?}");
        let [auc, brier] = paired_intervals(&risk, &risk, &y, 50);
        assert_eq!((auc, brier), ((0.0, 0.0), (0.0, 0.0)));
    }

    #[test]
    fn auc_of_hand_computed_cases() {
        assert_eq!(
            roc_auc(&[0.9, 0.8, 0.2, 0.1], &[true, true, false, false]),
            1.0
        );
        assert_eq!(
            roc_auc(&[0.1, 0.2, 0.8, 0.9], &[true, true, false, false]),
            0.0
        );
        // One positive above one negative, tied with the other: (1 + 0.5) / 2.
        assert_eq!(roc_auc(&[0.5, 0.5, 0.1], &[true, false, false]), 0.75);
        assert!(roc_auc(&[0.1, 0.2], &[true, true]).is_nan());
    }

    #[test]
    fn average_precision_hand_computed() {
        // Ranked: +, -, +  → precision at the hits 1/1 and 2/3 → (1 + 2/3) / 2.
        let ap = average_precision(&[0.9, 0.5, 0.1], &[true, false, true]);
        assert!((ap - (1.0 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
    }

    #[test]
    fn log_loss_brier_and_lift() {
        let p = [0.8, 0.2];
        let y = [true, false];
        let m = evaluate(&p, &y);
        assert!((m.log_loss - (-(0.8f64).ln())).abs() < 1e-12);
        assert!((m.brier - 0.04).abs() < 1e-12);
        assert_eq!(m.top_decile_precision, 1.0);
        assert_eq!(m.top_decile_lift, 2.0);
        assert_eq!(m.calibration.iter().map(|b| b.rows).sum::<usize>(), 2);
    }
}
