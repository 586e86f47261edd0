//! Running the binary in a temporary folder.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn default_features() -> PathBuf {
    repo().join("features/default.toml")
}

/// Runs `churnrisk args…` in `dir`.
pub fn churnrisk(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_churnrisk"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the binary runs")
}

/// Asserts the exit code, no panic, and that stderr holds every needle.
pub fn expect(out: Output, code: i32, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for n in needles {
        assert!(stderr.contains(n), "expected {n:?} in: {stderr}");
    }
}

/// Runs and asserts success; returns stdout.
pub fn ok(dir: &Path, args: &[&str]) -> String {
    let out = churnrisk(dir, args);
    assert!(
        out.status.success(),
        "churnrisk {args:?} failed ({:?}):\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A generated plain-CSV data set in `dir/data` (users, days, seed).
pub fn generated(dir: &Path, users: usize, days: u32, seed: u64) -> PathBuf {
    let data = dir.join("data");
    ok(
        dir,
        &[
            "generate",
            "--out",
            data.to_str().unwrap(),
            "--users",
            &users.to_string(),
            "--days",
            &days.to_string(),
            "--seed",
            &seed.to_string(),
            "--format",
            "csv",
            "--start",
            "2026-01-05",
        ],
    );
    data
}

/// Reads a CSV file into header + rows with a real CSV parser.
pub fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|x| x.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}
