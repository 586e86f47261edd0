//! `score --shard i/n` workers and `merge`: the merged list is the unsharded list, byte
//! for byte, whatever the input format, the tier rule or the order the parts come in.

use std::path::Path;

use super::util::{churnrisk, default_features, ok, repo, s};

const T: &str = "2026-07-06";

/// `score` with the shipped sample model unless `extra` names one.
fn score(dir: &Path, events: &Path, users: &Path, extra: &[&str], out: &str) {
    let features = default_features();
    let model = repo().join("models/sample.json");
    let mut args = vec![
        "-q",
        "score",
        "--events",
        s(events),
        "--users",
        s(users),
        "--features",
        s(&features),
        "--as-of",
        T,
        "--out",
        out,
    ];
    if !extra.contains(&"--model") {
        args.extend(["--model", s(&model)]);
    }
    args.extend_from_slice(extra);
    ok(dir, &args);
}

/// Scores whole and in `n` shards (each with `inputs`, e.g. a model and tables), merges
/// the parts (last first) with the `list` options, compares the bytes.
fn sharded_equals_whole(
    dir: &Path,
    events: &Path,
    users: &Path,
    n: u32,
    inputs: &[&str],
    list: &[&str],
    ext: &str,
) {
    let whole = format!("whole.{ext}");
    score(dir, events, users, &[inputs, list].concat(), &whole);
    let mut parts = Vec::new();
    for i in (1..=n).rev() {
        let part = format!("part-{i}-of-{n}.jsonl");
        let shard = format!("{i}/{n}");
        score(
            dir,
            events,
            users,
            &[inputs, &["--shard", &shard]].concat(),
            &part,
        );
        parts.push(part);
    }
    let merged = format!("merged.{ext}");
    let mut args = vec!["-q", "merge", "--out", merged.as_str()];
    args.extend(parts.iter().map(String::as_str));
    args.extend_from_slice(list);
    ok(dir, &args);
    let (a, b) = (
        std::fs::read(dir.join(&whole)).unwrap(),
        std::fs::read(dir.join(&merged)).unwrap(),
    );
    assert!(a.len() > 1000, "the list is not empty");
    assert!(
        a == b,
        "{n} shards merged differ from the whole list ({list:?}, .{ext})"
    );
}

#[test]
fn merged_shards_are_the_unsharded_list_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let data = repo().join("data");
    let (events, users) = (data.join("events.csv.gz"), data.join("users.csv"));
    sharded_equals_whole(dir.path(), &events, &users, 3, &[], &[], "csv");
    // Rank-based tiers need the whole population: the merge assigns them.
    sharded_equals_whole(
        dir.path(),
        &events,
        &users,
        4,
        &[],
        &[
            "--tiers",
            "top-percent",
            "--high",
            "5",
            "--medium",
            "20",
            "--top",
            "150",
        ],
        "csv",
    );
}

#[test]
fn subscribers_are_sharded_with_the_log() {
    // Under the subscription definition the population is the table's subscribers: each
    // worker scores its own shard of them (every subscriber was in every part before).
    let dir = tempfile::tempdir().unwrap();
    let data = repo().join("data");
    let (events, users) = (data.join("events.csv.gz"), data.join("users.csv"));
    let subscriptions = data.join("subscriptions.csv");
    ok(
        dir.path(),
        &[
            "-q",
            "train",
            "--events",
            s(&events),
            "--subscriptions",
            s(&subscriptions),
            "--features",
            s(&default_features()),
            "--as-of",
            "2026-06-01",
            "--model",
            "subs.json",
        ],
    );
    let inputs = ["--model", "subs.json", "--subscriptions", s(&subscriptions)];
    sharded_equals_whole(dir.path(), &events, &users, 3, &inputs, &[], "csv");
}

#[test]
fn parquet_logs_shard_while_scanning_and_merge_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(
        dir.path(),
        &[
            "-q",
            "generate",
            "--out",
            s(&data),
            "--users",
            "600",
            "--seed",
            "5",
            "--format",
            "parquet",
        ],
    );
    let csv = dir.path().join("csv");
    ok(
        dir.path(),
        &[
            "-q",
            "generate",
            "--out",
            s(&csv),
            "--users",
            "600",
            "--seed",
            "5",
            "--format",
            "csv",
        ],
    );
    // The Parquet log holds the same events as the CSV one.
    let canon = |events: &Path, out: &str| {
        ok(
            dir.path(),
            &["-q", "check", "--events", s(events), "--out", out],
        );
        std::fs::read(dir.path().join(out)).unwrap()
    };
    assert!(
        canon(&data.join("events.parquet"), "a.csv") == canon(&csv.join("events.csv"), "b.csv"),
        "generate --format parquet and csv wrote different events"
    );
    let users = data.join("users.csv");
    sharded_equals_whole(
        dir.path(),
        &data.join("events.parquet"),
        &users,
        5,
        &[],
        &[],
        "jsonl",
    );
}

#[test]
fn an_incomplete_or_mixed_set_of_parts_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = repo().join("data");
    let (events, users) = (data.join("events.csv.gz"), data.join("users.csv"));
    score(dir.path(), &events, &users, &["--shard", "1/2"], "p1.jsonl");
    let out = churnrisk(dir.path(), &["merge", "--out", "m.csv", "p1.jsonl"]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("lacks shard 2/2"), "{err}");
    assert!(!dir.path().join("m.csv").exists());
    // A part of another night does not merge.
    let features = default_features();
    let model = repo().join("models/sample.json");
    ok(
        dir.path(),
        &[
            "-q",
            "score",
            "--events",
            s(&events),
            "--users",
            s(&users),
            "--features",
            s(&features),
            "--model",
            s(&model),
            "--as-of",
            "2026-06-29",
            "--out",
            "p2.jsonl",
            "--shard",
            "2/2",
        ],
    );
    let out = churnrisk(
        dir.path(),
        &["merge", "--out", "m.csv", "p1.jsonl", "p2.jsonl"],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("as-of date"));
    // A shard's part must be JSON Lines.
    let out = churnrisk(
        dir.path(),
        &[
            "score",
            "--events",
            s(&events),
            "--features",
            s(&features),
            "--model",
            s(&model),
            "--as-of",
            T,
            "--out",
            "p.csv",
            "--shard",
            "1/2",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
