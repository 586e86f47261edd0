//! Progress for a person at a terminal, silence for cron.

use std::process::Command;

use crate::util::*;

#[test]
fn reading_a_log_draws_a_byte_bar_on_a_terminal_and_nothing_under_cron() {
    let dir = tempfile::tempdir().unwrap();
    let (events, model, features) = (
        repo().join("data/events.csv.gz"),
        repo().join("models/sample.json"),
        default_features(),
    );
    let args = [
        "score",
        "--events",
        s(&events),
        "--model",
        s(&model),
        "--features",
        s(&features),
        "--as-of",
        "2026-07-06",
        "--out",
        "list.csv",
    ];
    // At a terminal: a pseudo-terminal from util-linux's `script`, whose output is what the
    // terminal showed.
    let line = std::iter::once(env!("CARGO_BIN_EXE_churnrisk"))
        .chain(args)
        .collect::<Vec<_>>()
        .join(" ");
    let shown = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .current_dir(dir.path())
        .output()
        .expect("util-linux `script` runs (apt-get install -y bsdutils)");
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.status.success(), "{text}");
    let bar = text
        .lines()
        .flat_map(|l| l.split('\r'))
        .find(|l| l.contains("reading") && l.contains("ETA"))
        .unwrap_or_else(|| panic!("no progress bar in: {text}"));
    // "reading …events.csv.gz [=====>   ] 1.50 MiB/3.03 MiB 10.00 MiB/s ETA 0s [0s]"
    let total = std::fs::metadata(&events).unwrap().len() as f64 / 1024.0 / 1024.0;
    assert!(bar.contains(&format!("/{total:.2} MiB")), "{bar}");
    // Under cron (stderr not a terminal): no bar, and no progress on stderr at all.
    let out = churnrisk(dir.path(), &args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stderr.contains("ETA") && !stderr.contains("MiB"),
        "{stderr}"
    );
}
