//! Plain-text summaries for the terminal: the training evaluation beside its baseline with
//! the coefficient table, and the ranked list's head. Pure formatting: returns strings.

use std::fmt::Write;

use crate::list::rank::{RankedRow, Tier};
use crate::model::ChurnModel;

/// The evaluation printed by `train`.
pub fn training_summary(model: &ChurnModel) -> String {
    let mut s = String::new();
    write_fit(&mut s, model);
    write_panel(&mut s, model);
    write_validation(&mut s, model);
    write_coefficients(&mut s, model);
    s
}

/// The fit: rows, windows, solver, calibration, and the population's shift since.
fn write_fit(s: &mut String, model: &ChurnModel) {
    let t = &model.training;
    let _ = writeln!(
        s,
        "trained on {} rows from {} panel dates (base rate {:.1}%), alpha {} per row",
        t.rows,
        t.panel.len(),
        t.base_rate * 100.0,
        t.alpha
    );
    let w = &model.windows;
    let _ = writeln!(
        s,
        "windows: recent {} days, prior {}, long {} (typical gap between value actions {:.1} days)",
        w.recent_days, w.prior_days, w.long_days, model.typical_value_gap_days
    );
    if let Some(r) = &t.renewals {
        let _ = writeln!(s, "renewals: {r}");
    }
    // Which event types have rates of their own: a release's new event types can push
    // others out of the `top` (a helper found two gone only by diffing model files).
    if !model.event_types.is_empty() {
        let _ = writeln!(
            s,
            "event types with rates of their own (the {} most frequent, `[event_rates] top`): {}",
            model.event_types.len(),
            model.event_types.join(", ")
        );
    }
    let _ = writeln!(
        s,
        "solver: gradient norm {:.1e} ({})",
        t.solver.gradient_norm,
        if t.solver.converged {
            "converged"
        } else {
            "NOT converged"
        }
    );
    match &t.calibration {
        Some(c) => {
            let _ = writeln!(
                s,
                "calibration (Platt, on the validation date): slope {:.3}, intercept {:+.3}; Brier {:.4} -> {:.4}",
                c.slope, c.intercept, c.brier_before, c.brier_after
            );
        }
        None => {
            let _ = writeln!(s, "calibration: none (it did not lower the Brier score)");
        }
    }
    if !t.shift.is_empty() {
        let top: Vec<String> = t
            .shift
            .iter()
            .take(5)
            .map(|f| format!("{} {:.2}", f.name, f.psi))
            .collect();
        let _ = writeln!(
            s,
            "population shift at {} vs the training dates (PSI >= 0.2): {} feature(s), largest {}",
            t.as_of,
            t.shift.len(),
            top.join(", ")
        );
    }
}

/// The panel's dates, each with its role, rows and churn share.
fn write_panel(s: &mut String, model: &ChurnModel) {
    let _ = writeln!(
        s,
        "panel (alpha is chosen on the validation date by fits on the train dates; purged dates, whose horizons overlap the validation date's, sit that out; the final fit uses every date):"
    );
    for d in &model.training.panel {
        let _ = writeln!(
            s,
            "  {}  {:>10}  {:>6} rows  {:>5.1}% churned",
            d.as_of,
            d.role,
            d.rows,
            pct(d.churned, d.rows)
        );
    }
}

/// The validation metrics beside the baseline's, and the alpha search.
fn write_validation(s: &mut String, model: &ChurnModel) {
    let t = &model.training;
    let v = &model.validation;
    let b = &model.baseline;
    let val_date = t.panel.first().map(|d| d.as_of.as_str()).unwrap_or("-");
    let _ = writeln!(
        s,
        "validation on {val_date} ({} users, {} churned):",
        v.rows, v.churned
    );
    let _ = writeln!(s, "  {:<22} {:>8} {:>10}", "metric", "model", "baseline");
    for (name, f) in crate::model::evaluate::HEADLINE {
        let _ = writeln!(s, "  {:<22} {:>8.4} {:>10.4}", name, f(v), f(b));
    }
    let _ = writeln!(s, "  (baseline: days since the last value action alone)");
    let _ = writeln!(
        s,
        "alpha search (validation log loss / ROC AUC; * = the lowest log loss):"
    );
    for a in &t.alpha_search {
        let mark = if a.alpha == t.alpha { " *" } else { "" };
        let _ = writeln!(
            s,
            "  alpha {:>8}  {:.4}  {:.4}{mark}",
            a.alpha, a.log_loss, a.roc_auc
        );
    }
}

/// The coefficients, largest magnitude first (ties by name), then the intercept.
fn write_coefficients(s: &mut String, model: &ChurnModel) {
    let _ = writeln!(
        s,
        "coefficients (log-odds of churn per standard deviation), largest first:"
    );
    let mut features: Vec<_> = model.features.iter().collect();
    features.sort_by(|a, b| {
        b.coefficient
            .abs()
            .total_cmp(&a.coefficient.abs())
            .then(a.name.cmp(&b.name))
    });
    for f in features {
        let _ = writeln!(s, "  {:>+8.3}  {:<32} {}", f.coefficient, f.name, f.meaning);
    }
    let _ = writeln!(s, "  {:>+8.3}  (intercept)", model.intercept);
}

/// The summary printed by `score` and `run`: the night, counts by tier and the top rows
/// (the date tells nights apart in a log appended to every night).
pub fn ranked_summary(rows: &[RankedRow], as_of: &str, top: usize) -> String {
    let mut s = String::new();
    let count = |t: Tier| rows.iter().filter(|r| r.tier == t).count();
    let _ = writeln!(
        s,
        "scored {} users as of {as_of}: {} high, {} medium, {} low risk",
        rows.len(),
        count(Tier::High),
        count(Tier::Medium),
        count(Tier::Low)
    );
    if rows.is_empty() {
        return s;
    }
    let _ = writeln!(s, "top {}:", top.min(rows.len()));
    for r in rows.iter().take(top) {
        let _ = writeln!(
            s,
            "  {:>3}. {:<12} {:.3} {:<6} {:<20} {}",
            r.rank,
            r.user_id,
            r.probability,
            r.tier.label(),
            r.play.label(),
            r.reasons.join("; ")
        );
    }
    s
}

fn pct(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 * 100.0 / b as f64
    }
}
