//! The report as one self-contained HTML page: inline SVG charts, no network.

use std::fmt::Write;

use super::svg::{bar_chart, esc, hbar_chart, heatmap, line_chart, Axes, Corner, Series};
use super::Report;
use crate::model::curves::Curves;

/// Renders the report as one HTML page (no external resources).
pub fn render_html(r: &Report) -> String {
    let mut h = String::new();
    page_head(&mut h, r);
    model_section(&mut h, r);
    model_curves(&mut h, r);
    model_calibration_and_lift(&mut h, r);
    model_gain_and_histogram(&mut h, r);
    coefficients(&mut h, r);
    drift_section(&mut h, r);
    population_section(&mut h, r);
    engagement_section(&mut h, r);
    closed_loop_section(&mut h, r);
    h.push_str("</body></html>\n");
    h
}

/// The page's head, style and title lines.
fn page_head(h: &mut String, r: &Report) {
    let m = &r.model;
    let _ = write!(
        h,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>churnrisk report {as_of}</title><style>
body{{font-family:sans-serif;max-width:1180px;margin:24px auto;color:#222}} h1{{font-size:22px}} h2{{margin-top:36px;border-bottom:1px solid #ccc}}
.charts{{display:grid;grid-template-columns:repeat(2,1fr);gap:12px}} .charts svg{{width:100%;height:auto;border:1px solid #eee}}
table{{border-collapse:collapse;margin:8px 0}} td,th{{border:1px solid #ddd;padding:3px 8px;text-align:right}} th{{background:#f4f4f4}} td.l,th.l{{text-align:left}}
.note{{color:#555;font-style:italic}}
</style></head><body><h1>churnrisk report — as of {as_of}</h1>
<p>Model trained as of {trained}, validated on {val} ({rows} users, {churned} churned). churnrisk {v}.</p>"#,
        as_of = esc(&r.as_of),
        trained = esc(&m.trained_as_of),
        val = esc(&m.validation_date),
        rows = m.metrics.rows,
        churned = m.metrics.churned,
        v = esc(&r.churnrisk_version)
    );
}

/// The model on its validation date: its metrics against the recency baseline (and a
/// previous model's); the charts and coefficients follow.
fn model_section(h: &mut String, r: &Report) {
    let m = &r.model;
    h.push_str(
        "<h2>Model</h2><table><tr><th class=l>metric</th><th>model</th><th>recency baseline</th>",
    );
    if m.previous.is_some() {
        h.push_str("<th>previous model</th>");
    }
    h.push_str("</tr>");
    // Comparable only on the same users: the same validation date, read the same way (the
    // same rows and churners; a model of an older reading of the log is not).
    let comparable = m.previous.as_ref().is_some_and(|p| {
        m.previous_validation_date.as_deref() == Some(m.validation_date.as_str())
            && (p.rows, p.churned) == (m.metrics.rows, m.metrics.churned)
    });
    for (name, f) in crate::model::evaluate::HEADLINE {
        let _ = write!(
            h,
            "<tr><td class=l>{name}</td><td>{}</td><td>{}</td>",
            num(f(&m.metrics)),
            num(f(&m.baseline))
        );
        if let Some(prev) = &m.previous {
            // Figures of two dates are not a difference: a new user read "+0.011" where
            // `compare` on one date gave +0.0013.
            if comparable {
                let _ = write!(
                    h,
                    "<td>{} ({:+.3})</td>",
                    num(f(prev)),
                    f(&m.metrics) - f(prev)
                );
            } else {
                let _ = write!(h, "<td>{}</td>", num(f(prev)));
            }
        }
        h.push_str("</tr>");
    }
    let _ = write!(
        h,
        "</table><p class=note>Figures of the model fitted on the training dates only, on the validation date it never saw; the baseline is a logistic fit on days since the last value action alone.{}{}</p><div class=charts>",
        match (&m.previous_validation_date, &m.previous) {
            (Some(d), Some(p)) if !comparable => format!(
                " The previous model's figures are those stored in its file, measured on its own validation date ({}, {} users, {} churned): other users than this model's, so no difference is shown; <code>churnrisk compare</code> puts both models on one date.",
                esc(d),
                p.rows,
                p.churned
            ),
            (Some(_), _) => " The previous model's figures are those stored in its file, on the same validation date and users; in brackets, this model's figure minus the previous one's.".to_string(),
            _ => String::new(),
        },
        if m.in_sample_curves {
            " This model file keeps no validation predictions: the curves below use the final model, which was also fitted on the validation date, and flatter it."
        } else {
            ""
        }
    );
}

/// The ROC and precision-recall curves against the baseline.
fn model_curves(h: &mut String, r: &Report) {
    let m = &r.model;
    h.push_str(&line_chart(
        "ROC curve",
        &unit("false-positive rate", "true-positive rate"),
        &[
            Series {
                name: &format!("model (AUC {:.3})", m.metrics.roc_auc),
                points: pts(&m.curves, false),
                dashed: false,
            },
            Series {
                name: &format!("baseline (AUC {:.3})", m.baseline.roc_auc),
                points: pts(&m.baseline_curves, false),
                dashed: false,
            },
            Series {
                name: "chance",
                points: vec![(0.0, 0.0), (1.0, 1.0)],
                dashed: true,
            },
        ],
        Corner::BottomRight,
        "Each point is a threshold; higher and further left ranks churners better.",
    ));
    h.push_str(&line_chart(
        "Precision-recall curve",
        &unit(
            "recall (share of churners found)",
            "precision (share of flagged who churned)",
        ),
        &[
            Series {
                name: &format!("model (AP {:.3})", m.metrics.pr_auc),
                points: pts(&m.curves, true),
                dashed: false,
            },
            Series {
                name: &format!("baseline (AP {:.3})", m.baseline.pr_auc),
                points: pts(&m.baseline_curves, true),
                dashed: false,
            },
            Series {
                name: &format!("base rate {:.1}%", m.metrics.base_rate * 100.0),
                points: vec![(0.0, m.metrics.base_rate), (1.0, m.metrics.base_rate)],
                dashed: true,
            },
        ],
        Corner::TopRight,
        "Read across: how precise the list stays as it grows to find more churners.",
    ));
}

/// Calibration by decile and lift by decile.
fn model_calibration_and_lift(h: &mut String, r: &Report) {
    let m = &r.model;
    let calib: Vec<(f64, f64)> = m
        .calibration
        .iter()
        .map(|b| (b.mean_predicted, b.observed_rate))
        .collect();
    h.push_str(&line_chart(
        "Calibration by decile",
        &unit("mean predicted probability", "observed churn rate"),
        &[
            Series {
                name: "model",
                points: calib,
                dashed: false,
            },
            Series {
                name: "perfect calibration",
                points: vec![(0.0, 0.0), (1.0, 1.0)],
                dashed: true,
            },
        ],
        Corner::BottomRight,
        "Points on the diagonal mean a 30% score churns 30% of the time.",
    ));
    let deciles: Vec<String> = m
        .curves
        .deciles
        .iter()
        .map(|d| d.decile.to_string())
        .collect();
    h.push_str(&bar_chart(
        "Lift by decile",
        "decile (1 = the 10% most at risk)",
        "lift (decile churn rate ÷ overall)",
        &deciles,
        &[
            ("model", m.curves.deciles.iter().map(|d| d.lift).collect()),
            (
                "baseline",
                m.baseline_curves.deciles.iter().map(|d| d.lift).collect(),
            ),
        ],
        Corner::TopRight,
        "A lift of 3 means the decile churns three times as often as users overall.",
    ));
}

/// Cumulative gain and the score histogram.
fn model_gain_and_histogram(h: &mut String, r: &Report) {
    let m = &r.model;
    let gain = |c: &Curves| -> Vec<(f64, f64)> {
        std::iter::once((0.0, 0.0))
            .chain(
                c.deciles
                    .iter()
                    .map(|d| (d.decile as f64 / 10.0, d.cumulative_gain)),
            )
            .collect()
    };
    h.push_str(&line_chart(
        "Cumulative gain",
        &unit(
            "share of users contacted, most at risk first",
            "share of churners reached",
        ),
        &[
            Series {
                name: "model",
                points: gain(&m.curves),
                dashed: false,
            },
            Series {
                name: "baseline",
                points: gain(&m.baseline_curves),
                dashed: false,
            },
            Series {
                name: "random order",
                points: vec![(0.0, 0.0), (1.0, 1.0)],
                dashed: true,
            },
        ],
        Corner::BottomRight,
        "Read up from 0.2: the share of churners the top 20% of the list reaches.",
    ));
    let hist = &m.curves.histogram;
    let bins: Vec<String> = hist.edges.iter().map(|e| format!("{:.2}", e)).collect();
    h.push_str(&bar_chart(
        "Score histogram (validation date)",
        "churn probability (bin start)",
        "users",
        &bins,
        &[
            ("churned", hist.churned.iter().map(|&c| c as f64).collect()),
            (
                "retained",
                hist.retained.iter().map(|&c| c as f64).collect(),
            ),
        ],
        Corner::TopRight,
        "Churners should sit to the right, retained users to the left.",
    ));
}

/// Every coefficient with its meaning.
fn coefficients(h: &mut String, r: &Report) {
    let m = &r.model;
    h.push_str("</div><h3>Coefficients</h3><table><tr><th class=l>feature</th><th class=l>meaning</th><th>log-odds per SD</th></tr>");
    for c in &m.coefficients {
        let _ = write!(
            h,
            "<tr><td class=l>{}</td><td class=l>{}</td><td>{:+.3}</td></tr>",
            esc(&c.feature),
            esc(&c.meaning),
            c.coefficient
        );
    }
    h.push_str("</table><p class=note>Positive coefficients raise the risk; features are standardized, so sizes compare.</p>");
}

/// Drift between the model's training day and the as-of date.
fn drift_section(h: &mut String, r: &Report) {
    h.push_str("<h2>Drift</h2>");
    match &r.drift {
        Some(d) if d.reference_as_of == r.as_of => {
            let _ = write!(
                h,
                "<p>The report's date is the model's training day ({}): its population is the one the model was fitted to, so there is no drift to measure yet. Report on a later date to see it.</p>",
                esc(&d.reference_as_of)
            );
        }
        Some(d) => {
            let _ = write!(
                h,
                "<p>Against the model's training day {}: score PSI {:.3}, largest feature PSI {:.3} ({}) — <b>{:?}</b> (warn at {}, act at {}).</p><div class=charts>",
                esc(&d.reference_as_of),
                d.score_psi,
                d.max_feature_psi,
                esc(&d.max_feature),
                d.level,
                d.warn,
                d.act
            );
            let mut top: Vec<(&String, &f64)> = d.features.iter().collect();
            top.sort_by(|a, b| b.1.total_cmp(a.1).then(a.0.cmp(b.0)));
            top.truncate(12);
            let items: Vec<(String, f64)> = top.iter().map(|(n, v)| ((*n).clone(), **v)).collect();
            h.push_str(&hbar_chart(
                "PSI of the most drifted features",
                "PSI (population stability index)",
                "feature",
                &items,
                3,
                "Below 0.1 stable, 0.1–0.2 worth a look, 0.2 and above: retrain.",
            ));
            h.push_str("</div>");
        }
        None => h.push_str(
            "<p>The model file has no drift reference (written by an older churnrisk).</p>",
        ),
    }
}

/// The at-risk population by tier, play and most frequent reasons.
fn population_section(h: &mut String, r: &Report) {
    let p = &r.population;
    let _ = write!(
        h,
        "<h2>At-risk population</h2><p>{} users scored on {}: {} high, {} medium, {} low.</p><div class=charts>",
        p.scored,
        esc(&r.as_of),
        p.by_tier.get("high").unwrap_or(&0),
        p.by_tier.get("medium").unwrap_or(&0),
        p.by_tier.get("low").unwrap_or(&0)
    );
    let plays: Vec<(String, f64)> = p
        .by_play
        .iter()
        .map(|(k, &v)| (k.clone(), v as f64))
        .collect();
    h.push_str(&hbar_chart(
        "Users on the list by play",
        "users (medium or high risk)",
        "recommended play",
        &plays,
        0,
        "Which re-engagement play the list asks CS to run, and for how many users.",
    ));
    let reasons: Vec<(String, f64)> = p
        .top_reasons
        .iter()
        .map(|(n, v)| (n.clone(), *v as f64))
        .collect();
    h.push_str(&hbar_chart(
        "Most frequent reasons on the list",
        "users it explains",
        "reason feature",
        &reasons,
        0,
        "How often each feature is among a listed user's top reasons.",
    ));
    h.push_str("</div>");
}

/// Engagement metrics (BRIEF §2) overall and by weekly signup cohort, with the retention heatmap.
fn engagement_section(h: &mut String, r: &Report) {
    let e = &r.engagement;
    let o = &e.overall;
    let _ = write!(
        h,
        "<h2>Engagement, {} to {}</h2><table><tr><th class=l>metric</th><th>value</th></tr>\
<tr><td class=l>eligible (active) users</td><td>{}</td></tr>\
<tr><td class=l>engagement rate</td><td>{}</td></tr>\
<tr><td class=l>new users / activation rate</td><td>{} / {}</td></tr>\
<tr><td class=l>time to value, median / mean (days)</td><td>{}</td></tr>\
<tr><td class=l>return usage rate (7 days)</td><td>{}</td></tr>\
<tr><td class=l>stickiness (DAU/MAU)</td><td>{}</td></tr>\
<tr><td class=l>depth (value actions per active user)</td><td>{}</td></tr>\
<tr><td class=l>feedback participation</td><td>{}</td></tr></table>",
        esc(&e.window_start),
        esc(&e.window_end),
        o.eligible_users,
        pct(o.engagement_rate),
        o.new_users,
        pct(o.activation_rate),
        o.time_to_value_days
            .map(|t| format!("{:.1} / {:.1}", t.median, t.mean))
            .unwrap_or_else(|| "–".into()),
        pct(o.return_usage_rate),
        pct(o.stickiness),
        o.depth
            .map(|d| format!("{d:.2}"))
            .unwrap_or_else(|| "–".into()),
        pct(o.feedback_participation)
    );
    h.push_str("<div class=charts>");
    let adoption: Vec<(String, f64)> = o
        .feature_adoption
        .iter()
        .map(|(k, &v)| (k.clone(), v))
        .collect();
    h.push_str(&hbar_chart(
        "Feature adoption",
        "share of active users",
        "core feature",
        &adoption,
        3,
        "Share of the window's active users who used each core feature.",
    ));
    for (name, steps) in &o.funnels {
        let labels: Vec<(String, f64)> = steps
            .iter()
            .map(|s| (s.step.clone(), s.reached as f64))
            .collect();
        h.push_str(&hbar_chart(
            &format!("Funnel: {name}"),
            "users who reached it",
            "step (in order, top first)",
            &labels,
            0,
            "Users who started in the window and reached each step in order.",
        ));
    }
    let heat_rows: Vec<(String, Vec<f64>)> = e
        .retention
        .iter()
        .rev()
        .take(16)
        .rev()
        .map(|(k, v)| (k.clone(), v.iter().take(12).copied().collect()))
        .collect();
    h.push_str(&heatmap(
        "Retention by weekly signup cohort",
        "weeks after signup",
        "signup week",
        &heat_rows,
        "Share of each cohort active k weeks after its signup week (latest 16 cohorts, 12 weeks).",
    ));
    h.push_str("</div><h3>By signup cohort</h3><table><tr><th class=l>cohort</th><th>active</th><th>engagement</th><th>activation</th><th>stickiness</th><th>depth</th></tr>");
    for (k, c) in &e.by_cohort {
        let _ =
            write!(
            h,
            "<tr><td class=l>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(k),
            c.eligible_users,
            pct(c.engagement_rate),
            pct(c.activation_rate),
            pct(c.stickiness),
            c.depth.map(|d| format!("{d:.2}")).unwrap_or_else(|| "–".into())
        );
    }
    h.push_str("</table>");
}

/// The closed loop: treatment against control per play, from a past list.
fn closed_loop_section(h: &mut String, r: &Report) {
    h.push_str("<h2>Do the plays work?</h2>");
    match &r.closed_loop {
        None => h.push_str("<p>Give <code>--list</code> a past <code>at_risk.csv</code> (with its <code>group</code> column) to compare treated and control users.</p>"),
        Some(c) => {
            let _ = write!(
                h,
                "<p>List of {}: value action back within {} days{}.</p><table><tr><th class=l>play</th><th>treated</th><th>rate</th><th>control</th><th>rate</th><th>uplift</th><th>95% interval</th><th>retained {} days later</th></tr>",
                esc(&c.list_as_of),
                c.window_days,
                if c.window_complete { "" } else { " (window not complete yet)" },
                c.retention_days
            );
            // Before the window ends, an uplift is the first days' noise (a new user's report
            // two days after the list read "+5.6 pts" before anyone was contacted): the rates
            // so far are shown, the uplift waits for the window's end.
            let ends = crate::base::time::parse_timestamp(&c.list_as_of).map(|t| {
                crate::base::time::format_date(
                    t + i64::from(c.window_days) * crate::base::time::DAY_MS,
                )
            });
            let pending = (!c.window_complete).then(|| match &ends {
                Some(d) => format!("after {d}, when the window ends"),
                None => "when the window ends".into(),
            });
            let line = |h: &mut String, name: &str, x: &crate::report::uplift::Comparison| {
                let _ = write!(
                    h,
                    "<tr><td class=l>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(name),
                    x.treatment.users,
                    pct(x.treatment.rate),
                    x.control.users,
                    pct(x.control.rate),
                    match (x.uplift, x.too_few) {
                        _ if pending.is_some() => pending.clone().unwrap_or_default(),
                        (Some(u), _) => format!("{:+.1} pts", u * 100.0),
                        (None, true) => format!("too few users to tell (under {} in an arm)", crate::report::uplift::MIN_ARM_USERS),
                        (None, false) => "–".into(),
                    },
                    x.ci95
                        .map(|(lo, hi)| format!("{:+.1} to {:+.1}", lo * 100.0, hi * 100.0))
                        .unwrap_or_else(|| "–".into()),
                    pct(x.treatment.retention_rate)
                );
            };
            line(h, "all plays", &c.overall);
            for (name, x) in &c.by_play {
                line(h, name, x);
            }
            h.push_str("</table><p class=note>Intent to treat: every treatment-arm user counts, contacted or not; control users were not to be contacted.</p>");
        }
    }
}

fn pct(x: Option<f64>) -> String {
    x.map(|v| format!("{:.1}%", v * 100.0))
        .unwrap_or_else(|| "–".into())
}

fn num(x: f64) -> String {
    format!("{x:.3}")
}

/// A curve's points: precision-recall when `pr`, else ROC.
fn pts(c: &Curves, pr: bool) -> Vec<(f64, f64)> {
    let v = if pr { &c.pr } else { &c.roc };
    v.iter().map(|p| (p.x, p.y)).collect()
}

/// Axes of two shares, both from 0 to 1.
fn unit(x: &'static str, y: &'static str) -> Axes<'static> {
    Axes {
        x,
        y,
        x_range: (0.0, 1.0),
        y_range: (0.0, 1.0),
    }
}
