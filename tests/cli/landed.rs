//! Exports as they land (tests/fixtures/exports/landed, written from the vendors'
//! documentation): each preset's folder, archive or headerless file reads to the expected
//! events of identified users only; a night runs on a Segment S3 folder with anonymous
//! traffic and identify calls, and scores identified users only.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{Read, Write};
use std::path::Path;

use super::util::{churnrisk, default_features, ok, read_csv, repo, s};

fn landed() -> std::path::PathBuf {
    repo().join("tests/fixtures/exports/landed")
}

/// `check --out` of `input` with `preset`: sorted (user, time, event) rows and stdout.
fn read_as(dir: &Path, input: &Path, preset: &str) -> (Vec<[String; 3]>, String) {
    let out = dir.join(format!("{preset}.csv"));
    let printed = ok(
        dir,
        &[
            "check",
            "--events",
            s(input),
            "--preset",
            preset,
            "--out",
            s(&out),
        ],
    );
    (first_three_sorted(read_csv(&out).1), printed)
}

/// Each row's first three cells (user, time, event), sorted.
fn first_three_sorted(rows: Vec<Vec<String>>) -> Vec<[String; 3]> {
    let mut rows: Vec<[String; 3]> = rows
        .into_iter()
        .map(|r| [r[0].clone(), r[1].clone(), r[2].clone()])
        .collect();
    rows.sort();
    rows
}

#[test]
fn every_landed_export_reads_to_the_expected_events_of_identified_users() {
    let dir = tempfile::tempdir().unwrap();
    let mut expected: BTreeMap<String, Vec<[String; 3]>> = BTreeMap::new();
    let (header, rows) = read_csv(&landed().join("expected.csv"));
    assert_eq!(header, ["preset", "user_id", "timestamp", "event"]);
    for r in rows {
        expected
            .entry(r[0].clone())
            .or_default()
            .push([r[1].clone(), r[2].clone(), r[3].clone()]);
    }
    // (name in expected.csv, input as it lands, preset, identity calls in it, anonymous rows
    // and visitors: PostHog's logged-out visit of u1 adds one of each)
    let inputs = [
        ("segment", "segment-logs", "segment", 3, (3, 2)),
        ("amplitude", "amplitude", "amplitude", 3, (3, 2)),
        ("amplitude_zip", "amplitude.zip", "amplitude", 3, (3, 2)),
        ("mixpanel", "mixpanel", "mixpanel", 3, (3, 2)),
        ("mixpanel_ms", "mixpanel_ms", "mixpanel", 3, (3, 2)),
        ("snowplow", "snowplow/enriched.tsv", "snowplow", 0, (3, 2)),
        ("snowplow_gz", "snowplow_gz", "snowplow", 0, (3, 2)),
        ("ga4", "ga4", "ga4", 0, (3, 2)),
        ("posthog", "posthog", "posthog", 3, (4, 3)),
    ];
    assert_eq!(expected.len(), inputs.len());
    for (name, input, preset, calls, (anon_rows, visitors)) in inputs {
        let (rows, printed) = read_as(dir.path(), &landed().join(input), preset);
        let mut want = expected[name].clone();
        want.sort();
        assert_eq!(rows, want, "{name}");
        // The anonymous visitors v-9 and v-10 are counted, not scored, not set aside.
        let users: BTreeSet<&str> = rows.iter().map(|r| r[0].as_str()).collect();
        assert!(
            !users.contains("v-9") && !users.contains("d-2") && !users.contains("a-11"),
            "{name}"
        );
        assert!(
            printed.contains(&format!(
                "identity: {anon_rows} rows of {visitors} anonymous visitors who never identified"
            )) && printed.contains(&format!("{calls} identity calls")),
            "{name}: {printed}"
        );
        assert!(
            printed.contains("(0 lost, 1 duplicates)"),
            "{name}: {printed}"
        );
    }
    // A structured event is named by its action, and its value is `se_value`.
    let (header, rows) = read_csv(&dir.path().join("snowplow.csv"));
    let value = header.iter().position(|h| h == "value").unwrap();
    let shared = rows.iter().find(|r| r[2] == "report_shared").unwrap();
    assert_eq!((shared[0].as_str(), shared[value].as_str()), ("u2", "3"));
    // u2's visits before sign-up are u2's.
    let (segment, _) = read_as(dir.path(), &landed().join("segment-logs"), "segment");
    assert!(segment
        .iter()
        .any(|r| r[0] == "u2" && r[2] == "pricing_viewed"));
    // u3 only ever sent identify calls: not a user of the product.
    assert!(!segment.iter().any(|r| r[0] == "u3"));
    // PostHog: u3's server-side `$set` syncs are not product use either.
    let (posthog, _) = read_as(dir.path(), &landed().join("posthog"), "posthog");
    assert!(!posthog.iter().any(|r| r[0] == "u3"));
}

#[test]
fn amplitude_session_minus_one_is_no_session() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a.csv");
    ok(
        dir.path(),
        &[
            "check",
            "--events",
            s(&landed().join("amplitude.zip")),
            "--preset",
            "amplitude",
            "--out",
            s(&out),
        ],
    );
    let (header, rows) = read_csv(&out);
    let session = header.iter().position(|h| h == "session_id").unwrap();
    // The two server-side events (session -1) get sessions of their own; the others
    // keep Amplitude's session ids.
    let sessions: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r[2].as_str(), r[session].as_str()))
        .collect();
    assert!(!sessions.iter().any(|(_, s)| *s == "-1"), "{sessions:?}");
    for event in ["subscription_renewed", "invoice_paid"] {
        let (_, s) = sessions.iter().find(|(e, _)| *e == event).unwrap();
        assert!(s.starts_with('g'), "{event}: {s}");
    }
    assert!(sessions
        .iter()
        .any(|(_, s)| s.len() == 13 && s.bytes().all(|b| b.is_ascii_digit())));
}

#[test]
fn a_mapped_column_that_is_not_in_the_file_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = churnrisk(
        dir.path(),
        &[
            "check",
            "--events",
            s(&landed().join("amplitude")),
            "--preset",
            "amplitude",
            "--column",
            "user_id=nosuch",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(
        err.contains("`nosuch`") && err.contains("not in the file"),
        "{err}"
    );
}

#[test]
fn a_log_with_no_event_left_names_the_classes_and_writes_the_reject_file() {
    let dir = tempfile::tempdir().unwrap();
    // Mixpanel times in milliseconds forced to be read as seconds: none is a time
    // before now, so no event is left.
    let rejects = dir.path().join("rejects.csv");
    let out = churnrisk(
        dir.path(),
        &[
            "check",
            "--events",
            s(&landed().join("mixpanel_ms")),
            "--preset",
            "mixpanel",
            "--column",
            "timestamp_unit=s",
            "--rejects",
            s(&rejects),
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    let (_, rows) = read_csv(&rejects);
    // The 7 events of identified users and the retry (identity calls and anonymous
    // rows are not rejects).
    assert_eq!(rows.len(), 8, "{rows:?}");
    let class = rows[0][2].clone();
    assert!(rows.iter().all(|r| r[2] == class), "{rows:?}");
    assert!(
        err.contains("no event is left to score")
            && err.contains(&format!("8 {class}"))
            && err.contains("3 rows of anonymous visitors")
            && err.contains("3 identity calls")
            && err.contains(&format!("rows set aside are in {}", rejects.display())),
        "{err}"
    );
}

/// The sample log as Segment's S3 destination writes it: one folder per received day of
/// gzipped NDJSON files without `.json` in their names; plus anonymous visitors, a
/// user's visits before sign-up and a user who only ever sends identify calls.
fn segment_s3(root: &Path) -> usize {
    let mut text = String::new();
    flate2::read::GzDecoder::new(fs::File::open(repo().join("data/events.csv.gz")).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let mut days: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut add = |day: &str, message: serde_json::Value| {
        days.entry(day.to_string())
            .or_default()
            .push(message.to_string());
    };
    for (i, line) in text.lines().skip(1).enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        let mut m = serde_json::json!({
            "type": "track", "userId": f[0], "anonymousId": format!("dev-{}", f[0]),
            "event": f[2], "timestamp": f[1], "messageId": format!("m-{i}"),
            "properties": {}, "context": {"library": {"name": "analytics.js"}},
        });
        if !f[3].is_empty() {
            m["properties"]["revenue"] = f[3].parse::<f64>().unwrap().into();
        }
        add(&f[1][..10], m);
    }
    // 40 visitors who never sign up, active in the last week.
    for v in 0..40 {
        for d in 1..=5 {
            let ts = format!("2026-07-0{d}T1{}:00:00Z", v % 10);
            add(
                &ts[..10],
                serde_json::json!({"type": "page", "anonymousId": format!("anon-{v}"),
                    "name": "Pricing", "timestamp": ts, "messageId": format!("p-{v}-{d}")}),
            );
        }
    }
    // User 1 browsed anonymously before signing up; identify ties the two ids.
    for (k, ts) in ["2026-01-04T10:00:00Z", "2026-01-04T10:05:00Z"]
        .iter()
        .enumerate()
    {
        add(
            &ts[..10],
            serde_json::json!({"type": "page", "anonymousId": "pre-1", "name": "Home",
                "timestamp": ts, "messageId": format!("pre-{k}")}),
        );
    }
    add(
        "2026-01-05",
        serde_json::json!({"type": "identify", "userId": "1", "anonymousId": "pre-1",
            "traits": {"plan": "pro"}, "timestamp": "2026-01-05T03:35:00Z", "messageId": "id-1"}),
    );
    // A departed customer whose traits a server syncs weekly.
    for (k, day) in ["2026-06-10", "2026-06-17", "2026-06-24", "2026-07-01"]
        .iter()
        .enumerate()
    {
        add(
            day,
            serde_json::json!({"type": "identify", "userId": "sync-only", "traits": {"plan": "pro"},
                "timestamp": format!("{day}T02:00:00Z"), "messageId": format!("sync-{k}")}),
        );
    }
    let mut files = 0;
    for (day, lines) in days {
        let ms = chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d")
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp_millis();
        let folder = root.join(format!("segment-logs/SRC123/{ms}"));
        fs::create_dir_all(&folder).unwrap();
        // Two files a day, as uploads split them.
        let half = lines.len().div_ceil(2);
        for (k, chunk) in lines.chunks(half.max(1)).enumerate() {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all((chunk.join("\n") + "\n").as_bytes()).unwrap();
            fs::write(
                folder.join(format!("{ms}.a1b2c3{k}.gz")),
                gz.finish().unwrap(),
            )
            .unwrap();
            files += 1;
        }
    }
    files
}

#[test]
fn a_night_runs_on_a_segment_s3_folder_and_scores_identified_users_only() {
    let dir = tempfile::tempdir().unwrap();
    let files = segment_s3(dir.path());
    fs::copy(
        repo().join("models/sample.json"),
        dir.path().join("model.json"),
    )
    .unwrap();
    fs::write(
        dir.path().join("churnrisk.toml"),
        format!(
            "as_of = \"2026-07-06\"\n[inputs]\nevents = \"segment-logs/\"\npreset = \"segment\"\n\
             users = \"{}\"\nfeatures = \"{}\"\n[model]\npath = \"model.json\"\nmax_age_days = 1000\n\
             [output]\ndir = \"out\"\n",
            s(&repo().join("data/users.csv")),
            s(&default_features()),
        ),
    )
    .unwrap();
    let out = churnrisk(dir.path(), &["run", "--config", "churnrisk.toml"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    // A good night of an ordinary export: nothing to act on, so nothing on stderr.
    assert_eq!(err, "");
    let (header, rows) = read_csv(&dir.path().join("out/at_risk.csv"));
    let user = header.iter().position(|h| h == "user_id").unwrap();
    let listed: BTreeSet<&str> = rows.iter().map(|r| r[user].as_str()).collect();
    assert!(!listed.is_empty());
    assert!(
        listed.iter().all(|u| u.bytes().all(|b| b.is_ascii_digit())),
        "only the sample's (numeric) user ids: {listed:?}"
    );
    let m: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("out/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(m["status"], "ok");
    let events: Vec<&serde_json::Value> = m["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["role"] == "events")
        .collect();
    assert_eq!(events.len(), files);
    assert!(events
        .iter()
        .all(|e| e["sha256"].as_str().unwrap().len() == 64
            && e["path"].as_str().unwrap().contains("segment-logs/SRC123/")
            && e["rows"].as_u64().unwrap() > 0));
    let rows_read: u64 = events.iter().map(|e| e["rows"].as_u64().unwrap()).sum();
    assert_eq!(rows_read, 384_971 + 200 + 2 + 1 + 4);
    let id = &m["identity"];
    assert_eq!(id["anonymous_rows"], 200);
    assert_eq!(id["anonymous_visitors"], 40);
    assert_eq!(id["stitched_rows"], 2);
    assert_eq!(id["identity_calls"], 5);
    // Without the export's anonymous traffic and identify calls the list is the same.
    let plain = churnrisk(
        dir.path(),
        &[
            "score",
            "--events",
            s(&repo().join("data/events.csv.gz")),
            "--users",
            s(&repo().join("data/users.csv")),
            "--features",
            s(&default_features()),
            "--model",
            "model.json",
            "--as-of",
            "2026-07-06",
            "--out",
            "plain.csv",
        ],
    );
    assert!(
        plain.status.success(),
        "{}",
        String::from_utf8_lossy(&plain.stderr)
    );
    let (plain_header, plain_rows) = read_csv(&dir.path().join("plain.csv"));
    let plain_user = plain_header.iter().position(|h| h == "user_id").unwrap();
    let plain_users: BTreeSet<&str> = plain_rows.iter().map(|r| r[plain_user].as_str()).collect();
    assert_eq!(listed, plain_users);

    // The same export zipped: the same list; the manifest names the archive.
    let zipped = dir.path().join("segment.zip");
    let mut w = zip::ZipWriter::new(fs::File::create(&zipped).unwrap());
    let mut stack = vec![dir.path().join("segment-logs")];
    let mut names = Vec::new();
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                names.push(p);
            }
        }
    }
    names.sort();
    for p in names {
        let name = p
            .strip_prefix(dir.path())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        w.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(&fs::read(&p).unwrap()).unwrap();
    }
    w.finish().unwrap();
    let cfg = fs::read_to_string(dir.path().join("churnrisk.toml"))
        .unwrap()
        .replace("events = \"segment-logs/\"", "events = \"segment.zip\"")
        .replace("dir = \"out\"", "dir = \"out-zip\"");
    fs::write(dir.path().join("zip.toml"), cfg).unwrap();
    let out = churnrisk(dir.path(), &["run", "--config", "zip.toml"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(
        fs::read(dir.path().join("out/at_risk.csv")).unwrap(),
        fs::read(dir.path().join("out-zip/at_risk.csv")).unwrap()
    );
    let m: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(dir.path().join("out-zip/manifest.json")).unwrap(),
    )
    .unwrap();
    let events = &m["inputs"][0];
    assert_eq!(events["role"], "events");
    assert!(events["path"].as_str().unwrap().ends_with("segment.zip"));
    assert_eq!(events["rows"].as_u64().unwrap(), rows_read);
}

#[test]
fn shards_of_a_segment_folder_merge_into_the_whole_list() {
    let dir = tempfile::tempdir().unwrap();
    segment_s3(dir.path());
    let (features, model) = (default_features(), repo().join("models/sample.json"));
    let score = |shard: Option<&str>, out: &str| {
        let mut args = vec![
            "-q",
            "score",
            "--events",
            "segment-logs",
            "--preset",
            "segment",
            "--features",
            s(&features),
            "--model",
            s(&model),
            "--as-of",
            "2026-07-06",
            "--out",
            out,
        ];
        if let Some(sh) = shard {
            args.extend(["--shard", sh]);
        }
        ok(dir.path(), &args);
    };
    score(None, "whole.csv");
    score(Some("2/2"), "part-2.jsonl");
    score(Some("1/2"), "part-1.jsonl");
    ok(
        dir.path(),
        &[
            "-q",
            "merge",
            "--out",
            "merged.csv",
            "part-2.jsonl",
            "part-1.jsonl",
        ],
    );
    let whole = fs::read(dir.path().join("whole.csv")).unwrap();
    assert!(whole.len() > 1000);
    // Visits before sign-up are linked before a shard keeps its users: the same list.
    let merged = fs::read(dir.path().join("merged.csv")).unwrap();
    if whole != merged {
        let (w, m) = (
            String::from_utf8_lossy(&whole),
            String::from_utf8_lossy(&merged),
        );
        let first = w
            .lines()
            .zip(m.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        panic!(
            "the merged list differs from the whole one at line {}:\nwhole:  {}\nmerged: {}",
            first + 1,
            w.lines().nth(first).unwrap_or(""),
            m.lines().nth(first).unwrap_or("")
        );
    }
}

#[test]
fn check_writes_the_canonical_events_to_stdout_with_out_dash() {
    let dir = tempfile::tempdir().unwrap();
    let (file_rows, _) = read_as(dir.path(), &landed().join("segment-logs"), "segment");
    let printed = ok(
        dir.path(),
        &[
            "check",
            "--events",
            s(&landed().join("segment-logs")),
            "--preset",
            "segment",
            "--out",
            "-",
        ],
    );
    assert!(!dir.path().join("-").exists());
    let mut lines = printed.lines();
    assert_eq!(
        lines.next(),
        Some("user_id,timestamp,event,value,session_id")
    );
    let mut rows: Vec<[String; 3]> = lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            [f[0].to_string(), f[1].to_string(), f[2].to_string()]
        })
        .collect();
    rows.sort();
    assert_eq!(rows, file_rows);
}

#[test]
fn a_closed_pipe_ends_check_quietly() {
    // `churnrisk check … | head -1`: the reader is gone before the summary is printed.
    let unread = |events: &std::path::Path, extra: &[&str]| {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_churnrisk"))
            .args(["check", "--events"])
            .arg(events)
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, err) = unread(&landed().join("segment-logs"), &["--preset", "segment"]);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(code, Some(0), "{err}");
    // A log over the reject limit still exits 3 when nobody reads the summary (it had
    // ended at the closed pipe with 0).
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "user_id,timestamp,event\nu1,2026-07-01T10:00:00Z,a\nu1,2026-07-01T11:00:00Z,a,extra\n",
    )
    .unwrap();
    let (code, err) = unread(&bad, &[]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("1 malformed_row"), "{err}");
    // The same with the events themselves on stdout (`--out -`).
    let (code, err) = unread(&bad, &["--out", "-"]);
    assert_eq!(code, Some(3), "{err}");
    // A stdout that cannot be written (a full disk) is an output failure, exit 7.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_churnrisk"))
        .args([
            "check",
            "--max-reject-fraction",
            "1",
            "--out",
            "-",
            "--events",
        ])
        .arg(&bad)
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{err}");
    assert!(err.contains("standard output: cannot write"), "{err}");
}

/// A Delta Lake table as delta-rs leaves it after a reload, an erasure, a compaction and a
/// log cleanup (`make_delta.py`): the rows its log says are live, as delta-rs reads them —
/// not every Parquet file in the folder (which gives back the erased user u3 and counts
/// replaced rows twice).
#[test]
fn a_delta_table_reads_as_its_log_says() {
    let dir = tempfile::tempdir().unwrap();
    let table = landed().join("delta/events");
    let out = dir.path().join("delta.csv");
    let printed = ok(
        dir.path(),
        &[
            "check",
            "--events",
            s(&table),
            "--column",
            "timestamp=event_ts",
            "--column",
            "event=event_name",
            "--out",
            s(&out),
        ],
    );
    let rows = first_three_sorted(read_csv(&out).1);
    let (header, want) = read_csv(&landed().join("delta/expected.csv"));
    assert_eq!(header, ["user_id", "timestamp", "event"]);
    assert_eq!(rows, first_three_sorted(want));
    assert!(!rows.iter().any(|r| r[0] == "u3"));
    // 5 live files of the 10 on disk; nothing set aside.
    assert!(printed.contains("read 5 files"), "{printed}");
    assert!(printed.contains("set aside: 0 rows"), "{printed}");

    // The same table with its checkpoint gone and the log cleaned up before it: refused
    // by name, not read as every file.
    let broken = dir.path().join("broken");
    copy_dir(&table, &broken);
    for f in fs::read_dir(broken.join("_delta_log")).unwrap() {
        let p = f.unwrap().path();
        if p.to_string_lossy().contains("checkpoint") {
            fs::remove_file(p).unwrap();
        }
    }
    let o = churnrisk(
        dir.path(),
        &[
            "check",
            "--events",
            s(&broken),
            "--column",
            "timestamp=event_ts",
            "--column",
            "event=event_name",
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(
        err.contains("a Delta Lake table churnrisk cannot read as it stands: its log lacks commit 0 and no checkpoint covers it"),
        "{err}"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let p = entry.unwrap().path();
        let target = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &target);
        } else {
            fs::copy(&p, &target).unwrap();
        }
    }
}
