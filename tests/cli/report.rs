//! `churnrisk report`: one self-contained HTML file with labelled charts, the same figures
//! as JSON, rendered by headless Chromium when the machine has it; and the closed loop on
//! a past list.

use std::fs;
use std::path::Path;

use crate::util::*;

fn report(dir: &Path, extra: &[&str]) -> (String, serde_json::Value) {
    let (events, users, features, model) = (
        repo().join("data/events.csv.gz"),
        repo().join("data/users.csv"),
        default_features(),
        repo().join("models/sample.json"),
    );
    let mut args = vec![
        "-q",
        "report",
        "--events",
        s(&events),
        "--users",
        s(&users),
        "--features",
        s(&features),
        "--model",
        s(&model),
        "--out",
        "r/report.html",
    ];
    args.extend_from_slice(extra);
    ok(dir, &args);
    let html = fs::read_to_string(dir.join("r/report.html")).unwrap();
    let json =
        serde_json::from_str(&fs::read_to_string(dir.join("r/report.json")).unwrap()).unwrap();
    (html, json)
}

/// Headless Chromium on `page` with one more flag (`--screenshot=…`, `--dump-dom`), its
/// profile in `dir`.
fn headless(chromium: &Path, dir: &Path, flag: &str, page: &Path) -> std::process::Output {
    std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--window-size=1200,2000",
            flag,
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.join("chromium-profile").display()
        ))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap()
}

#[test]
fn the_report_is_self_contained_labelled_and_matches_its_json() {
    let dir = tempfile::tempdir().unwrap();
    let (html, json) = report(dir.path(), &[]);
    assert_eq!(json["engagement"]["window_start"], "2026-06-08");
    let (_, week) = report(dir.path(), &["--window-days", "7"]);
    assert_eq!(week["engagement"]["window_start"], "2026-06-29");
    assert!(
        week["engagement"]["overall"]["eligible_users"].as_u64()
            < json["engagement"]["overall"]["eligible_users"].as_u64()
    );
    // Self-contained: no scripts, no fetches.
    for needle in ["<script", "http://", "https://", "src=\"", "<link"] {
        let allowed = needle == "http://"
            && html.matches(needle).count() == html.matches("http://www.w3.org/2000/svg").count();
        assert!(!html.contains(needle) || allowed, "{needle}");
    }
    // Every chart: a title, both axis titles (heatmap included) and a reading guide.
    let charts: Vec<&str> = html.split("<svg").skip(1).collect();
    assert!(charts.len() >= 11, "{} charts", charts.len());
    for c in &charts {
        let c = &c[..c.find("</svg>").unwrap()];
        assert!(c.contains("<title>"), "untitled chart");
        assert!(c.contains("class=\"axis-x\"") && c.contains("class=\"axis-y\""));
        assert!(c.contains("font-style=\"italic\""), "no reading guide");
    }
    for section in [
        "<h2>Model</h2>",
        "<h2>Drift</h2>",
        "<h2>At-risk population</h2>",
        "<h2>Engagement",
        "<h2>Do the plays work?</h2>",
    ] {
        assert!(html.contains(section), "{section}");
    }
    // The JSON carries the same figures: the stored out-of-sample validation.
    let model: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(repo().join("models/sample.json")).unwrap())
            .unwrap();
    assert_eq!(
        json["model"]["metrics"]["roc_auc"],
        model["validation"]["roc_auc"]
    );
    assert_eq!(json["model"]["in_sample_curves"], false);
    let auc = json["model"]["metrics"]["roc_auc"].as_f64().unwrap();
    assert!(html.contains(&format!("model (AUC {auc:.3})")));
    assert_eq!(json["population"]["scored"], 1099);
    assert_eq!(json["drift"]["level"], "stable");
    // The sample's report date is its model's training day: no drift to show yet (a new
    // user read "score PSI 0.000 … Stable" as a finding); another date has its chart.
    assert!(html.contains("The report's date is the model's training day (2026-07-06)"));
    assert!(!html.contains("PSI of the most drifted features"));
    let (earlier, _) = report(dir.path(), &["--as-of", "2026-06-15"]);
    assert!(earlier.contains("PSI of the most drifted features"));
    let e = &json["engagement"]["overall"];
    assert!(e["eligible_users"].as_u64().unwrap() > 1000);
    assert!(e["stickiness"].as_f64().unwrap() > 0.0 && e["stickiness"].as_f64().unwrap() < 1.0);

    // Rendered by a real browser (Debian's `chromium`, which .ci/run installs).
    let chromium = Path::new("/usr/bin/chromium");
    assert!(
        chromium.exists(),
        "this test renders the report in Chromium: apt-get install -y chromium"
    );
    let shot = dir.path().join("r/shot.png");
    let out = headless(
        chromium,
        dir.path(),
        &format!("--screenshot={}", shot.display()),
        &dir.path().join("r/report.html"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = fs::read(&shot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(png.len() > 50_000, "a blank page? {} bytes", png.len());

    // Laid out by the browser, no two axis or bar labels of a chart overlap. A copy of the
    // page gets a script that measures every label's box, and a control chart whose two
    // labels do overlap (so a browser without fonts, boxes all empty, cannot pass).
    let probe = r#"<svg id="control" viewBox="0 0 200 50" width="200" height="50"><text class="tick-x" x="20" y="20">0.000</text><text class="tick-x" x="24" y="20">0.050</text></svg>
<script>
const overlaps = (svg) => {
  const found = [];
  for (const cls of ["tick-x", "tick-y", "bar-label"]) {
    const boxes = [...svg.querySelectorAll("text." + cls)].map((t) => t.getBoundingClientRect());
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const [a, b] = [boxes[i], boxes[j]];
        if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) {
          found.push(svg.querySelector("title")?.textContent + ": " + cls + " " + i + "/" + j);
        }
      }
    }
  }
  return found;
};
const charts = [...document.querySelectorAll("svg")].filter((s) => s.id !== "control");
const result = {
  charts: charts.length,
  labels: charts.reduce((n, s) => n + s.querySelectorAll("text.tick-x, text.bar-label").length, 0),
  overlaps: charts.flatMap(overlaps),
  control: overlaps(document.getElementById("control")).length,
};
const pre = document.createElement("pre");
pre.id = "probe";
pre.textContent = JSON.stringify(result);
document.body.appendChild(pre);
</script></body>"#;
    let probed = dir.path().join("r/probed.html");
    fs::write(&probed, html.replace("</body>", probe)).unwrap();
    let out = headless(chromium, dir.path(), "--dump-dom", &probed);
    let dom = String::from_utf8_lossy(&out.stdout);
    let text = dom
        .split("<pre id=\"probe\">")
        .nth(1)
        .and_then(|t| t.split("</pre>").next())
        .unwrap_or_else(|| panic!("no probe result: {}", String::from_utf8_lossy(&out.stderr)))
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let probe: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        probe["control"], 1,
        "the overlap check sees nothing: {probe}"
    );
    assert_eq!(probe["charts"].as_u64().unwrap() as usize, charts.len());
    assert!(probe["labels"].as_u64().unwrap() > 50, "{probe}");
    assert_eq!(probe["overlaps"], serde_json::json!([]), "{probe}");
    // Named bars (plays, reasons, drift, adoption, funnel steps) carry their names: the
    // adoption chart has one label per core feature.
    let adoption = html
        .split("<svg")
        .find(|c| c.contains("<title>Feature adoption</title>"))
        .unwrap();
    let features = json["engagement"]["overall"]["feature_adoption"]
        .as_object()
        .unwrap();
    assert_eq!(
        adoption.matches("class=\"bar-label\"").count(),
        features.len()
    );
    for name in features.keys() {
        assert!(adoption.contains(&format!(">{name}</text>")), "{name}");
    }
    assert!(!html.contains("numbered as in the table"));
}

#[test]
fn the_closed_loop_compares_treated_and_control_users_of_a_past_list() {
    let dir = tempfile::tempdir().unwrap();
    // The list of 2026-06-01 (a backfill: the model is retrained as of that date).
    ok(
        dir.path(),
        &[
            "-q",
            "run",
            "--data",
            s(&repo().join("data")),
            "--features",
            s(&default_features()),
            "--model",
            "m.json",
            "--out",
            "june",
            "--as-of",
            "2026-06-01",
        ],
    );
    let (_, rows) = read_csv(&dir.path().join("june/at_risk.csv"));
    let (header, _) = read_csv(&dir.path().join("june/at_risk.csv"));
    let at = |n: &str| header.iter().position(|h| h == n).unwrap();
    let listed: Vec<&Vec<String>> = rows
        .iter()
        .filter(|r| r[at("risk_tier")] != "low")
        .collect();
    let control = listed
        .iter()
        .filter(|r| r[at("group")] == "control")
        .count();
    let list = dir.path().join("june/at_risk.csv");
    let (html, json) = report(dir.path(), &["--list", s(&list)]);
    let loop_ = &json["closed_loop"];
    assert_eq!(loop_["list_as_of"], "2026-06-01");
    assert_eq!(loop_["window_complete"], true);
    let all = &loop_["overall"];
    assert_eq!(all["control"]["users"].as_u64().unwrap() as usize, control);
    assert_eq!(
        (all["treatment"]["users"].as_u64().unwrap() + all["control"]["users"].as_u64().unwrap())
            as usize,
        listed.len()
    );
    let (t, c) = (
        all["treatment"]["rate"].as_f64().unwrap(),
        all["control"]["rate"].as_f64().unwrap(),
    );
    assert!((all["uplift"].as_f64().unwrap() - (t - c)).abs() < 1e-12);
    assert!(html.contains("all plays") && html.contains("95% interval"));
    // Newcombe's interval around the difference, within [-1, 1].
    let ci = all["ci95"].as_array().unwrap();
    let (lo, hi) = (ci[0].as_f64().unwrap(), ci[1].as_f64().unwrap());
    assert!(
        -1.0 <= lo && lo < t - c && t - c < hi && hi <= 1.0,
        "{ci:?}"
    );
    // A play whose arms are small says so instead of a number.
    let mut small = 0;
    for (play, x) in loop_["by_play"].as_object().unwrap() {
        let least = x["treatment"]["users"]
            .as_u64()
            .unwrap()
            .min(x["control"]["users"].as_u64().unwrap());
        assert_eq!(x["too_few"], least < 10, "{play}: {x}");
        if least < 10 {
            small += 1;
            assert!(x["uplift"].is_null() && x["ci95"].is_null(), "{play}: {x}");
        }
    }
    assert!(
        small > 0,
        "no small play on the sample: {}",
        loop_["by_play"]
    );
    assert!(html.contains("too few users to tell (under 10 in an arm)"));
    // The same list dated 2026-06-25: its 28-day window runs past the log's end (07-05).
    // The rates so far are shown; the uplift waits for the window's end.
    let text = fs::read_to_string(&list).unwrap();
    let late = dir.path().join("late.csv");
    fs::write(&late, text.replace(",2026-06-01,", ",2026-06-25,")).unwrap();
    let (html, json) = report(dir.path(), &["--list", s(&late)]);
    assert_eq!(json["closed_loop"]["window_complete"], false);
    let all = &json["closed_loop"]["overall"];
    assert!(all["uplift"].is_null() && all["ci95"].is_null(), "{all}");
    assert!(html.contains("(window not complete yet)"));
    assert!(html.contains("after 2026-07-23, when the window ends"));
    let section = html.split("Do the plays work?").nth(1).unwrap();
    assert!(
        !section.contains(" pts<"),
        "an uplift before the window ends"
    );
}

#[test]
fn a_previous_model_of_another_validation_date_is_shown_without_a_difference() {
    let dir = tempfile::tempdir().unwrap();
    let sample = repo().join("models/sample.json");
    let table = |html: &str| {
        let start = html.find("<h2>Model</h2>").unwrap();
        html[start..start + html[start..].find("</table>").unwrap()].to_string()
    };
    // The same model beside itself: one date, a difference of 0.
    let (html, _) = report(dir.path(), &["--previous-model", s(&sample)]);
    assert!(table(&html).contains("(+0.000)"), "{}", table(&html));
    assert!(html.contains("on the same validation date and users; in brackets, this model's figure minus the previous one's"));
    // A model trained a month earlier was validated on another date's users.
    ok(
        dir.path(),
        &[
            "-q",
            "train",
            "--events",
            s(&repo().join("data/events.csv.gz")),
            "--users",
            s(&repo().join("data/users.csv")),
            "--features",
            s(&default_features()),
            "--as-of",
            "2026-06-01",
            "--model",
            "june.json",
        ],
    );
    let (html, json) = report(dir.path(), &["--previous-model", "june.json"]);
    let prev = json["model"]["previous_validation_date"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(
        json["model"]["validation_date"].as_str(),
        Some(prev.as_str())
    );
    assert!(!table(&html).contains("(+") && !table(&html).contains("(-"));
    assert!(html.contains(&format!("measured on its own validation date ({prev}, ")));
}

#[test]
fn training_on_new_cohorts_only() {
    let dir = tempfile::tempdir().unwrap();
    let (events, users, features) = (
        repo().join("data/events.csv.gz"),
        repo().join("data/users.csv"),
        default_features(),
    );
    let train_with = |features: &Path, extra: &[&str], out: &str| {
        let mut args = vec![
            "-q",
            "train",
            "--events",
            s(&events),
            "--users",
            s(&users),
            "--features",
            s(features),
            "--as-of",
            "2026-07-06",
            "--model",
            out,
        ];
        args.extend_from_slice(extra);
        ok(dir.path(), &args);
        let m: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(dir.path().join(out)).unwrap()).unwrap();
        m
    };
    let train = |extra: &[&str], out: &str| train_with(&features, extra, out);
    let compare = |model: &str, against: &str, extra: &[&str]| {
        let mut args = vec![
            "compare",
            "--events",
            s(&events),
            "--users",
            s(&users),
            "--features",
            s(&features),
            "--model",
            model,
            "--against",
            against,
            "--as-of",
            "2026-07-06",
        ];
        args.extend_from_slice(extra);
        ok(dir.path(), &args)
    };
    let all = train(&[], "all.json");
    let recent = train(&["--since", "2026-02-16"], "recent.json");
    assert!(all["training"]["cohorts"].is_null());
    assert_eq!(recent["training"]["cohorts"], "signed up since 2026-02-16");
    let rows = |m: &serde_json::Value| m["training"]["rows"].as_u64().unwrap();
    assert!(
        rows(&recent) < rows(&all),
        "{} vs {}",
        rows(&recent),
        rows(&all)
    );
    assert!(recent["validation"]["roc_auc"].as_f64().unwrap() > 0.7);
    // Side by side on the same labelled date.
    let out = compare("recent.json", "all.json", &["--out", "cmp.json"]);
    assert!(out.contains("labelled date 2026-06-08"), "{out}");
    assert!(
        out.contains("ROC AUC") && out.contains("in-sample"),
        "{out}"
    );
    let cmp: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("cmp.json")).unwrap()).unwrap();
    let auc = |k: &str| cmp[k]["metrics"]["roc_auc"].as_f64().unwrap();
    assert!(auc("model") > 0.7 && auc("against") > 0.7);
    assert_eq!(
        cmp["model"]["metrics"]["rows"],
        cmp["against"]["metrics"]["rows"]
    );
    // The difference comes with its paired bootstrap interval, around the difference.
    assert!(
        out.contains("difference, 95% interval (1000 paired resamples of the users): ROC AUC ["),
        "{out}"
    );
    let ci = &cmp["difference_95"]["roc_auc"];
    let (lo, hi) = (ci[0].as_f64().unwrap(), ci[1].as_f64().unwrap());
    let d = auc("model") - auc("against");
    assert!(lo <= d && d <= hi && lo < hi, "{lo} {d} {hi}");
    // Against a model trained with other definitions (fewer event rates): it is scored
    // with the definitions stored in it, not refused.
    let other = dir.path().join("other.toml");
    let text = fs::read_to_string(&features).unwrap();
    fs::write(&other, text.replace("top = 12", "top = 4")).unwrap();
    train_with(&other, &[], "other.json");
    let out = compare("all.json", "other.json", &[]);
    assert!(
        out.contains("other.json: features computed with the definitions stored in it"),
        "{out}"
    );
    assert!(out.contains("labelled date 2026-06-08"), "{out}");
    // A cohort must be a signup week, and cohorts need signup times.
    let out = churnrisk(
        dir.path(),
        &[
            "train",
            "--events",
            s(&events),
            "--users",
            s(&users),
            "--features",
            s(&features),
            "--as-of",
            "2026-07-06",
            "--cohort",
            "2026-02-18",
        ],
    );
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a Monday"));
}

#[test]
fn the_closed_loop_recovers_a_simulated_uplift_and_control_shows_none() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let gen = |out: &str, extra: &[&str]| {
        let mut args = vec![
            "generate",
            "--out",
            out,
            "--users",
            "3000",
            "--days",
            "182",
            "--seed",
            "7",
            "--format",
            "csv",
            "--start",
            "2026-01-05",
        ];
        args.extend_from_slice(extra);
        ok(d, &args)
    };
    gen("plain", &[]);
    // The list of 2026-06-01, with its treatment and control groups.
    ok(
        d,
        &[
            "-q",
            "run",
            "--data",
            "plain",
            "--features",
            s(&default_features()),
            "--model",
            "m.json",
            "--out",
            "june",
            "--as-of",
            "2026-06-01",
        ],
    );
    // The same world, where CS contacted the treatment arm and half of those who would
    // not have come back did.
    let summary = gen(
        "treated",
        &[
            "--contacts-from",
            "june/at_risk.csv",
            "--contact-uplift",
            "0.5",
        ],
    );
    let summary: serde_json::Value = serde_json::from_str(summary.trim()).unwrap();
    let treated = summary["treated"].as_f64().unwrap();
    let brought_back = summary["brought_back"].as_f64().unwrap();
    assert!(brought_back > 0.0);
    // The treatment arm's rate rose by exactly this much.
    let true_uplift = brought_back / treated;

    let measure = |data: &str| -> serde_json::Value {
        let (events, users) = (
            d.join(data).join("events.csv"),
            d.join(data).join("users.csv"),
        );
        ok(
            d,
            &[
                "-q",
                "report",
                "--events",
                s(&events),
                "--users",
                s(&users),
                "--features",
                s(&default_features()),
                "--model",
                "m.json",
                "--list",
                "june/at_risk.csv",
                "--out",
                &format!("{data}-report.html"),
            ],
        );
        let json: serde_json::Value = serde_json::from_str(
            &fs::read_to_string(d.join(format!("{data}-report.json"))).unwrap(),
        )
        .unwrap();
        json["closed_loop"]["overall"].clone()
    };
    let before = measure("plain");
    let after = measure("treated");
    let rate = |v: &serde_json::Value, arm: &str| v[arm]["rate"].as_f64().unwrap();
    // Control shows none: not one control user changed.
    assert_eq!(rate(&before, "control"), rate(&after, "control"));
    assert_eq!(after["treatment"]["users"].as_f64().unwrap(), treated);
    assert!(
        (rate(&after, "treatment") - rate(&before, "treatment") - true_uplift).abs() < 1e-9,
        "the treatment arm moved by the simulated amount"
    );
    // The measured uplift (treatment − control) recovers the known one within its interval,
    // and the interval excludes zero.
    let (lo, hi) = (
        after["ci95"][0].as_f64().unwrap(),
        after["ci95"][1].as_f64().unwrap(),
    );
    assert!(
        lo <= true_uplift && true_uplift <= hi,
        "{true_uplift} not in [{lo}, {hi}]"
    );
    assert!(lo > 0.0, "[{lo}, {hi}]");
}
