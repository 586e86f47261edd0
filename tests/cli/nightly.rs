//! `churnrisk run --config`: retrain decisions recorded in the manifest, the lock against
//! overlapping runs, and configuration errors.

use std::fs;
use std::path::Path;

use crate::util::*;

fn config(dir: &Path, extra_model: &str) -> std::path::PathBuf {
    let repo = repo();
    let text = format!(
        "as_of = \"2026-07-06\"\n[inputs]\nevents = \"{}\"\nusers = \"{}\"\nfeatures = \"{}\"\n[model]\npath = \"m.json\"\n{extra_model}[output]\ndir = \"out\"\n",
        s(&repo.join("data/events.csv.gz")),
        s(&repo.join("data/users.csv")),
        s(&default_features()),
    );
    let p = dir.join("churnrisk.toml");
    fs::write(&p, text).unwrap();
    p
}

/// Replaces `from` with `to` in the file at `path`.
fn replace_in(path: &Path, from: &str, to: &str) {
    let text = fs::read_to_string(path).unwrap().replace(from, to);
    fs::write(path, text).unwrap();
}

/// The sample log with each line after the header rewritten (`None` drops it), written to
/// `events.csv` in `dir`, and a night's config that reads it.
fn config_with_sample_log(
    dir: &Path,
    extra_model: &str,
    rewrite: impl Fn(&str) -> Option<String>,
) -> std::path::PathBuf {
    use std::io::Read;
    let mut text = String::new();
    flate2::read::GzDecoder::new(fs::File::open(repo().join("data/events.csv.gz")).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let mut lines = text.lines();
    let mut out = format!("{}\n", lines.next().unwrap());
    for line in lines.filter_map(rewrite) {
        out.push_str(&line);
        out.push('\n');
    }
    fs::write(dir.join("events.csv"), out).unwrap();
    let cfg = config(dir, extra_model);
    replace_in(&cfg, s(&repo().join("data/events.csv.gz")), "events.csv");
    cfg
}

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&fs::read_to_string(dir.join("out/manifest.json")).unwrap()).unwrap()
}

#[test]
fn manifest_records_inputs_outputs_and_why_the_model_was_retrained() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "max_age_days = 0\n");
    ok(dir.path(), &["-q", "run", "--config", s(&cfg)]);
    let m = manifest(dir.path());
    assert_eq!(m["status"], "ok");
    assert_eq!(m["as_of"], "2026-07-06");
    assert_eq!(m["model"]["retrained"], true);
    assert_eq!(m["model"]["retrain_reason"], "no model yet");
    assert_eq!(m["model"]["written"], true);
    assert_eq!(m["inputs"][0]["rows"], 384971);
    assert_eq!(m["inputs"][0]["sha256"].as_str().unwrap().len(), 64);
    let scored = m["scored_users"].as_u64().unwrap();
    let tiers = &m["tiers"];
    let sum = ["high", "medium", "low"]
        .iter()
        .map(|t| tiers[t].as_u64().unwrap())
        .sum::<u64>();
    assert_eq!(sum, scored);
    let (_, rows) = read_csv(&dir.path().join("out/at_risk.csv"));
    assert_eq!(m["outputs"][0]["rows"].as_u64().unwrap(), rows.len() as u64);

    // Same as-of: the fresh model is kept, read back from its file bit for bit: the
    // population it was fitted on has not drifted at all (a bin edge read one bit off
    // moved a pile of equal values to the next bin: value_trend PSI 0.0154 here, 0.78 on a
    // shop's log, retraining every night).
    ok(dir.path(), &["-q", "run", "--config", s(&cfg)]);
    let m = manifest(dir.path());
    assert_eq!(m["model"]["retrained"], false);
    assert_eq!(
        (
            m["drift"]["score_psi"].as_f64(),
            m["drift"]["max_feature_psi"].as_f64()
        ),
        (Some(0.0), Some(0.0)),
        "{}",
        m["drift"]
    );
    // A day later with max_age_days = 0: too old, retrained, and the reason says so.
    ok(
        dir.path(),
        &["-q", "run", "--config", s(&cfg), "--as-of", "2026-07-07"],
    );
    let m = manifest(dir.path());
    assert_eq!(m["model"]["retrained"], true);
    assert!(
        m["model"]["retrain_reason"]
            .as_str()
            .unwrap()
            .contains("limit 0"),
        "{m}"
    );
    // Forced.
    ok(
        dir.path(),
        &[
            "-q",
            "run",
            "--config",
            s(&cfg),
            "--as-of",
            "2026-07-07",
            "--retrain",
        ],
    );
    assert!(manifest(dir.path())["model"]["retrain_reason"]
        .as_str()
        .unwrap()
        .contains("--retrain"));
}

#[test]
fn a_model_from_an_older_churnrisk_is_retrained_not_a_failed_night() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "");
    // Format 1 (before windows and cadence were stored): this build cannot read it.
    let mut old: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(repo().join("models/sample.json")).unwrap())
            .unwrap();
    old["format_version"] = 1.into();
    fs::write(dir.path().join("m.json"), old.to_string()).unwrap();
    ok(dir.path(), &["-q", "run", "--config", s(&cfg)]);
    let m = manifest(dir.path());
    assert_eq!(m["status"], "ok");
    assert_eq!(m["model"]["retrained"], true);
    let reason = m["model"]["retrain_reason"].as_str().unwrap();
    assert!(reason.contains("format 1"), "{reason}");
    let model: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("m.json")).unwrap()).unwrap();
    assert_eq!(model["format_version"], 2);
    // `score` cannot retrain: it says what to do.
    fs::write(dir.path().join("m.json"), old.to_string()).unwrap();
    let out = churnrisk(
        dir.path(),
        &[
            "score",
            "--events",
            s(&repo().join("data/events.csv.gz")),
            "--model",
            "m.json",
            "--as-of",
            "2026-07-06",
            "--out",
            "list.csv",
        ],
    );
    expect(out, 4, &["retrain it with `churnrisk train`"]);
}

#[test]
fn a_run_is_refused_while_another_holds_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "");
    fs::create_dir_all(dir.path().join("out")).unwrap();
    fs::write(dir.path().join("out/at_risk.csv"), "yesterday\n").unwrap();
    // This test process holds the lock, as a running churnrisk would.
    let lock_path = dir.path().join("out/.churnrisk.lock");
    fs::write(&lock_path, format!("{}\n", std::process::id())).unwrap();
    let held = fs::File::options().write(true).open(&lock_path).unwrap();
    held.lock().unwrap();
    let out = churnrisk(dir.path(), &["run", "--config", s(&cfg)]);
    let holder = format!("another churnrisk run (pid {})", std::process::id());
    expect(out, 6, &[&holder]);
    assert_eq!(
        fs::read_to_string(dir.path().join("out/at_risk.csv")).unwrap(),
        "yesterday\n"
    );
    // The refused run wrote no manifest: the folder belongs to the running one.
    assert!(!dir.path().join("out/manifest.json").exists());
    // A lock file nobody holds (its process died) is simply taken.
    drop(held);
    fs::write(&lock_path, "4999999\n").unwrap();
    ok(dir.path(), &["-q", "run", "--config", s(&cfg)]);
}

#[test]
fn config_errors_name_the_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.toml");
    fs::write(
        &p,
        "[inputs]\nevents = \"e.csv\"\nfeatures = \"f.toml\"\n[output]\nfolder = \"x\"\n",
    )
    .unwrap();
    let out = churnrisk(dir.path(), &["run", "--config", s(&p)]);
    expect(out, 4, &["bad.toml", "folder"]);
    // The feature definitions are configuration too: a missing file is exit 4, as the
    // README's table says (it was 3, "bad input").
    let cfg = config(dir.path(), "");
    let text = fs::read_to_string(&cfg).unwrap();
    let features = s(&default_features()).to_string();
    fs::write(&cfg, text.replace(&features, "missing.toml")).unwrap();
    let out = churnrisk(dir.path(), &["run", "--config", s(&cfg)]);
    expect(out, 4, &["missing.toml: no such file"]);
}

#[test]
fn the_gate_refuses_too_few_churners_and_a_shrunken_population() {
    let dir = tempfile::tempdir().unwrap();
    let repo = repo();
    let out = churnrisk(
        dir.path(),
        &[
            "train",
            "--events",
            s(&repo.join("data/events.csv.gz")),
            "--features",
            s(&default_features()),
            "--as-of",
            "2026-07-06",
            "--min-churned",
            "5000",
        ],
    );
    expect(out, 5, &["the minimums are 5000 churned"]);

    // A model kept for long, then a night whose population is below the share of the
    // validated one it must reach (here all of it, on a date the log's users thin out):
    // refused, and yesterday's list stays as it was.
    let cfg = config(dir.path(), "max_age_days = 1000\n");
    ok(dir.path(), &["-q", "run", "--config", s(&cfg)]);
    let before = fs::read(dir.path().join("out/at_risk.csv")).unwrap();
    let strict = config(
        dir.path(),
        "max_age_days = 1000\nmin_population_share = 1.0\n",
    );
    let out = churnrisk(
        dir.path(),
        &["run", "--config", s(&strict), "--as-of", "2026-07-11"],
    );
    expect(out, 5, &["users are active at the as-of date, against"]);
    assert_eq!(
        before,
        fs::read(dir.path().join("out/at_risk.csv")).unwrap()
    );
    // A backfill date two months after the log's end: the days without data would read
    // as churn, so it is refused as `train` refuses it, and the list stays.
    let out = churnrisk(
        dir.path(),
        &["run", "--config", s(&cfg), "--as-of", "2026-09-01"],
    );
    expect(
        out,
        5,
        &["the event log ends on 2026-07-05 but the as-of date is 2026-09-01"],
    );
    assert_eq!(
        before,
        fs::read(dir.path().join("out/at_risk.csv")).unwrap()
    );
    // `score` too (it scored everyone at exit 0, and nobody at a later date).
    let out = churnrisk(
        dir.path(),
        &[
            "score",
            "--events",
            s(&repo.join("data/events.csv.gz")),
            "--features",
            s(&default_features()),
            "--model",
            s(&repo.join("models/sample.json")),
            "--as-of",
            "2026-07-26",
            "--out",
            "late.csv",
        ],
    );
    expect(
        out,
        5,
        &["the event log ends on 2026-07-05 but the as-of date is 2026-07-26"],
    );
    assert!(!dir.path().join("late.csv").exists());
}

#[test]
fn drift_past_the_act_threshold_retrains_or_warns() {
    // The sample log ends on 2026-07-05. Scored on 2026-07-10, every recency feature has
    // moved by five days against the model's training day (2026-07-06).
    let dir = tempfile::tempdir().unwrap();
    fs::copy(repo().join("models/sample.json"), dir.path().join("m.json")).unwrap();
    let report_only = config(
        dir.path(),
        "max_age_days = 1000\n[drift]\nretrain = false\n",
    );
    let out = churnrisk(
        dir.path(),
        &["run", "--config", s(&report_only), "--as-of", "2026-07-10"],
    );
    expect(out, 0, &["warning: drift: score PSI"]);
    let m = manifest(dir.path());
    assert_eq!(m["drift"]["level"], "act", "{m}");
    assert_eq!(m["drift"]["reference_as_of"], "2026-07-06");
    assert!(
        m["drift"]["max_feature_psi"].as_f64().unwrap() >= 0.2,
        "{m}"
    );
    assert_eq!(m["model"]["retrained"], false);

    let retrain = config(dir.path(), "max_age_days = 1000\n");
    // A day later, days since the last event has moved for everyone (PSI above 1) and
    // the scores hardly (0.026): a feature's drift alone keeps the model, and says so.
    // It is logged (-v), not a warning: a weekday's swing would warn every night.
    let out = churnrisk(
        dir.path(),
        &[
            "-v",
            "run",
            "--config",
            s(&retrain),
            "--as-of",
            "2026-07-07",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    expect(
        out,
        0,
        &["largest feature PSI 1.031 (days_since_last_event), against 2026-07-06; the scores have not moved (score PSI under 0.1): the model is kept"],
    );
    assert!(!err.contains("warning: drift"), "{err}");
    let m = manifest(dir.path());
    assert_eq!(
        (
            m["model"]["retrained"].as_bool(),
            m["drift"]["level"].as_str()
        ),
        (Some(false), Some("act")),
        "{m}"
    );
    // A retrain on drift is said at the warning level (it was an info line).
    let out = churnrisk(
        dir.path(),
        &["run", "--config", s(&retrain), "--as-of", "2026-07-10"],
    );
    expect(
        out,
        0,
        &[
            "past the act level (0.2): the model is retrained tonight",
            "the model was retrained tonight: the ",
        ],
    );
    let m = manifest(dir.path());
    assert_eq!(m["model"]["retrained"], true, "{m}");
    let reason = m["model"]["retrain_reason"].as_str().unwrap();
    assert!(
        reason.starts_with("drift: score PSI") && reason.contains("(act at 0.2)"),
        "{reason}"
    );
    // Against the new model's own training day, nothing has moved.
    assert_eq!(m["drift"]["level"], "stable", "{m}");
    assert_eq!(m["drift"]["reference_as_of"], "2026-07-10");
}

#[test]
fn json_log_lines_for_log_shippers() {
    let dir = tempfile::tempdir().unwrap();
    fs::copy(repo().join("models/sample.json"), dir.path().join("m.json")).unwrap();
    let cfg = config(dir.path(), "max_age_days = 1000\n");
    let out = churnrisk(
        dir.path(),
        &["-v", "--log-format", "json", "run", "--config", s(&cfg)],
    );
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(lines.len() >= 3, "{stderr}");
    for l in &lines {
        assert!(l["timestamp"].is_string() && l["level"].is_string(), "{l}");
    }
    assert!(lines.iter().any(|l| l["message"]
        .as_str()
        .unwrap_or("")
        .starts_with("lists written to")));
    // Without -v and without a terminal (cron): nothing on a good night.
    let out = churnrisk(dir.path(), &["run", "--config", s(&cfg)]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn a_backfill_trains_its_own_model_and_a_new_churn_definition_retrains() {
    let dir = tempfile::tempdir().unwrap();
    fs::copy(repo().join("models/sample.json"), dir.path().join("m.json")).unwrap();
    let production = fs::read(dir.path().join("m.json")).unwrap();
    let cfg = config(dir.path(), "max_age_days = 1000\n");
    // A backfill a week before the production model's as-of date.
    ok(
        dir.path(),
        &["-q", "run", "--config", s(&cfg), "--as-of", "2026-06-29"],
    );
    let m = manifest(dir.path());
    assert_eq!(m["status"], "ok");
    assert_eq!(m["model"]["retrained"], true);
    assert!(m["model"]["retrain_reason"]
        .as_str()
        .unwrap()
        .contains("a backfill"));
    assert!(m["model"]["path"]
        .as_str()
        .unwrap()
        .ends_with("m.backfill-2026-06-29.json"));
    assert_eq!(m["model"]["trained_as_of"], "2026-06-29");
    assert!(dir.path().join("m.backfill-2026-06-29.json").is_file());
    // The production model is untouched, and the next normal night keeps it.
    assert_eq!(fs::read(dir.path().join("m.json")).unwrap(), production);
    ok(dir.path(), &["-q", "run", "--config", s(&cfg)]);
    let m = manifest(dir.path());
    assert_eq!(m["model"]["retrained"], false);
    assert_eq!(m["model"]["trained_as_of"], "2026-07-06");

    // The churn definition changed in the config: the stored model no longer answers
    // the question asked, so the night retrains and says why.
    let text = fs::read_to_string(&cfg).unwrap() + "[labels]\nhorizon_days = 21\n";
    fs::write(&cfg, text).unwrap();
    ok(dir.path(), &["-q", "run", "--config", s(&cfg)]);
    let m = manifest(dir.path());
    assert_eq!(m["model"]["retrained"], true);
    let why = m["model"]["retrain_reason"].as_str().unwrap();
    assert!(
        why.contains("the churn definition changed")
            && why.contains("horizon 28 days")
            && why.contains("horizon 21 days"),
        "{why}"
    );
    assert_ne!(fs::read(dir.path().join("m.json")).unwrap(), production);
}

#[test]
fn sample_mode_refuses_a_log_cut_short_and_a_missing_users_table() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    fs::create_dir_all(&data).unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(fs::File::open(repo().join("data/events.csv.gz")).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    fs::write(data.join("events.csv"), &text).unwrap();
    fs::copy(repo().join("data/users.csv"), data.join("users.csv")).unwrap();
    fs::copy(repo().join("models/sample.json"), dir.path().join("m.json")).unwrap();
    let features = default_features();
    let args = [
        "-q",
        "run",
        "--data",
        "data",
        "--model",
        "m.json",
        "--features",
        s(&features),
    ];
    ok(dir.path(), &args);
    let published = fs::read(dir.path().join("out/at_risk.csv")).unwrap();
    // The log cut off in April: tonight would be an April night over July's list.
    let cut: String = text
        .lines()
        .enumerate()
        .filter(|(k, l)| *k == 0 || l.split(',').nth(1).is_none_or(|t| t < "2026-04-15"))
        .map(|(_, l)| l)
        .map(|l| format!("{l}\n"))
        .collect();
    fs::File::create(data.join("events.csv"))
        .unwrap()
        .write_all(cut.as_bytes())
        .unwrap();
    let out = churnrisk(dir.path(), &args);
    expect(out, 5, &["is the log cut short?", "--as-of"]);
    assert_eq!(
        fs::read(dir.path().join("out/at_risk.csv")).unwrap(),
        published
    );
    // Without users.csv the CRM columns would silently vanish: refused like a config's.
    fs::write(data.join("events.csv"), &text).unwrap();
    fs::remove_file(data.join("users.csv")).unwrap();
    let out = churnrisk(dir.path(), &args);
    expect(out, 3, &["users.csv", "no such file"]);
}

#[test]
fn clean_up_touches_only_its_own_leftovers_and_long_names_work() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "max_age_days = 1000\n");
    fs::create_dir_all(dir.path().join("out")).unwrap();
    // A user's file that looks temporary, and leftovers of a killed run and training.
    let mine = dir.path().join("out/.notes.tmp");
    let backup = dir.path().join("out/.backup.2024.tmp");
    let dead_list = dir.path().join("out/.at_risk.csv.4999999.churnrisk.tmp");
    let dead_model = dir.path().join(".m.json.4999998.churnrisk.tmp");
    for f in [&mine, &backup, &dead_list, &dead_model] {
        fs::write(f, "x").unwrap();
    }
    ok(dir.path(), &["-q", "run", "--config", s(&cfg), "--retrain"]);
    assert!(
        mine.exists() && backup.exists(),
        "files churnrisk did not make are left alone"
    );
    assert!(!dead_list.exists() && !dead_model.exists());
    // A 250-byte list name: its temporary name still fits in 255 bytes.
    let long = format!("{}.csv", "l".repeat(246));
    ok(
        dir.path(),
        &[
            "-q",
            "score",
            "--events",
            s(&repo().join("data/events.csv.gz")),
            "--features",
            s(&default_features()),
            "--model",
            "m.json",
            "--as-of",
            "2026-07-06",
            "--out",
            &long,
        ],
    );
    assert!(dir.path().join(&long).is_file());
    // A subscription that ends before it starts is set aside, not silently dropped.
    let subs = dir.path().join("subs.csv");
    fs::write(
        &subs,
        "user_id,start_date,end_date\n1,2026-01-05,\n2,2026-03-01,2026-02-01\n",
    )
    .unwrap();
    let rejects = dir.path().join("rejects.csv");
    let out = churnrisk(
        dir.path(),
        &[
            "score",
            "--events",
            s(&repo().join("data/events.csv.gz")),
            "--subscriptions",
            s(&subs),
            "--features",
            s(&default_features()),
            "--model",
            "m.json",
            "--as-of",
            "2026-07-06",
            "--out",
            "subs_list.csv",
            "--rejects",
            s(&rejects),
            "--max-reject-fraction",
            "1",
        ],
    );
    let (_, rows) = read_csv(&rejects);
    assert!(
        rows.iter()
            .any(|r| r[0].ends_with("subs.csv") && r[1] == "3" && r[2] == "end_before_start"),
        "{rows:?} {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_subscriptions_export_taken_days_before_the_night_is_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let repo = repo();
    // The sample's subscriptions as a snapshot exported on 2026-06-20: nothing after it;
    // one hand-edited cancellation cell that is not a date.
    let (_, rows) = read_csv(&repo.join("data/subscriptions.csv"));
    let mut table = String::from("user_id,start_date,end_date,canceled_at\n");
    for (i, r) in rows
        .iter()
        .filter(|r| r[1].as_str() <= "2026-06-20")
        .enumerate()
    {
        let end = if r[2].as_str() <= "2026-06-20" {
            &r[2]
        } else {
            ""
        };
        let canceled = if i == 3 { "asked by phone" } else { "" };
        table.push_str(&format!("{},{},{end},{canceled}\n", r[0], r[1]));
    }
    fs::write(dir.path().join("subs.csv"), table).unwrap();
    let cfg = dir.path().join("churnrisk.toml");
    fs::write(
        &cfg,
        format!(
            "as_of = \"2026-07-06\"\n[inputs]\nevents = \"{}\"\nusers = \"{}\"\n\
             subscriptions = \"subs.csv\"\nfeatures = \"{}\"\n[model]\npath = \"m.json\"\n\
             [output]\ndir = \"out\"\n",
            s(&repo.join("data/events.csv.gz")),
            s(&repo.join("data/users.csv")),
            s(&default_features()),
        ),
    )
    .unwrap();
    let out = churnrisk(dir.path(), &["run", "--config", s(&cfg)]);
    expect(
        out,
        0,
        &[
            "the subscriptions table's latest date is 2026-06-20, 16 days before this night (2026-07-06): subscriptions that ended since are read as running",
            "subscriptions: 1 cell in `canceled_at` did not read, e.g. \"asked by phone\": its row is read without it",
        ],
    );
}

#[test]
fn a_log_that_stopped_days_before_the_night_is_flagged() {
    let dir = tempfile::tempdir().unwrap();
    fs::copy(repo().join("models/sample.json"), dir.path().join("m.json")).unwrap();
    let cfg = config(dir.path(), "max_age_days = 1000\n");
    // The sample's last event is on 2026-07-05: a night on 07-10 runs on a late export.
    // Its date was given (a backfill, a rerun): run on purpose, and warned.
    let out = churnrisk(
        dir.path(),
        &["run", "--config", s(&cfg), "--as-of", "2026-07-10"],
    );
    expect(
        out,
        0,
        &["the log's last event is on 2026-07-05: the 4 days (2026-07-06 to 2026-07-09) before this night (2026-07-10) have no event; is the export late?"],
    );
    // The night before is on time: no such warning.
    let out = churnrisk(dir.path(), &["run", "--config", s(&cfg)]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("is the export late?"));
}

#[test]
fn a_nightly_run_refuses_a_log_that_stops_days_before_tonight() {
    let dir = tempfile::tempdir().unwrap();
    // A nightly config (no as_of: tonight is today) on a log whose last day is three days
    // ago: yesterday and the day before have no event.
    let today = chrono::Utc::now().date_naive();
    let start = (today - chrono::Days::new(150)).to_string();
    ok(
        dir.path(),
        &[
            "generate", "--out", "data", "--users", "1000", "--days", "148", "--seed", "3",
            "--format", "csv", "--start", &start,
        ],
    );
    let cfg = dir.path().join("churnrisk.toml");
    fs::write(
        &cfg,
        format!(
            "[inputs]\nevents = \"data/events.csv\"\nusers = \"data/users.csv\"\nfeatures = \"{}\"\n\
             [model]\npath = \"m.json\"\n[output]\ndir = \"out\"\n",
            s(&default_features()),
        ),
    )
    .unwrap();
    let (missing_from, missing_to) = (today - chrono::Days::new(2), today - chrono::Days::new(1));
    let out = churnrisk(dir.path(), &["run", "--config", s(&cfg)]);
    expect(
        out,
        5,
        &[
            &format!("the 2 days ({missing_from} to {missing_to}) before this night ({today}) have no event: is the export late or cut short? Nothing was published (the last night's list stays); rerun when the log is complete"),
            "allow them with `[inputs] max_missing_days` (or --max-missing-days); now 0",
        ],
    );
    assert!(!dir.path().join("out/at_risk.csv").exists());
    let m = manifest(dir.path());
    assert_eq!(
        (
            m["status"].as_str(),
            m["exit_code"].as_i64(),
            m["error"]["kind"].as_str()
        ),
        (Some("failed"), Some(5), Some("log_late"))
    );
    assert_eq!(m["as_of"].as_str(), Some(today.to_string().as_str()));
    // A product with quiet days allows them: the night runs, and says what it saw.
    let out = churnrisk(
        dir.path(),
        &["run", "--config", s(&cfg), "--max-missing-days", "2"],
    );
    expect(
        out,
        0,
        &[&format!(
            "before this night ({today}) have no event; is the export late?"
        )],
    );
    assert!(dir.path().join("out/at_risk.csv").exists());
}

#[test]
fn an_orchestrators_check_step_refuses_a_late_log_for_its_night() {
    // The Airflow DAG's and the Kubernetes driver's check step: `check --night` applies
    // a nightly run's rule, on the whole log even when it keeps one shard's rows.
    let dir = tempfile::tempdir().unwrap();
    let events = s(&repo().join("data/events.csv.gz")).to_string();
    let check = |extra: &[&str]| {
        let mut args = vec!["check", "--events", &events];
        args.extend_from_slice(extra);
        churnrisk(dir.path(), &args)
    };
    // The sample's last event is on 2026-07-05: the night of 07-06 is on time.
    let out = check(&["--night", "2026-07-06"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("2026-01-05 to 2026-07-05"));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("late"));
    for shard in [&[][..], &["--shard", "3/8"][..]] {
        let mut args = vec!["--night", "2026-07-08"];
        args.extend_from_slice(shard);
        expect(
            check(&args),
            5,
            &[
                "late log: the log's last event is on 2026-07-05, so the 2 days (2026-07-06 to 2026-07-07) before this night (2026-07-08) have no event",
                "allow them with --max-missing-days (`[inputs] max_missing_days` of `run`); now 0",
                "The night should not run on it: its list and model stay the last night's",
            ],
        );
    }
    expect(
        check(&["--night", "2026-07-08", "--max-missing-days", "2"]),
        0,
        &["the 2 days (2026-07-06 to 2026-07-07) before this night (2026-07-08) have no event; is the export late?"],
    );
    // Without a night nothing is said about lateness.
    let out = check(&[]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("late"));
    expect(check(&["--night", "July"]), 4, &["\"July\" is not a date"]);
    // A last day of anonymous traffic only is a day the export reached: not late.
    let line = |user: &str, anon: &str, ts: &str, id: &str| {
        format!(
            "{{\"type\":\"track\",\"event\":\"login\",\"userId\":{user},\"anonymousId\":\"{anon}\",\"timestamp\":\"{ts}\",\"messageId\":\"{id}\"}}\n"
        )
    };
    let log = [
        line("\"u1\"", "d-1", "2026-07-03T10:00:00Z", "m1"),
        line("\"u1\"", "d-1", "2026-07-04T10:00:00Z", "m2"),
        line("null", "v-9", "2026-07-05T18:00:00Z", "m3"),
    ]
    .concat();
    fs::write(dir.path().join("segment.ndjson"), log).unwrap();
    let out = churnrisk(
        dir.path(),
        &[
            "check",
            "--events",
            "segment.ndjson",
            "--preset",
            "segment",
            "--night",
            "2026-07-06",
        ],
    );
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(printed.contains("2026-07-03 to 2026-07-05"), "{printed}");
}

#[test]
fn a_log_cut_during_its_last_day_is_flagged() {
    let dir = tempfile::tempdir().unwrap();
    fs::copy(repo().join("models/sample.json"), dir.path().join("m.json")).unwrap();
    // The sample cut at 09:00 on its last day (2026-07-05): a sixth of the day's events.
    let cfg = config_with_sample_log(dir.path(), "max_age_days = 1000\n", |l| {
        let kept = l.split(',').nth(1).is_none_or(|t| t < "2026-07-05T09");
        kept.then(|| l.to_string())
    });
    let out = churnrisk(dir.path(), &["run", "--config", s(&cfg)]);
    expect(
        out,
        0,
        &["the log's last day (2026-07-05) has 133 events, against 743 on the same weekday of the four weeks before (median): is the export cut short during that day?"],
    );
    // Drift past the act level on that night is the cut's: the model is kept.
    let touchy = fs::read_to_string(&cfg).unwrap() + "[drift]\nwarn = 0.000001\nact = 0.000002\n";
    fs::write(&cfg, touchy).unwrap();
    let out = churnrisk(dir.path(), &["run", "--config", s(&cfg)]);
    expect(
        out,
        0,
        &["but the log's last day looks cut short (above), so the model is kept tonight"],
    );
    assert_eq!(manifest(dir.path())["model"]["retrained"], false);
    // Cut at 17:00: most of the day is there, but its evening is not (an hourly export's
    // last files not yet landed).
    let cfg = config_with_sample_log(dir.path(), "max_age_days = 1000\n", |l| {
        let kept = l.split(',').nth(1).is_none_or(|t| t < "2026-07-05T17");
        kept.then(|| l.to_string())
    });
    let out = churnrisk(dir.path(), &["run", "--config", s(&cfg)]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        stderr.contains("the log's last event is at 16:") && stderr.contains(" UTC on 2026-07-05, and on the same weekday of the four weeks before ")
            && stderr.contains("came after that time: is the export cut short during that day (files of its last hours not yet landed)?"),
        "{stderr}"
    );
    // The whole log with the night's own first hour in it (a folder synced after
    // midnight): the day before ran to its end, no warning.
    let cfg = config_with_sample_log(dir.path(), "max_age_days = 1000\n", |l| {
        // After the sample's last event, 2026-07-05 22:56:41.
        Some(match l.contains(",2026-07-05T22:56:41") {
            true => format!("{l}\n1711,2026-07-06T00:40:00Z,login,,"),
            false => l.to_string(),
        })
    });
    let out = churnrisk(dir.path(), &["run", "--config", s(&cfg)]);
    assert_eq!(out.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("cut short during that day"));
    // The whole log: no such warning.
    let out = churnrisk(
        dir.path(),
        &[
            "run",
            "--config",
            s(&config(dir.path(), "max_age_days = 1000\n")),
        ],
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("cut short during that day"));
    // The summary names its night: a cron log appended to every night tells them apart.
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.starts_with("scored 1099 users as of 2026-07-06: "),
        "{printed}"
    );
}

/// A retrain whose event types with rates of their own changed (here the definitions
/// rate fewer) says which the model lost.
#[test]
fn a_retrain_that_drops_rated_event_types_says_so() {
    let dir = tempfile::tempdir().unwrap();
    fs::copy(repo().join("models/sample.json"), dir.path().join("m.json")).unwrap();
    let fewer = dir.path().join("fewer.toml");
    let text = fs::read_to_string(default_features()).unwrap();
    fs::write(&fewer, text.replace("top = 12", "top = 10")).unwrap();
    let cfg = config(dir.path(), "max_age_days = 1000\n");
    replace_in(&cfg, s(&default_features()), s(&fewer));
    let out = churnrisk(dir.path(), &["run", "--config", s(&cfg)]);
    expect(
        out,
        0,
        &[
            "the retrained model has no rates of their own for ",
            "now rating none instead: the 10 most frequent event types changed",
        ],
    );
    assert_eq!(manifest(dir.path())["model"]["retrained"], true);
    // The summary of a training lists the types it rates.
    let printed = ok(
        dir.path(),
        &[
            "train",
            "--events",
            s(&repo().join("data/events.csv.gz")),
            "--features",
            s(&fewer),
            "--as-of",
            "2026-07-06",
            "--model",
            "t.json",
        ],
    );
    assert!(
        printed.contains("event types with rates of their own (the 10 most frequent, `[event_rates] top`): page_view, login, "),
        "{printed}"
    );
}

/// After a release renamed a core event (here `dashboard_built` for the last ten days), a
/// night whose scores drift past the act level keeps its model: a retrain on the same
/// definitions would learn the stop.
#[test]
fn a_renamed_event_holds_a_drift_retrain() {
    let dir = tempfile::tempdir().unwrap();
    fs::copy(repo().join("models/sample.json"), dir.path().join("m.json")).unwrap();
    let cfg = config_with_sample_log(dir.path(), "max_age_days = 1000\n", |l| {
        let late = l.split(',').nth(1).is_some_and(|t| t >= "2026-06-26");
        Some(if late {
            l.replace(",dashboard_built,", ",dashboard_made,")
        } else {
            l.to_string()
        })
    });
    let out = churnrisk(
        dir.path(),
        &["run", "--config", s(&cfg), "--as-of", "2026-07-10"],
    );
    expect(
        out,
        0,
        &[
            "`dashboard_built` (a value action in ",
            "first seen around then: dashboard_made (",
            "but an event type the feature definitions name has stopped (above): retraining on them would learn the stop, so the model is kept tonight",
        ],
    );
    assert_eq!(manifest(dir.path())["model"]["retrained"], false);
}
