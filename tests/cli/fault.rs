//! `kill -9` at the worst moments leaves yesterday's outputs byte for byte, and a second
//! run started while one is in progress is refused.
//!
//! The log is generated large enough that scoring takes seconds. "During scoring" is
//! found from the run's own `-v` log line; "during writing" uses the fault-injection
//! pause between a synced temporary file and its rename (`CHURNRISK_FAULT_PAUSE`),
//! the one moment a non-atomic writer would be caught with a half-written list.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::*;

const OUTPUTS: [&str; 3] = ["at_risk.csv", "manifest.json", "rejects.csv"];

fn config(dir: &Path, data: &Path, as_of: &str) -> PathBuf {
    let text = format!(
        "as_of = \"{as_of}\"\n[inputs]\nevents = \"{}\"\nusers = \"{}\"\nfeatures = \"{}\"\n\
         [model]\npath = \"model.json\"\nmax_age_days = 1000\n[drift]\nretrain = false\n[output]\ndir = \"out\"\n",
        s(&data.join("events.csv")),
        s(&data.join("users.csv")),
        s(&default_features()),
    );
    let p = dir.join(format!("night-{as_of}.toml"));
    fs::write(&p, text).unwrap();
    p
}

fn start(dir: &Path, cfg: &Path, pause_ms: Option<u64>) -> Child {
    start_paused(dir, cfg, pause_ms.map(|ms| format!("at_risk.csv:{ms}")))
}

/// Starts a run with `CHURNRISK_FAULT_PAUSE` set to `pause` (`<point>:<ms>`).
fn start_paused(dir: &Path, cfg: &Path, pause: Option<String>) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_churnrisk"));
    cmd.current_dir(dir)
        .args(["-v", "run", "--config", s(cfg)])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(p) = pause {
        cmd.env("CHURNRISK_FAULT_PAUSE", p);
    }
    cmd.spawn().expect("the binary starts")
}

fn snapshot(out: &Path) -> Vec<Vec<u8>> {
    OUTPUTS
        .iter()
        .map(|n| fs::read(out.join(n)).unwrap())
        .collect()
}

/// Reads the child's stderr until a line contains `needle`; returns the lines read.
fn wait_for_line(child: &mut Child, needle: &str) -> Vec<String> {
    let stderr = child.stderr.take().unwrap();
    let mut lines = Vec::new();
    for line in BufReader::new(stderr).lines() {
        let line = line.unwrap();
        let found = line.contains(needle);
        lines.push(line);
        if found {
            return lines;
        }
    }
    panic!("the run ended without logging {needle:?}: {lines:#?}");
}

/// Waits until `child` has written its staged temporary `name` (`.night/.name.<pid>.tmp`):
/// it then holds the lock and sits in the injected pause before the rename.
fn wait_for_temp_file(out: &Path, name: &str, child: &mut Child) {
    let temp = out.join(format!(".night/.{name}.{}.churnrisk.tmp", child.id()));
    wait_until(child, &format!("a temporary {name}"), || temp.exists());
}

/// Polls `done` every 20 ms while `child` runs (at most 10 minutes).
fn wait_until(child: &mut Child, what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before {what}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "no {what} after 10 minutes"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn kill9(child: &mut Child) {
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run finished before it could be killed"
    );
    child.kill().unwrap(); // SIGKILL on Unix
    let status = child.wait().unwrap();
    assert!(!status.success());
}

#[test]
fn kill_9_during_scoring_and_writing_leaves_yesterday_intact() {
    let dir = tempfile::tempdir().unwrap();
    let data = generated(dir.path(), 8000, 182, 5);
    fs::copy(
        repo().join("models/sample.json"),
        dir.path().join("model.json"),
    )
    .unwrap();
    let out = dir.path().join("out");

    // Yesterday's night, completed.
    let yesterday = config(dir.path(), &data, "2026-07-06");
    ok(dir.path(), &["-q", "run", "--config", s(&yesterday)]);
    let before = snapshot(&out);
    let model_before = fs::read(dir.path().join("model.json")).unwrap();

    // Tonight, killed while scoring.
    let tonight = config(dir.path(), &data, "2026-07-07");
    let mut run = start(dir.path(), &tonight, None);
    wait_for_line(&mut run, "scoring the users active on 2026-07-07");
    kill9(&mut run);
    assert_eq!(snapshot(&out), before, "killed while scoring");

    // Killed with the new list written to its temporary file, before the rename.
    let mut run = start(dir.path(), &tonight, Some(120_000));
    wait_for_temp_file(&out, "at_risk.csv", &mut run);
    kill9(&mut run);
    assert_eq!(snapshot(&out), before, "killed before the rename");
    assert_eq!(
        fs::read(dir.path().join("model.json")).unwrap(),
        model_before
    );

    // While a run holds the folder, a second is refused and changes nothing.
    let mut first = start(dir.path(), &tonight, Some(120_000));
    wait_for_temp_file(&out, "at_risk.csv", &mut first);
    let second = churnrisk(dir.path(), &["run", "--config", s(&tonight)]);
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(6), "{stderr}");
    assert!(
        stderr.contains(&format!("another churnrisk run (pid {})", first.id())),
        "{stderr}"
    );
    // So is a `score` writing its list into the run's folder.
    let score = churnrisk(
        dir.path(),
        &[
            "score",
            "--events",
            s(&data.join("events.csv")),
            "--features",
            s(&default_features()),
            "--model",
            "model.json",
            "--as-of",
            "2026-07-07",
            "--out",
            "out/at_risk.csv",
        ],
    );
    assert_eq!(
        score.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&score.stderr)
    );
    kill9(&mut first);
    assert_eq!(snapshot(&out), before, "refused run or killed first run");

    // The next run takes over, clears the leftovers and writes tonight's list.
    ok(dir.path(), &["-q", "run", "--config", s(&tonight)]);
    let after = snapshot(&out);
    assert_ne!(after[0], before[0]);
    let leftovers: Vec<String> = fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // And it is the list an undisturbed pair of nights writes.
    let clean = tempfile::tempdir().unwrap();
    fs::copy(
        repo().join("models/sample.json"),
        clean.path().join("model.json"),
    )
    .unwrap();
    for night in ["2026-07-06", "2026-07-07"] {
        let cfg = config(clean.path(), &data, night);
        ok(clean.path(), &["-q", "run", "--config", s(&cfg)]);
    }
    assert_eq!(
        fs::read(clean.path().join("out/at_risk.csv")).unwrap(),
        after[0]
    );
}

/// The files of a published night.
const NIGHT: [&str; 6] = [
    "at_risk.csv",
    "changes.csv",
    "list_state.csv",
    "list_state.previous.csv",
    "manifest.json",
    "rejects.csv",
];

fn night_files(out: &Path) -> Vec<Option<Vec<u8>>> {
    NIGHT.iter().map(|n| fs::read(out.join(n)).ok()).collect()
}

/// Without the times of the run, which differ between two runs of the same night, and
/// with the run's folder (`dir`, in its paths) as `DIR`.
fn timeless(manifest: &[u8], dir: &Path) -> serde_json::Value {
    let text = String::from_utf8_lossy(manifest).replace(&dir.display().to_string(), "DIR");
    let mut m: serde_json::Value = serde_json::from_str(&text).unwrap();
    for key in ["started_at", "finished_at", "timings_ms"] {
        m[key] = serde_json::Value::Null;
    }
    m
}

#[test]
fn kill_9_between_the_renames_of_a_publish_is_repaired_by_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let data = generated(dir.path(), 3000, 182, 9);
    let model = repo().join("models/sample.json");
    // Two undisturbed nights: yesterday's files, then tonight's.
    let clean = dir.path().join("clean");
    fs::create_dir_all(&clean).unwrap();
    fs::copy(&model, clean.join("model.json")).unwrap();
    let mut nights = Vec::new();
    for night in ["2026-07-06", "2026-07-07"] {
        ok(
            &clean,
            &["-q", "run", "--config", s(&config(&clean, &data, night))],
        );
        nights.push(night_files(&clean.join("out")));
    }
    let (yesterday, tonight) = (&nights[0], &nights[1]);
    // Kill after each rename of tonight's publish: the next run finishes it first.
    for (k, name) in NIGHT.iter().enumerate() {
        let case = dir.path().join(format!("kill-{k}"));
        fs::create_dir_all(&case).unwrap();
        fs::copy(&model, case.join("model.json")).unwrap();
        let out = case.join("out");
        ok(
            &case,
            &[
                "-q",
                "run",
                "--config",
                s(&config(&case, &data, "2026-07-06")),
            ],
        );
        let cfg = config(&case, &data, "2026-07-07");
        let mut run = start_paused(&case, &cfg, Some(format!("published {name}:120000")));
        let staged = out.join(".night").join(name);
        wait_until(&mut run, &format!("{name} published"), || {
            out.join(".night.publish").exists() && !staged.exists()
        });
        kill9(&mut run);
        // Each file is yesterday's or tonight's, and the journal says what is left.
        let now = night_files(&out);
        for (i, n) in NIGHT.iter().enumerate() {
            let is = |night: &[Option<Vec<u8>>]| {
                if *n == "manifest.json" {
                    now[i].as_deref().map(|m| timeless(m, &case))
                        == night[i].as_deref().map(|m| timeless(m, &clean))
                } else {
                    now[i] == night[i]
                }
            };
            assert!(is(yesterday) || is(tonight), "killed after {name}: {n}");
        }
        assert!(out.join(".night.publish").exists());
        // The next run repairs the set (and says so), then runs its night.
        let again = churnrisk(&case, &["run", "--config", s(&cfg)]);
        let err = String::from_utf8_lossy(&again.stderr);
        assert!(again.status.success(), "{err}");
        assert!(err.contains("stopped while publishing"), "{err}");
        let after = night_files(&out);
        for (i, n) in NIGHT.iter().enumerate() {
            if *n == "manifest.json" {
                assert_eq!(
                    after[i].as_deref().map(|m| timeless(m, &case)),
                    tonight[i].as_deref().map(|m| timeless(m, &clean))
                );
            } else {
                assert_eq!(after[i], tonight[i], "after the repair: {n}");
            }
        }
        assert!(!out.join(".night").exists() && !out.join(".night.publish").exists());
    }
}

#[test]
fn a_night_that_fails_while_writing_publishes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = generated(dir.path(), 3000, 182, 9);
    fs::copy(
        repo().join("models/sample.json"),
        dir.path().join("model.json"),
    )
    .unwrap();
    ok(
        dir.path(),
        &[
            "-q",
            "run",
            "--config",
            s(&config(dir.path(), &data, "2026-07-06")),
        ],
    );
    let out = dir.path().join("out");
    let before = night_files(&out);
    // A file where the HubSpot folder must go: the CRM export fails after the list.
    fs::write(out.join("hubspot"), "x").unwrap();
    let cfg = config(dir.path(), &data, "2026-07-07");
    let text = fs::read_to_string(&cfg).unwrap().replace(
        "dir = \"out\"\n",
        "dir = \"out\"\nformats = [\"csv\", \"hubspot\"]\n",
    );
    fs::write(&cfg, text).unwrap();
    let model_before = fs::read(dir.path().join("model.json")).unwrap();
    // Retraining tonight: the new model would go with the night, so it does not go either.
    let failed = churnrisk(dir.path(), &["run", "--config", s(&cfg), "--retrain"]);
    assert_eq!(
        fs::read(dir.path().join("model.json")).unwrap(),
        model_before
    );
    // Exit 7: an output could not be written (not "bad input").
    assert_eq!(
        failed.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&failed.stderr)
    );
    let after = night_files(&out);
    // The lists and the state are yesterday's; the manifest says the night failed.
    for (i, n) in NIGHT.iter().enumerate() {
        if !matches!(*n, "manifest.json" | "rejects.csv") {
            assert_eq!(after[i], before[i], "{n}");
        }
    }
    let m: serde_json::Value = serde_json::from_slice(after[4].as_deref().unwrap()).unwrap();
    assert_eq!(m["status"], "failed");
    // The manifest keeps what the night computed, and says its model was not written.
    assert_eq!(
        (&m["model"]["retrained"], &m["model"]["written"]),
        (&true.into(), &false.into())
    );
    assert!(m["outputs"].as_array().unwrap().is_empty());
    assert!(!out.join(".night").exists());

    // Tonight's model cannot be written (here a file where its folder goes; a full disk
    // alike): the night fails before its list is published, not after.
    fs::remove_file(out.join("hubspot")).unwrap();
    fs::write(dir.path().join("blocker"), "x").unwrap();
    let text = fs::read_to_string(&cfg)
        .unwrap()
        .replace("path = \"model.json\"", "path = \"blocker/model.json\"");
    fs::write(&cfg, text).unwrap();
    let failed = churnrisk(dir.path(), &["run", "--config", s(&cfg), "--retrain"]);
    let err = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(failed.status.code(), Some(7), "{err}");
    assert!(
        err.contains("error: the night of 2026-07-07 failed and published nothing (the last list stays): writing model ")
            && err.contains("blocker/model.json"),
        "{err}"
    );
    let after = night_files(&out);
    for (i, n) in NIGHT.iter().enumerate() {
        if !matches!(*n, "manifest.json" | "rejects.csv") {
            assert_eq!(after[i], before[i], "{n}");
        }
    }
    assert!(!out.join("hubspot").exists());
}

/// Runs churnrisk where file permissions apply: as root (CI) through util-linux's
/// `setpriv` as nobody, else as the current user.
fn unprivileged(dir: &Path, bin: &Path, args: &[&str]) -> std::process::Output {
    let id = Command::new("id").arg("-u").output().expect("id runs");
    let mut cmd = if id.stdout.starts_with(b"0\n") {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(bin);
        c
    } else {
        Command::new(bin)
    };
    cmd.current_dir(dir)
        .args(args)
        .output()
        .expect("churnrisk runs")
}

#[test]
fn a_crm_folder_the_night_cannot_write_fails_it_unpublished() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Everything the run needs, in a folder its user may write.
    let bin = d.join("churnrisk");
    fs::copy(env!("CARGO_BIN_EXE_churnrisk"), &bin).unwrap();
    let repo = repo();
    for (from, to) in [
        (repo.join("data/events.csv.gz"), "events.csv.gz"),
        (repo.join("data/users.csv"), "users.csv"),
        (default_features(), "features.toml"),
        (repo.join("models/sample.json"), "m.json"),
    ] {
        fs::copy(from, d.join(to)).unwrap();
    }
    fs::write(
        d.join("c.toml"),
        "as_of = \"2026-07-06\"\n[inputs]\nevents = \"events.csv.gz\"\nusers = \"users.csv\"\n\
         features = \"features.toml\"\n[model]\npath = \"m.json\"\nmax_age_days = 1000\n\
         [output]\ndir = \"out\"\nformats = [\"csv\", \"hubspot\"]\n",
    )
    .unwrap();
    for entry in fs::read_dir(d).unwrap() {
        let p = entry.unwrap().path();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o777)).unwrap();
    }
    fs::set_permissions(d, fs::Permissions::from_mode(0o777)).unwrap();
    let first = unprivileged(d, &bin, &["-q", "run", "--config", "c.toml"]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let out = d.join("out");
    let before = night_files(&out);
    // The HubSpot folder replaced by one the run's user cannot write (another user's, or
    // made read-only): found before the commit point, so nothing of tonight is published.
    fs::remove_dir_all(out.join("hubspot")).unwrap();
    fs::create_dir(out.join("hubspot")).unwrap();
    fs::set_permissions(out.join("hubspot"), fs::Permissions::from_mode(0o555)).unwrap();
    let failed = unprivileged(
        d,
        &bin,
        &["run", "--config", "c.toml", "--as-of", "2026-07-07"],
    );
    let err = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(failed.status.code(), Some(7), "{err}");
    assert!(err.contains("out/hubspot: cannot write"), "{err}");
    let after = night_files(&out);
    for (i, n) in NIGHT.iter().enumerate() {
        if !matches!(*n, "manifest.json" | "rejects.csv") {
            assert!(after[i] == before[i], "{n} changed");
        }
    }
    assert!(!out.join(".night").exists() && !out.join(".night.publish").exists());
}
