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
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_churnrisk"));
    cmd.current_dir(dir)
        .args(["-v", "run", "--config", s(cfg)])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(ms) = pause_ms {
        cmd.env("CHURNRISK_FAULT_PAUSE", format!("at_risk.csv:{ms}"));
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

/// Waits until `child` has written its temporary `name` (`.name.<pid>.tmp`): it then holds
/// the lock and sits in the injected pause before the rename.
fn wait_for_temp_file(out: &Path, name: &str, child: &mut Child) {
    let started = Instant::now();
    let temp = out.join(format!(".{name}.{}.tmp", child.id()));
    loop {
        let found = temp.exists();
        if found {
            return;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before writing {name}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "no temporary {name} after 10 minutes"
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
