//! Small inline-SVG charts for the HTML report: line charts (ROC, PR, calibration, gain),
//! bar charts (lift, histograms, counts) and a heatmap (cohort retention). Each chart has
//! a title, labelled axes with ticks, a legend when it has several series, and a one-line
//! reading guide under it. Text is left to the browser's fonts, so no font files are
//! needed; every string is XML-escaped.

use std::fmt::Write;

/// Canvas size (the SVG scales to its container through `viewBox`).
const W: f64 = 560.0;
const H: f64 = 360.0;
/// Plot area margins: left, right, top, bottom.
const M: (f64, f64, f64, f64) = (64.0, 16.0, 36.0, 72.0);
/// The width of a character at font-size 12, generously (sans-serif digits are ~6.7 px).
const CHAR_W: f64 = 7.0;
/// Series colours (colour-blind safe: Okabe–Ito).
const COLOURS: [&str; 6] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9",
];

/// One line of a line chart.
pub struct Series<'a> {
    pub name: &'a str,
    pub points: Vec<(f64, f64)>,
    /// Dashed (for references such as the diagonal).
    pub dashed: bool,
}

/// Axis titles and ranges.
pub struct Axes<'a> {
    pub x: &'a str,
    pub y: &'a str,
    pub x_range: (f64, f64),
    pub y_range: (f64, f64),
}

/// XML-escapes text.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn open(title: &str) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" role="img" aria-label="{t}" font-family="sans-serif" font-size="12"><title>{t}</title><text x="{x}" y="20" text-anchor="middle" font-size="14" font-weight="bold">{t}</text>"#,
        t = esc(title),
        x = W / 2.0
    );
    s
}

fn close(mut s: String, guide: &str) -> String {
    let _ = write!(
        s,
        r##"<text x="{x}" y="{y}" text-anchor="middle" font-style="italic" fill="#444">{g}</text></svg>"##,
        x = W / 2.0,
        y = H - 8.0,
        g = esc(guide)
    );
    s
}

/// Maps data to canvas coordinates.
struct Frame {
    x: (f64, f64),
    y: (f64, f64),
}

impl Frame {
    fn px(&self, v: f64) -> f64 {
        let (lo, hi) = self.x;
        M.0 + (v - lo) / (hi - lo).max(f64::MIN_POSITIVE) * (W - M.0 - M.1)
    }
    fn py(&self, v: f64) -> f64 {
        let (lo, hi) = self.y;
        H - M.3 - (v - lo) / (hi - lo).max(f64::MIN_POSITIVE) * (H - M.2 - M.3)
    }
}

/// Five evenly spaced tick values.
/// Tick values: multiples of a round step (1, 2, 2.5 or 5 × 10^k) giving about four
/// intervals over the range.
fn ticks((lo, hi): (f64, f64)) -> Vec<f64> {
    let step = nice_ceiling((hi - lo) / 4.0 * 0.999);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

fn tick_label(v: f64) -> String {
    if v.abs() >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// Axes, grid, ticks and axis titles.
fn axes(s: &mut String, f: &Frame, a: &Axes, x_ticks: bool, x_title_offset: f64) {
    let (x0, x1, y0, y1) = (M.0, W - M.1, H - M.3, M.2);
    for v in ticks(a.y_range) {
        let y = f.py(v);
        let _ = write!(
            s,
            r##"<line x1="{x0}" y1="{y:.1}" x2="{x1}" y2="{y:.1}" stroke="#ddd"/><text class="tick-y" x="{tx}" y="{ty:.1}" text-anchor="end">{l}</text>"##,
            tx = x0 - 6.0,
            ty = y + 4.0,
            l = tick_label(v)
        );
    }
    if x_ticks {
        for v in ticks(a.x_range) {
            let x = f.px(v);
            let _ = write!(
                s,
                r##"<line x1="{x:.1}" y1="{y0}" x2="{x:.1}" y2="{t}" stroke="#333"/><text class="tick-x" x="{x:.1}" y="{ty}" text-anchor="middle">{l}</text>"##,
                t = y0 + 4.0,
                ty = y0 + 18.0,
                l = tick_label(v)
            );
        }
    }
    let _ = write!(
        s,
        r##"<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y0}" stroke="#333"/><line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y1}" stroke="#333"/><text class="axis-x" x="{cx}" y="{ly}" text-anchor="middle">{xt}</text><text class="axis-y" x="16" y="{cy}" text-anchor="middle" transform="rotate(-90 16 {cy})">{yt}</text>"##,
        cx = (x0 + x1) / 2.0,
        ly = y0 + x_title_offset,
        cy = (y0 + y1) / 2.0,
        xt = esc(a.x),
        yt = esc(a.y)
    );
}

/// Where a legend goes: inside the plot, in the corner the data leave free.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Corner {
    TopLeft,
    TopRight,
    BottomRight,
}

fn legend(s: &mut String, names: &[(&str, bool)], corner: Corner) {
    if names.len() < 2 {
        return;
    }
    let longest = names
        .iter()
        .map(|(n, _)| n.chars().count())
        .max()
        .unwrap_or(0) as f64;
    let (bw, bh) = (34.0 + 6.5 * longest, 8.0 + 16.0 * names.len() as f64);
    let (bx, by) = match corner {
        Corner::TopLeft => (M.0 + 8.0, M.2 + 4.0),
        Corner::TopRight => (W - M.1 - bw - 8.0, M.2 + 4.0),
        Corner::BottomRight => (W - M.1 - bw - 8.0, H - M.3 - bh - 8.0),
    };
    let _ = write!(
        s,
        r##"<rect x="{bx:.1}" y="{by:.1}" width="{bw:.1}" height="{bh:.1}" fill="#fff" fill-opacity="0.85" stroke="#ccc"/>"##
    );
    for (i, (name, dashed)) in names.iter().enumerate() {
        let (x, y) = (bx + 6.0, by + 12.0 + 16.0 * i as f64);
        let _ = write!(
            s,
            r#"<line x1="{x:.1}" y1="{y:.1}" x2="{x2:.1}" y2="{y:.1}" stroke="{c}" stroke-width="2"{d}/><text x="{tx:.1}" y="{ty:.1}">{n}</text>"#,
            x2 = x + 18.0,
            c = COLOURS[i % COLOURS.len()],
            d = if *dashed {
                r#" stroke-dasharray="4 3""#
            } else {
                ""
            },
            tx = x + 24.0,
            ty = y + 4.0,
            n = esc(name)
        );
    }
}

/// The smallest "nice" number (1, 2, 2.5 or 5 × 10^k) at or above `x`.
fn nice_ceiling(x: f64) -> f64 {
    if x <= 0.0 || !x.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(x.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|v| *v >= x * 0.999_999)
        .unwrap_or(10.0 * p)
}

/// A line chart, its legend in `corner`.
pub fn line_chart(
    title: &str,
    axes_: &Axes,
    series: &[Series],
    corner: Corner,
    guide: &str,
) -> String {
    let f = Frame {
        x: axes_.x_range,
        y: axes_.y_range,
    };
    let mut s = open(title);
    axes(&mut s, &f, axes_, true, 36.0);
    for (i, se) in series.iter().enumerate() {
        let pts: Vec<String> = se
            .points
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|&(x, y)| format!("{:.1},{:.1}", f.px(x), f.py(y)))
            .collect();
        let _ = write!(
            s,
            r#"<polyline fill="none" stroke="{c}" stroke-width="2"{d} points="{p}"><title>{n}</title></polyline>"#,
            c = COLOURS[i % COLOURS.len()],
            d = if se.dashed {
                r#" stroke-dasharray="4 3""#
            } else {
                ""
            },
            p = pts.join(" "),
            n = esc(se.name)
        );
    }
    let names: Vec<(&str, bool)> = series.iter().map(|s| (s.name, s.dashed)).collect();
    legend(&mut s, &names, corner);
    close(s, guide)
}

/// A bar chart: one bar per category and series, side by side; the y axis runs from 0 to
/// a round number above the highest bar. For ordered numeric categories (deciles, bins):
/// labels that do not fit are thinned to every k-th. Named categories go in
/// [`hbar_chart`], where every bar keeps its name.
pub fn bar_chart(
    title: &str,
    x_title: &str,
    y_title: &str,
    categories: &[String],
    series: &[(&str, Vec<f64>)],
    corner: Corner,
    guide: &str,
) -> String {
    let top = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let axes_ = Axes {
        x: x_title,
        y: y_title,
        x_range: (0.0, categories.len().max(1) as f64),
        y_range: (0.0, {
            // A whole number of round steps above the highest bar.
            let step = nice_ceiling(top.max(f64::MIN_POSITIVE) * 1.05 / 4.0);
            (top * 1.05 / step).ceil().max(1.0) * step
        }),
    };
    let f = Frame {
        x: axes_.x_range,
        y: axes_.y_range,
    };
    let mut s = open(title);
    let slot = (W - M.0 - M.1) / categories.len().max(1) as f64;
    // Labels wider than their slot go on two lines, split at the middle space.
    let wrap = |c: &str| -> (String, Option<String>) {
        if c.chars().count() as f64 * CHAR_W <= slot * 0.95 {
            return (c.to_string(), None);
        }
        let mid = c.len() / 2;
        match c
            .char_indices()
            .filter(|(_, ch)| *ch == ' ' || *ch == '_')
            .min_by_key(|(i, _)| i.abs_diff(mid))
        {
            Some((i, ' ')) => (c[..i].to_string(), Some(c[i + 1..].to_string())),
            Some((i, _)) => (c[..=i].to_string(), Some(c[i + 1..].to_string())),
            None => (c.to_string(), None),
        }
    };
    let two_lines = categories.iter().any(|c| wrap(c).1.is_some());
    // Labels still wider than their slot (a histogram's 20 bin starts): every k-th.
    let widest = categories
        .iter()
        .map(|c| {
            let (a, b) = wrap(c);
            a.chars().count().max(b.map_or(0, |b| b.chars().count()))
        })
        .max()
        .unwrap_or(0) as f64
        * CHAR_W;
    let every = ((widest + 4.0) / slot).ceil().max(1.0) as usize;
    axes(
        &mut s,
        &f,
        &axes_,
        false,
        if two_lines { 52.0 } else { 36.0 },
    );
    let bar = slot * 0.8 / series.len().max(1) as f64;
    for (k, cat) in categories.iter().enumerate() {
        let x = M.0 + slot * k as f64;
        let (first, second) = wrap(cat);
        if k % every == 0 {
            let _ = write!(
                s,
                r#"<text class="tick-x" x="{cx:.1}" y="{ty}" text-anchor="middle">{c}</text>"#,
                cx = x + slot / 2.0,
                ty = H - M.3 + 18.0,
                c = esc(&first)
            );
        }
        if let Some(second) = second.filter(|_| k % every == 0) {
            let _ = write!(
                s,
                r#"<text class="tick-x" x="{cx:.1}" y="{ty}" text-anchor="middle">{c}</text>"#,
                cx = x + slot / 2.0,
                ty = H - M.3 + 34.0,
                c = esc(&second)
            );
        }
        for (i, (name, values)) in series.iter().enumerate() {
            let v = values.get(k).copied().unwrap_or(0.0);
            if !v.is_finite() {
                continue;
            }
            let (y, base) = (f.py(v), f.py(0.0));
            let _ = write!(
                s,
                r#"<rect x="{bx:.1}" y="{y:.1}" width="{bar:.1}" height="{h:.1}" fill="{c}"><title>{n} {cat}: {v:.3}</title></rect>"#,
                bx = x + slot * 0.1 + bar * i as f64,
                h = (base - y).max(0.0),
                c = COLOURS[i % COLOURS.len()],
                n = esc(name),
                cat = esc(cat)
            );
        }
    }
    let names: Vec<(&str, bool)> = series.iter().map(|(n, _)| (*n, false)).collect();
    legend(&mut s, &names, corner);
    close(s, guide)
}

/// A horizontal bar chart: one labelled bar per item, top to bottom in the order given,
/// the value at the bar's end. For items with names (features, reasons) rather than an
/// order: the names are read where the bars are, not looked up in a table.
pub fn hbar_chart(
    title: &str,
    x_title: &str,
    y_title: &str,
    items: &[(String, f64)],
    decimals: usize,
    guide: &str,
) -> String {
    // The label column: as wide as the longest label, within a third of the canvas;
    // longer labels are cut with "…" (the whole text is the bar's tooltip).
    let max_chars = ((W / 3.0) / CHAR_W) as usize;
    let longest = items
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0);
    let left = 12.0 + CHAR_W * longest.min(max_chars) as f64;
    let (x0, x1, y0, y1) = (left, W - M.1 - 48.0, M.2 + 4.0, H - M.3);
    let top = items
        .iter()
        .map(|(_, v)| *v)
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let step = nice_ceiling(top.max(f64::MIN_POSITIVE) * 1.05 / 4.0);
    let end = (top * 1.05 / step).ceil().max(1.0) * step;
    let px = |v: f64| x0 + v / end * (x1 - x0);
    let mut s = open(title);
    for v in ticks((0.0, end)) {
        let x = px(v);
        let _ = write!(
            s,
            r##"<line x1="{x:.1}" y1="{y0}" x2="{x:.1}" y2="{y1}" stroke="#ddd"/><text class="tick-x" x="{x:.1}" y="{ty}" text-anchor="middle">{l}</text>"##,
            ty = y1 + 16.0,
            l = tick_label(v)
        );
    }
    let band = (y1 - y0) / items.len().max(1) as f64;
    let bar = (band * 0.7).min(22.0);
    for (i, (label, v)) in items.iter().enumerate() {
        let cy = y0 + band * (i as f64 + 0.5);
        let shown: String = if label.chars().count() > max_chars {
            label.chars().take(max_chars - 1).chain(['…']).collect()
        } else {
            label.clone()
        };
        let value = if v.is_finite() { *v } else { 0.0 };
        let _ = write!(
            s,
            r##"<text class="bar-label" x="{lx:.1}" y="{ty:.1}" text-anchor="end">{l}</text><rect x="{x0:.1}" y="{by:.1}" width="{w:.1}" height="{bar:.1}" fill="{c}"><title>{full}: {v:.d$}</title></rect><text x="{vx:.1}" y="{ty:.1}">{v:.d$}</text>"##,
            lx = x0 - 6.0,
            ty = cy + 4.0,
            l = esc(&shown),
            by = cy - bar / 2.0,
            w = (px(value) - x0).max(0.0),
            c = COLOURS[0],
            full = esc(label),
            v = value,
            d = decimals,
            vx = px(value) + 4.0,
        );
    }
    let _ = write!(
        s,
        r##"<line x1="{x0:.1}" y1="{y0}" x2="{x0:.1}" y2="{y1}" stroke="#333"/><line x1="{x0:.1}" y1="{y1}" x2="{x1}" y2="{y1}" stroke="#333"/><text class="axis-x" x="{cx:.1}" y="{ly}" text-anchor="middle">{xt}</text><text class="axis-y" x="{yx:.1}" y="{yy:.1}" text-anchor="end" font-weight="bold">{yt}</text>"##,
        cx = (x0 + x1) / 2.0,
        ly = y1 + 36.0,
        xt = esc(x_title),
        // The labels' column header.
        yx = x0 - 6.0,
        yy = y0 - 6.0,
        yt = esc(y_title)
    );
    close(s, guide)
}

/// A heatmap of shares in [0, 1]: rows × columns, darker is higher, each cell labelled.
pub fn heatmap(
    title: &str,
    x_title: &str,
    y_title: &str,
    rows: &[(String, Vec<f64>)],
    guide: &str,
) -> String {
    let cols = rows.iter().map(|(_, v)| v.len()).max().unwrap_or(0).max(1);
    let height = M.2 + 18.0 * rows.len().max(1) as f64 + 76.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {height}" role="img" aria-label="{t}" font-family="sans-serif" font-size="11"><title>{t}</title><text x="{x}" y="20" text-anchor="middle" font-size="14" font-weight="bold">{t}</text>"#,
        t = esc(title),
        x = W / 2.0
    );
    let left = M.0 + 30.0;
    let cw = (W - left - M.1) / cols as f64;
    for (r, (label, values)) in rows.iter().enumerate() {
        let y = M.2 + 18.0 * r as f64;
        let _ = write!(
            s,
            r#"<text x="{tx}" y="{ty:.1}" text-anchor="end">{l}</text>"#,
            tx = left - 4.0,
            ty = y + 13.0,
            l = esc(label)
        );
        for (c, v) in values.iter().enumerate() {
            let v = v.clamp(0.0, 1.0);
            let _ = write!(
                s,
                r##"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="17" fill="#0072B2" fill-opacity="{o:.3}"><title>{l} week {c}: {p:.0}%</title></rect><text x="{tx:.1}" y="{ty:.1}" text-anchor="middle" fill="{tc}">{p:.0}</text>"##,
                x = left + cw * c as f64,
                w = cw - 1.0,
                o = 0.08 + 0.92 * v,
                l = esc(label),
                p = v * 100.0,
                tx = left + cw * c as f64 + cw / 2.0,
                ty = y + 13.0,
                tc = if v > 0.55 { "#fff" } else { "#000" }
            );
        }
    }
    let base = M.2 + 18.0 * rows.len() as f64;
    for c in 0..cols {
        let _ = write!(
            s,
            r#"<text x="{x:.1}" y="{y:.1}" text-anchor="middle">{c}</text>"#,
            x = left + cw * c as f64 + cw / 2.0,
            y = base + 14.0
        );
    }
    let _ = write!(
        s,
        r##"<text class="axis-x" x="{cx}" y="{y1}" text-anchor="middle">{xt}</text><text class="axis-y" x="12" y="{cy}" text-anchor="middle" transform="rotate(-90 12 {cy})">{yt}</text><text x="{cx}" y="{y2}" text-anchor="middle" font-style="italic" fill="#444">{g}</text></svg>"##,
        cx = (left + W - M.1) / 2.0,
        y1 = base + 34.0,
        y2 = base + 56.0,
        cy = (M.2 + base) / 2.0,
        xt = esc(x_title),
        yt = esc(y_title),
        g = esc(guide)
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every opened element is closed (self-closing counts), in order.
    fn balanced(svg: &str) -> bool {
        let mut stack: Vec<String> = Vec::new();
        let mut rest = svg;
        while let Some(i) = rest.find('<') {
            let Some(j) = rest[i..].find('>') else {
                return false;
            };
            let tag = &rest[i + 1..i + j];
            rest = &rest[i + j + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                if stack.pop().as_deref() != Some(name) {
                    return false;
                }
            } else if !tag.ends_with('/') {
                stack.push(tag.split_whitespace().next().unwrap_or("").to_string());
            }
        }
        stack.is_empty()
    }

    fn points_of(svg: &str) -> Vec<Vec<(f64, f64)>> {
        svg.split("points=\"")
            .skip(1)
            .map(|p| {
                p[..p.find('"').unwrap()]
                    .split(' ')
                    .filter(|s| !s.is_empty())
                    .map(|xy| {
                        let (x, y) = xy.split_once(',').unwrap();
                        (x.parse().unwrap(), y.parse().unwrap())
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn line_chart_has_axes_labels_guide_and_points_inside() {
        let svg = line_chart(
            "ROC curve <model>",
            &Axes {
                x: "false-positive rate",
                y: "true-positive rate",
                x_range: (0.0, 1.0),
                y_range: (0.0, 1.0),
            },
            &[
                Series {
                    name: "model",
                    points: vec![(0.0, 0.0), (0.2, 0.7), (1.0, 1.0)],
                    dashed: false,
                },
                Series {
                    name: "chance",
                    points: vec![(0.0, 0.0), (1.0, 1.0)],
                    dashed: true,
                },
            ],
            Corner::BottomRight,
            "Higher and further left is better.",
        );
        assert!(balanced(&svg), "{svg}");
        assert!(svg.contains("ROC curve &lt;model&gt;"));
        assert!(svg.contains(">false-positive rate<") && svg.contains(">true-positive rate<"));
        assert!(svg.contains("Higher and further left is better."));
        let lines = points_of(&svg);
        assert_eq!(lines.iter().map(Vec::len).collect::<Vec<_>>(), [3, 2]);
        for (x, y) in lines.concat() {
            assert!((M.0..=W - M.1).contains(&x) && (M.2..=H - M.3).contains(&y));
        }
        // (0, 0) is the plot's bottom-left corner, (1, 1) its top-right.
        assert_eq!(lines[1], [(M.0, H - M.3), (W - M.1, M.2)]);
        assert!(svg.contains("stroke-dasharray"));
    }

    #[test]
    fn bars_and_heatmap_are_well_formed_and_labelled() {
        let cats: Vec<String> = (1..=3).map(|d| d.to_string()).collect();
        let svg = bar_chart(
            "Lift by decile",
            "decile",
            "lift",
            &cats,
            &[
                ("model", vec![3.0, 1.5, 0.2]),
                ("baseline", vec![2.0, 1.0, 0.5]),
            ],
            Corner::TopRight,
            "Decile 1 is the 10% most at risk.",
        );
        assert!(balanced(&svg));
        // Six bars and the legend's box.
        assert_eq!(svg.matches("<rect").count(), 7);
        // The y axis ends on a whole number of round steps: 3.0 × 1.05 → 4 (step 1).
        assert!(svg.contains(">4<") && !svg.contains(">5<"));
        assert!(svg.contains("model 1: 3.000"));
        let heat = heatmap(
            "Retention by signup week",
            "weeks after signup",
            "signup week",
            &[
                ("2026-01-05".into(), vec![1.0, 0.5]),
                ("2026-01-12".into(), vec![1.0]),
            ],
            "Each row is a weekly signup cohort.",
        );
        assert!(balanced(&heat));
        assert_eq!(heat.matches("<rect").count(), 3);
        assert!(heat.contains("2026-01-05 week 1: 50%"));
    }

    #[test]
    fn crowded_category_labels_are_thinned_and_named_bars_labelled() {
        // 20 histogram bins of 24 px: "0.05" does not fit, every second label is shown.
        let bins: Vec<String> = (0..20).map(|i| format!("{:.2}", i as f64 * 0.05)).collect();
        let svg = bar_chart(
            "Score histogram",
            "probability",
            "users",
            &bins,
            &[("users", vec![1.0; 20])],
            Corner::TopRight,
            "g",
        );
        assert_eq!(svg.matches(r#"class="tick-x""#).count(), 10);
        assert!(svg.contains(">0.10<") && !svg.contains(">0.05<"));
        // Three deciles fit: all shown.
        let cats: Vec<String> = (1..=3).map(|d| d.to_string()).collect();
        let few = bar_chart(
            "t",
            "x",
            "y",
            &cats,
            &[("a", vec![1.0; 3])],
            Corner::TopRight,
            "g",
        );
        assert_eq!(few.matches(r#"class="tick-x""#).count(), 3);
        let long = "a feature name far longer than a third of the canvas allows";
        let items = vec![
            ("logins_recent".to_string(), 0.31),
            (long.to_string(), 0.05),
        ];
        let h = hbar_chart("PSI", "PSI", "feature", &items, 3, "g");
        assert!(balanced(&h));
        assert!(h.contains(">logins_recent</text>") && h.contains(">0.310</text>"));
        // The long name is cut in the label and whole in the tooltip.
        assert!(h.contains("…</text>") && h.contains(&format!("<title>{long}: 0.050</title>")));
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(ticks((0.0, 1.0)), [0.0, 0.25, 0.5, 0.75, 1.0]);
        assert_eq!(ticks((0.0, 300.0)), [0.0, 100.0, 200.0, 300.0]);
        assert_eq!(ticks((0.0, 4.0)), [0.0, 1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn nice_ceilings() {
        assert_eq!(nice_ceiling(3.15), 5.0);
        assert_eq!(nice_ceiling(0.87), 1.0);
        assert_eq!(nice_ceiling(2.2), 2.5);
        assert_eq!(nice_ceiling(120.0), 200.0);
        assert_eq!(nice_ceiling(0.0), 1.0);
    }
}
