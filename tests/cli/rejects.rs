//! Bad input on a nightly run, one test per class: the exit code, the message, the
//! reject-file row with its source line, and — when the run fails — yesterday's list left
//! exactly as it was and a manifest that says why.
//!
//! Each test writes the shipped sample log as plain CSV with a few bad lines appended,
//! and scores it with a copy of the shipped model (fresh, so no test retrains).

use std::fs;
use std::io::Read;
use std::path::Path;
use std::sync::OnceLock;

use crate::util::*;

const YESTERDAY: &str = "rank,user_id\r\n1,yesterday\r\n";

/// The sample log as text (header first), read once.
fn sample() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        let mut text = String::new();
        flate2::read::GzDecoder::new(fs::File::open(repo().join("data/events.csv.gz")).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        text
    })
}

/// Lines in the sample file, header included: appended lines start after it.
fn sample_lines() -> u64 {
    sample().lines().count() as u64
}

/// A night in `dir`: events.csv = `events`, a config with `validation` settings, the
/// shipped model, and yesterday's list in out/.
fn night(dir: &Path, events: &[u8], validation: &str) -> std::process::Output {
    fs::write(dir.join("events.csv"), events).unwrap();
    fs::copy(repo().join("models/sample.json"), dir.join("model.json")).unwrap();
    let cfg = format!(
        "as_of = \"2026-07-06\"\n[inputs]\nevents = \"events.csv\"\nusers = \"{}\"\nfeatures = \"{}\"\n\
         [model]\npath = \"model.json\"\nmax_age_days = 1000\n[output]\ndir = \"out\"\n[validation]\n{validation}",
        s(&repo().join("data/users.csv")),
        s(&default_features()),
    );
    fs::write(dir.join("churnrisk.toml"), cfg).unwrap();
    fs::create_dir_all(dir.join("out")).unwrap();
    fs::write(dir.join("out/at_risk.csv"), YESTERDAY).unwrap();
    churnrisk(dir, &["run", "--config", "churnrisk.toml"])
}

/// The sample with `extra` lines appended.
fn with_lines(extra: &[&[u8]]) -> Vec<u8> {
    let mut bytes = sample().as_bytes().to_vec();
    for line in extra {
        bytes.extend_from_slice(line);
        bytes.push(b'\n');
    }
    bytes
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts a failed run: exit code, message parts, list untouched, manifest `failed`.
fn assert_failed(dir: &Path, out: &std::process::Output, code: i32, needles: &[&str], kind: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    for n in needles {
        assert!(err.contains(n), "expected {n:?} in: {err}");
    }
    assert_eq!(
        fs::read_to_string(dir.join("out/at_risk.csv")).unwrap(),
        YESTERDAY,
        "a failed run replaced the list"
    );
    let m = manifest(dir);
    assert_eq!(m["status"], "failed", "{m}");
    assert_eq!(m["exit_code"], code, "{m}");
    assert_eq!(m["error"]["kind"], kind, "{m}");
    assert_eq!(m["outputs"].as_array().unwrap().len(), 0, "{m}");
}

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&fs::read_to_string(dir.join("out/manifest.json")).unwrap()).unwrap()
}

/// The reject file's rows as (line, class, detail, raw).
fn rejects(dir: &Path) -> Vec<(u64, String, String, String)> {
    let (header, rows) = read_csv(&dir.join("out/rejects.csv"));
    assert_eq!(header, ["file", "line", "class", "detail", "raw"]);
    rows.into_iter()
        .map(|r| {
            assert!(r[0].ends_with("events.csv"), "{r:?}");
            (
                r[1].parse().unwrap(),
                r[2].clone(),
                r[3].clone(),
                r[4].clone(),
            )
        })
        .collect()
}

/// One bad line, in strict mode: refused with the class named, the reject row written.
fn strict_refuses(bad: &[u8], class: &str, validation: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let out = night(
        &dir,
        &with_lines(&[bad]),
        &format!("strict = true\n{validation}"),
    );
    assert_failed(
        &dir,
        &out,
        3,
        &[
            "1 of 384972 rows rejected",
            "strict mode",
            class,
            "rejects.csv",
        ],
        "too_many_rejects",
    );
    let rows = rejects(&dir);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].0, sample_lines() + 1);
    assert_eq!(rows[0].1, class);
    assert_eq!(manifest(&dir)["rejects"]["total"], 1);
    tmp
}

#[test]
fn malformed_row() {
    let tmp = strict_refuses(
        b"7,2026-06-01T10:00:00Z,login,,s7-1,surplus",
        "malformed_row",
        "",
    );
    let dir = tmp.path();
    assert!(rejects(dir)[0].2.contains("6 fields, the header has 5"));
}

#[test]
fn unclosed_quote_swallows_the_rest_and_trips_the_fraction_limit() {
    // A quote opened on the line before the last 10,000 rows runs to the end of the file:
    // one malformed record holding them all, and a 2.6% loss over the 1% limit.
    let dir = tempfile::tempdir().unwrap();
    let text = sample();
    let lines: Vec<&str> = text.lines().collect();
    let cut = lines.len() - 10_000;
    let mut bad = lines[..cut].join("\n");
    bad.push_str("\n7,2026-06-01T10:00:00Z,\"login,,s7-1\n");
    bad.push_str(&lines[cut..].join("\n"));
    bad.push('\n');
    let out = night(dir.path(), bad.as_bytes(), "");
    assert_failed(
        dir.path(),
        &out,
        3,
        &["the limit is 1%", "malformed_row"],
        "too_many_rejects",
    );
    let rows = rejects(dir.path());
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, cut as u64 + 1);
}

#[test]
fn missing_required_column() {
    let dir = tempfile::tempdir().unwrap();
    let text = sample().replacen("user_id,timestamp,", "user_id,time,", 1);
    let out = night(dir.path(), text.as_bytes(), "");
    assert_failed(
        dir.path(),
        &out,
        3,
        &["events.csv", "missing required column `timestamp`", "time"],
        "missing_column",
    );
}

#[test]
fn unparseable_timestamp() {
    let tmp = strict_refuses(
        b"7,31/12/2025 10:00,login,,s7-1",
        "unparseable_timestamp",
        "",
    );
    let dir = tmp.path();
    let row = &rejects(dir)[0];
    assert!(row.2.contains("\"31/12/2025 10:00\""), "{row:?}");
    assert_eq!(row.3, "7,31/12/2025 10:00,login,,s7-1");
}

#[test]
fn timestamp_in_the_future() {
    strict_refuses(
        b"7,2099-01-01T00:00:00Z,login,,s7-1",
        "future_timestamp",
        "",
    );
}

#[test]
fn timestamp_before_1970() {
    strict_refuses(b"7,1969-07-20T20:17:00Z,login,,s7-1", "before_1970", "");
}

#[test]
fn empty_user_id() {
    strict_refuses(b",2026-06-01T10:00:00Z,login,,s7-1", "missing_value", "");
}

#[test]
fn non_numeric_value() {
    strict_refuses(
        b"7,2026-06-01T10:00:00Z,report_created,lots,s7-1",
        "unparseable_value",
        "",
    );
}

#[test]
fn unknown_event_name() {
    let known = "known_events = [\"page_view\", \"login\", \"report_created\", \"data_imported\", \"help_viewed\", \"error_shown\", \"dashboard_built\", \"settings_changed\", \"export_scheduled\", \"report_shared\", \"onboarding_started\", \"data_source_connected\", \"import_failed\", \"integration_connected\", \"teammate_invited\", \"nps_submitted\", \"survey_submitted\"]\n";
    let tmp = strict_refuses(
        b"7,2026-06-01T10:00:00Z,teleported,,s7-1",
        "unknown_event",
        known,
    );
    let dir = tmp.path();
    assert!(rejects(dir)[0].2.contains("teleported"));
}

#[test]
fn oversized_field() {
    let mut line = b"7,2026-06-01T10:00:00Z,".to_vec();
    line.extend(std::iter::repeat_n(b'x', 5000));
    line.extend_from_slice(b",,s7-1");
    let tmp = strict_refuses(&line, "oversized_field", "max_field_bytes = 4096\n");
    let dir = tmp.path();
    let row = &rejects(dir)[0];
    assert!(row.2.contains("5000 bytes, the limit is 4096"), "{row:?}");
    assert!(row.3.len() < 1100, "the raw text is shortened");
}

#[test]
fn invalid_utf8() {
    let tmp = strict_refuses(b"7,2026-06-01T10:00:00Z,caf\xE9,,s7-1", "invalid_utf8", "");
    let dir = tmp.path();
    let row = &rejects(dir)[0];
    assert!(row.3.contains("caf\u{FFFD}"), "{row:?}");
}

#[test]
fn exact_duplicates_are_set_aside_but_lose_nothing() {
    // Strict mode passes: the first copy is kept.
    let dir = tempfile::tempdir().unwrap();
    let first = sample().lines().nth(1).unwrap().to_string();
    let out = night(
        dir.path(),
        &with_lines(&[first.as_bytes(), first.as_bytes()]),
        "strict = true\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Nothing to act on: no warning (the manifest and the reject file say it).
    assert_eq!(stderr(&out), "");
    let rows = rejects(dir.path());
    let n = sample_lines();
    assert_eq!(
        rows.iter().map(|r| (r.0, r.1.as_str())).collect::<Vec<_>>(),
        [(n + 1, "duplicate_event"), (n + 2, "duplicate_event")]
    );
    assert!(rows[0].2.ends_with("as line 2"), "{rows:?}");
    let m = manifest(dir.path());
    assert_eq!(m["status"], "ok");
    assert_eq!(m["rejects"]["total"], 2);
    assert_eq!(m["rejects"]["lost"], 0);
    // The events file's entry counts the data rows read from it, duplicates included.
    assert_eq!(m["inputs"][0]["rows"], 384973);
    assert_eq!(
        m["rejects"]["files"]["events.csv"]["rejected"]["duplicate_event"],
        2
    );
}

#[test]
fn duplicates_by_event_id() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for (i, line) in sample().lines().enumerate() {
        text.push_str(line);
        text.push_str(if i == 0 { ",event_id\n" } else { "," });
        if i > 0 {
            text.push_str(&format!("ev{i}\n"));
        }
    }
    // Same id as the first event, different content: a re-sent event with a new time.
    text.push_str("1,2026-01-05T03:35:15Z,login,,s1-1,ev1\n");
    let out = night(dir.path(), text.as_bytes(), "strict = true\n");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = rejects(dir.path());
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].0, rows[0].1.as_str()),
        (sample_lines() + 1, "duplicate_event_id")
    );
    assert!(rows[0].2.contains("as line 2"));
}

#[test]
fn empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = night(dir.path(), b"", "");
    assert_failed(
        dir.path(),
        &out,
        3,
        &["events.csv", "no rows"],
        "empty_file",
    );
    let out = night(dir.path(), b"user_id,timestamp,event\n", "");
    assert_failed(
        dir.path(),
        &out,
        3,
        &["events.csv", "no rows"],
        "empty_file",
    );
}

#[test]
fn wrong_delimiter() {
    let dir = tempfile::tempdir().unwrap();
    let text = sample().replace(',', ";");
    let out = night(dir.path(), text.as_bytes(), "");
    assert_failed(
        dir.path(),
        &out,
        3,
        &[
            "semicolon-separated",
            "delimiter to \";\"",
            "`[inputs] delimiter`",
        ],
        "wrong_delimiter",
    );
    // With `auto`, each file is read with its own separator (users.csv has commas).
    let out = night(dir.path(), text.as_bytes(), "delimiter = \"auto\"\n");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn bom_and_crlf_are_read_and_reported_and_change_nothing() {
    let clean = tempfile::tempdir().unwrap();
    let out = night(clean.path(), sample().as_bytes(), "strict = true\n");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Quiet on a good night: no warnings at all.
    assert_eq!(stderr(&out), "");

    let windows = tempfile::tempdir().unwrap();
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(sample().replace('\n', "\r\n").as_bytes());
    let out = night(windows.path(), &bytes, "strict = true\n");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Read right, so nothing to act on: no warning; the manifest records both.
    assert_eq!(stderr(&out), "");
    assert_eq!(
        fs::read(clean.path().join("out/at_risk.csv")).unwrap(),
        fs::read(windows.path().join("out/at_risk.csv")).unwrap()
    );
    let m = manifest(windows.path());
    let file = m["rejects"]["files"]["events.csv"].clone();
    assert_eq!(file["findings"]["byte_order_mark"], 1, "{m}");
    assert_eq!(file["findings"]["crlf_line_ends"], 384972, "{m}");
    assert_eq!(rejects(windows.path()).len(), 0);
}

#[test]
fn a_tolerant_night_sets_bad_rows_aside_and_writes_the_list() {
    let dir = tempfile::tempdir().unwrap();
    let out = night(
        dir.path(),
        &with_lines(&[
            b"7,soon,login,,s7-1",
            b"7,2026-06-01T10:00:00Z,login",
            b"7,2099-01-01T00:00:00Z,login,,s7-1",
        ]),
        "",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("3 of 384974 rows set aside"),
        "{}",
        stderr(&out)
    );
    assert_ne!(
        fs::read_to_string(dir.path().join("out/at_risk.csv")).unwrap(),
        YESTERDAY
    );
    let classes: Vec<String> = rejects(dir.path()).into_iter().map(|r| r.1).collect();
    assert_eq!(
        classes,
        ["unparseable_timestamp", "malformed_row", "future_timestamp"]
    );
    let m = manifest(dir.path());
    assert_eq!(m["status"], "ok");
    assert_eq!(m["exit_code"], 0);
    assert_eq!(m["rejects"]["lost"], 3);
}

#[test]
fn rejects_of_the_log_come_before_those_of_the_users_table() {
    // The users table is read on a thread of its own beside the log; the reject file
    // still lists the log's rows first, as when the files were read in turn.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("events.csv"), with_lines(&[b"7,soon,login,,s7-1"])).unwrap();
    let mut users = fs::read_to_string(repo().join("data/users.csv")).unwrap();
    users.push_str("1,2026-01-05T03:35:14Z,again@example.com,,,starter\n");
    fs::write(d.join("users.csv"), users).unwrap();
    let model = repo().join("models/sample.json");
    ok(
        d,
        &[
            "score",
            "--events",
            "events.csv",
            "--users",
            "users.csv",
            "--features",
            s(&default_features()),
            "--model",
            s(&model),
            "--as-of",
            "2026-07-06",
            "--out",
            "list.csv",
            "--rejects",
            "rejects.csv",
        ],
    );
    let (_, rows) = read_csv(&d.join("rejects.csv"));
    let found: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r[0].rsplit('/').next().unwrap_or(""), r[2].as_str()))
        .collect();
    assert_eq!(
        found,
        [
            ("events.csv", "unparseable_timestamp"),
            ("users.csv", "conflicting_user")
        ]
    );
}

#[test]
fn values_that_are_not_finite_are_rejects_and_a_model_that_cannot_score_is_refused() {
    // `inf`, `Infinity` and `1e309` are rows set aside, not the end of the night.
    let dir = tempfile::tempdir().unwrap();
    let lines: [&[u8]; 3] = [
        b"7,2026-06-01T10:00:00Z,report_created,inf,s7-1",
        b"7,2026-06-01T10:01:00Z,report_created,-Infinity,s7-1",
        b"7,2026-06-01T10:02:00Z,report_created,1e309,s7-1",
    ];
    let out = night(dir.path(), &with_lines(&lines), "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let found: Vec<(u64, String)> = rejects(dir.path())
        .into_iter()
        .map(|r| (r.0, r.1))
        .collect();
    let n = sample_lines();
    assert_eq!(
        found,
        (1..=3)
            .map(|k| (n + k, "unparseable_value".to_string()))
            .collect::<Vec<_>>()
    );
    let (header, rows) = read_csv(&dir.path().join("out/at_risk.csv"));
    let p = header
        .iter()
        .position(|h| h == "churn_probability")
        .unwrap();
    assert!(rows
        .iter()
        .all(|r| r[p].parse::<f64>().is_ok_and(f64::is_finite)));

    // A model file whose scale is 0 would score NaN for everyone: refused (exit 4).
    let mut model: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(repo().join("models/sample.json")).unwrap())
            .unwrap();
    model["features"][0]["std"] = 0.0.into();
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("events.csv"), sample()).unwrap();
    let features = default_features();
    let score = || {
        churnrisk(
            dir.path(),
            &[
                "score",
                "--events",
                "events.csv",
                "--features",
                s(&features),
                "--model",
                "model.json",
                "--as-of",
                "2026-07-06",
                "--out",
                "list.csv",
            ],
        )
    };
    // (no model yet: a missing file)
    assert_eq!(score().status.code(), Some(3));
    fs::write(dir.path().join("model.json"), model.to_string()).unwrap();
    let out = score();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("scale (std) 0e0"), "{}", stderr(&out));
    assert!(!dir.path().join("list.csv").exists());
}

/// A compressed log cut short in transfer fails the night with what to do (it would fail
/// every night after), names the night, and publishes nothing.
#[test]
fn a_damaged_gzip_log_names_the_night_and_the_way_out() {
    let dir = tempfile::tempdir().unwrap();
    let gz = fs::read(repo().join("data/events.csv.gz")).unwrap();
    let out = night(dir.path(), &gz[..gz.len() / 2], "");
    assert_failed(
        dir.path(),
        &out,
        3,
        &[
            "error: the night of 2026-07-06 failed and published nothing (the last list stays): ",
            "events.csv: cannot read: ",
            "deflate stream (the compressed file is damaged, perhaps cut short in transfer: fetch it again, or, in a folder, rename it to start with `_` to read the others without it)",
        ],
        "read_failed",
    );
}

/// `check`'s "set aside" line counts the log's rows; a bad subscriptions row is said
/// apart, not added to the log's.
#[test]
fn check_counts_the_tables_rejects_apart_from_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let subs = dir.path().join("subs.csv");
    fs::write(
        &subs,
        "user_id,start_date,end_date\n1,2026-01-05,\n2,nope,\n",
    )
    .unwrap();
    let printed = ok(
        dir.path(),
        &[
            "check",
            "--events",
            s(&repo().join("data/events.csv.gz")),
            "--subscriptions",
            s(&subs),
            "--max-reject-fraction",
            "0.9",
        ],
    );
    assert!(
        printed.contains(
            "set aside: 0 rows (0 lost, 0 duplicates); from the users and subscriptions tables: 1 row\n"
        ),
        "{printed}"
    );
}
