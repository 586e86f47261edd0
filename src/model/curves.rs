//! The curves an evaluation report draws, from (score, label) pairs: ROC and
//! precision-recall points at every distinct threshold, lift and cumulative gain by
//! decile, and the score histogram split by outcome. Pure functions; the report draws
//! them, the JSON carries the same numbers.

use serde::Serialize;

/// One point of a curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

/// One decile of the ranking (1 = the 10% most at risk).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Decile {
    pub decile: usize,
    pub rows: usize,
    pub churned: usize,
    /// Churn rate in the decile ÷ overall churn rate.
    pub lift: f64,
    /// Share of all churned users found in deciles 1…this one.
    pub cumulative_gain: f64,
}

/// Score histogram: equal-width bins on [0, 1], counts of churned and retained users.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Histogram {
    /// Lower edges; bin k is [edges[k], edges[k] + width).
    pub edges: Vec<f64>,
    pub width: f64,
    pub churned: Vec<usize>,
    pub retained: Vec<usize>,
}

/// All curves of one set of predictions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Curves {
    /// (false-positive rate, true-positive rate), from (0, 0) to (1, 1).
    pub roc: Vec<Point>,
    /// (recall, precision), from the highest threshold down.
    pub pr: Vec<Point>,
    pub deciles: Vec<Decile>,
    pub histogram: Histogram,
}

/// Computes every curve; `score` higher means more at risk, `y` true when churned.
pub fn curves(score: &[f64], y: &[bool], bins: usize) -> Curves {
    let n = score.len();
    let pos = y.iter().filter(|&&v| v).count();
    let neg = n - pos;
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| score[b].total_cmp(&score[a]).then(a.cmp(&b)));

    let mut roc = vec![Point { x: 0.0, y: 0.0 }];
    let mut pr = Vec::new();
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut i = 0;
    while i < n {
        // All rows tied at this score cross the threshold together.
        let mut j = i;
        while j + 1 < n && score[order[j + 1]] == score[order[i]] {
            j += 1;
        }
        for &k in &order[i..=j] {
            if y[k] {
                tp += 1;
            } else {
                fp += 1;
            }
        }
        roc.push(Point {
            x: ratio(fp, neg),
            y: ratio(tp, pos),
        });
        pr.push(Point {
            x: ratio(tp, pos),
            y: ratio(tp, tp + fp),
        });
        i = j + 1;
    }

    let base = ratio(pos, n);
    let mut found = 0;
    let deciles = (0..10)
        .filter_map(|d| {
            let (lo, hi) = (d * n / 10, (d + 1) * n / 10);
            if hi <= lo {
                return None;
            }
            let churned = order[lo..hi].iter().filter(|&&k| y[k]).count();
            found += churned;
            Some(Decile {
                decile: d + 1,
                rows: hi - lo,
                churned,
                lift: if base > 0.0 {
                    ratio(churned, hi - lo) / base
                } else {
                    0.0
                },
                cumulative_gain: ratio(found, pos),
            })
        })
        .collect();

    let bins = bins.max(1);
    let width = 1.0 / bins as f64;
    let mut histogram = Histogram {
        edges: (0..bins).map(|k| k as f64 * width).collect(),
        width,
        churned: vec![0; bins],
        retained: vec![0; bins],
    };
    for (&s, &churned) in score.iter().zip(y) {
        let k = ((s.clamp(0.0, 1.0) / width) as usize).min(bins - 1);
        if churned {
            histogram.churned[k] += 1;
        } else {
            histogram.retained[k] += 1;
        }
    }
    Curves {
        roc,
        pr,
        deciles,
        histogram,
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::evaluate::{average_precision, roc_auc};

    /// Area under a piecewise-linear curve.
    fn trapezoid(points: &[Point]) -> f64 {
        points
            .windows(2)
            .map(|w| (w[1].x - w[0].x) * (w[1].y + w[0].y) / 2.0)
            .sum()
    }

    #[test]
    fn hand_computed_curves_on_five_users() {
        // Scores 0.9 (churned), 0.8 (retained), 0.7 (churned), 0.3 (retained), 0.1 (retained).
        let s = [0.9, 0.8, 0.7, 0.3, 0.1];
        let y = [true, false, true, false, false];
        let c = curves(&s, &y, 5);
        let xy: Vec<(f64, f64)> = c.roc.iter().map(|p| (p.x, p.y)).collect();
        assert_eq!(
            xy,
            [
                (0.0, 0.0),
                (0.0, 0.5),
                (1.0 / 3.0, 0.5),
                (1.0 / 3.0, 1.0),
                (2.0 / 3.0, 1.0),
                (1.0, 1.0)
            ]
        );
        // The trapezoid area equals the rank-sum AUC: 5 of 6 pairs ordered right.
        assert!((trapezoid(&c.roc) - 5.0 / 6.0).abs() < 1e-12);
        assert!((roc_auc(&s, &y) - 5.0 / 6.0).abs() < 1e-12);
        let pr: Vec<(f64, f64)> = c.pr.iter().map(|p| (p.x, p.y)).collect();
        assert_eq!(pr[..3], [(0.5, 1.0), (0.5, 0.5), (1.0, 2.0 / 3.0)]);
        // Step-wise area under PR = average precision: 0.5·1 + 0.5·(2/3).
        assert!((average_precision(&s, &y) - (0.5 + 1.0 / 3.0)).abs() < 1e-12);
        // Histogram bins of width 0.2: 0.1 → 0, 0.3 → 1, 0.7 → 3, 0.8 and 0.9 → 4.
        assert_eq!(c.histogram.churned, [0, 0, 0, 1, 1]);
        assert_eq!(c.histogram.retained, [1, 1, 0, 0, 1]);
    }

    #[test]
    fn deciles_lift_and_gain() {
        // 20 users, scores descending; churned: ranks 1, 2, 3 and 11.
        let s: Vec<f64> = (0..20).map(|i| 1.0 - i as f64 / 20.0).collect();
        let y: Vec<bool> = (0..20).map(|i| [0, 1, 2, 10].contains(&i)).collect();
        let c = curves(&s, &y, 10);
        assert_eq!(c.deciles.len(), 10);
        // Decile 1 = ranks 1–2: both churned; base rate 4/20 = 0.2 → lift 5.
        assert_eq!((c.deciles[0].rows, c.deciles[0].churned), (2, 2));
        assert!((c.deciles[0].lift - 5.0).abs() < 1e-12);
        assert!((c.deciles[0].cumulative_gain - 0.5).abs() < 1e-12);
        assert!((c.deciles[1].lift - 2.5).abs() < 1e-12);
        assert!((c.deciles[5].cumulative_gain - 1.0).abs() < 1e-12);
        assert!((c.deciles[9].cumulative_gain - 1.0).abs() < 1e-12);
        // Ties cross together: two users at the same score make one ROC step.
        let tied = curves(&[0.5, 0.5], &[true, false], 2);
        assert_eq!(tied.roc.len(), 2);
        assert_eq!((tied.roc[1].x, tied.roc[1].y), (1.0, 1.0));
    }
}
