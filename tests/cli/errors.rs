//! Bad input gives a clear message naming the file and the problem, and the documented
//! exit code — never a panic.

use std::fs;

use crate::util::*;

fn train_on(
    dir: &std::path::Path,
    events: &std::path::Path,
    features: &std::path::Path,
) -> std::process::Output {
    churnrisk(
        dir,
        &[
            "train",
            "--events",
            s(events),
            "--features",
            s(features),
            "--as-of",
            "2026-06-01",
            "--model",
            "m.json",
        ],
    )
}

#[test]
fn missing_events_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("nope.csv");
    expect(
        train_on(dir.path(), &p, &default_features()),
        3,
        &["nope.csv", "no such file"],
    );
}

#[test]
fn missing_users_file() {
    // The users table is read on its own thread: its error still names the file.
    let dir = tempfile::tempdir().unwrap();
    let out = churnrisk(
        dir.path(),
        &[
            "score",
            "--events",
            s(&repo().join("data/events.csv.gz")),
            "--users",
            "nope.csv",
            "--features",
            s(&default_features()),
            "--model",
            s(&repo().join("models/sample.json")),
            "--as-of",
            "2026-07-06",
            "--out",
            "list.csv",
        ],
    );
    expect(out, 3, &["reading users", "nope.csv", "no such file"]);
    assert!(!dir.path().join("list.csv").exists());
}

#[test]
fn missing_column() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("e.csv");
    fs::write(&p, "user_id,when,event\n1,2026-01-01,login\n").unwrap();
    expect(
        train_on(dir.path(), &p, &default_features()),
        3,
        &["e.csv", "missing required column `timestamp`", "when"],
    );
}

#[test]
fn unparseable_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("e.csv");
    fs::write(
        &p,
        "user_id,timestamp,event\n1,2026-01-01T00:00:00Z,login\n1,31/12/2025 10:00,login\n",
    )
    .unwrap();
    expect(
        train_on(dir.path(), &p, &default_features()),
        3,
        &[
            "e.csv: 1 of 2 rows rejected (50%; the limit is 1%, `[validation] max_reject_fraction` (`--max-reject-fraction`))",
            "line 3: unparseable_timestamp",
            "31/12/2025 10:00",
        ],
    );
    // `train` and `score` write the reject file where asked.
    let out = churnrisk(
        dir.path(),
        &[
            "train",
            "--events",
            s(&p),
            "--as-of",
            "2026-06-01",
            "--features",
            s(&default_features()),
            "--rejects",
            "bad.csv",
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    let (_, rows) = read_csv(&dir.path().join("bad.csv"));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][1..3], ["3", "unparseable_timestamp"]);
}

#[test]
fn empty_log() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("e.csv");
    fs::write(&p, "user_id,timestamp,event\n").unwrap();
    expect(
        train_on(dir.path(), &p, &default_features()),
        3,
        &["e.csv", "no rows"],
    );
    fs::write(&p, "").unwrap();
    expect(
        train_on(dir.path(), &p, &default_features()),
        3,
        &["e.csv", "no rows"],
    );
}

#[test]
fn unknown_event_names_in_the_feature_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("e.csv");
    fs::write(
        &p,
        "user_id,timestamp,event\n1,2026-01-01T00:00:00Z,login\n1,2026-01-02T00:00:00Z,purchase\n",
    )
    .unwrap();
    // No value event of the feature file occurs: a typo or another product's log.
    let f = dir.path().join("f.toml");
    fs::write(
        &f,
        "[events]\nlogin = [\"login\"]\nvalue = [\"purchse_typo\"]\n",
    )
    .unwrap();
    expect(train_on(dir.path(), &p, &f), 4, &["purchse_typo", "f.toml"]);
    // One rare event absent: a warning naming it; the run goes on (and here stops at
    // the gate, this log being two rows).
    fs::write(
        &f,
        "[events]\nlogin = [\"login\"]\nvalue = [\"purchase\", \"refund_requested\"]\n",
    )
    .unwrap();
    expect(
        train_on(dir.path(), &p, &f),
        5,
        &["refund_requested", "never occur", "not enough data"],
    );
}

#[test]
fn malformed_feature_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("e.csv");
    fs::write(
        &p,
        "user_id,timestamp,event\n1,2026-01-01T00:00:00Z,login\n",
    )
    .unwrap();
    let f = dir.path().join("f.toml");
    fs::write(&f, "[events]\nvalue = [\"login\"]\nwindow = 3\n").unwrap();
    expect(
        train_on(dir.path(), &p, &f),
        4,
        &["f.toml", "window", "line 3, column 1"],
    );
    // A config file's mistakes say where they are too; a date may be written bare.
    fs::write(
        dir.path().join("c.toml"),
        "as_of = 2026-06-01\n[inputs]\nevents = \"e.csv\"\nfeatures = \"f.toml\"\n[labels]\nhorizon_days = \"28\"\n",
    )
    .unwrap();
    expect(
        churnrisk(dir.path(), &["run", "--config", "c.toml"]),
        4,
        &["c.toml", "line 6, column 16", "horizon_days"],
    );
}

#[test]
fn a_short_log_is_refused_naming_the_settings_that_would_fit_it() {
    // 60 days of the generator's log: the purchases' default windows (one per 42 days of
    // the log's cadence or more) and a 28-day horizon do not fit.
    let dir = tempfile::tempdir().unwrap();
    let data = generated(dir.path(), 300, 60, 7);
    let f = dir.path().join("f.toml");
    fs::write(
        &f,
        "[events]\nvalue = [\"report_created\"]\n[windows]\nrecent_days = 42\n",
    )
    .unwrap();
    let out = churnrisk(
        dir.path(),
        &[
            "train",
            "--events",
            s(&data.join("events.csv")),
            "--features",
            s(&f),
            "--as-of",
            "2026-03-06",
            "--model",
            "m.json",
        ],
    );
    expect(
        out,
        5,
        &[
            "42 days of history",
            "takes 70 days of log",
            "and the log covers",
            "`horizon_days`, now 28",
            "`[windows] recent_days` in the feature file, now 42",
        ],
    );
}

#[test]
fn too_little_history_is_refused_with_an_explanation() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("e.csv");
    fs::write(
        &p,
        "user_id,timestamp,event\n1,2026-05-20T00:00:00Z,login\n2,2026-05-31T00:00:00Z,login\n",
    )
    .unwrap();
    let f = dir.path().join("f.toml");
    fs::write(&f, "[events]\nvalue = [\"login\"]\n").unwrap();
    expect(
        train_on(dir.path(), &p, &f),
        5,
        &["not enough data", "history"],
    );
}

#[test]
fn bad_as_of_and_model_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("e.csv");
    fs::write(
        &p,
        "user_id,timestamp,event\n1,2026-01-01T00:00:00Z,login\n",
    )
    .unwrap();
    let out = churnrisk(
        dir.path(),
        &[
            "train",
            "--events",
            s(&p),
            "--features",
            s(&default_features()),
            "--as-of",
            "someday",
        ],
    );
    expect(out, 4, &["--as-of", "someday"]);
    let m = dir.path().join("m.json");
    fs::write(&m, "{\"format_version\": 1}").unwrap();
    let out = churnrisk(
        dir.path(),
        &[
            "score",
            "--events",
            s(&p),
            "--model",
            s(&m),
            "--as-of",
            "2026-02-01",
            "--out",
            "x.csv",
        ],
    );
    expect(out, 4, &["m.json"]);
    assert!(!dir.path().join("x.csv").exists());
}

#[test]
fn a_missing_config_is_a_configuration_error_and_an_unwritable_output_is_not_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let out = churnrisk(dir.path(), &["run", "--config", "nope.toml"]);
    expect(out, 4, &["nope.toml", "no such file"]);
    // `score --out` into a folder that is a file: the input is fine, the output is not.
    fs::write(dir.path().join("blocked"), "a file").unwrap();
    let out = churnrisk(
        dir.path(),
        &[
            "score",
            "--events",
            s(&repo().join("data/events.csv.gz")),
            "--features",
            s(&default_features()),
            "--model",
            s(&repo().join("models/sample.json")),
            "--as-of",
            "2026-07-06",
            "--out",
            "blocked/at_risk.csv",
        ],
    );
    expect(out, 7, &["blocked", "cannot write"]);
}

#[test]
fn rows_that_all_break_the_header_and_a_huge_header_get_short_clear_messages() {
    let dir = tempfile::tempdir().unwrap();
    // A comma header over semicolon rows: every row is malformed, and says so.
    let p = dir.path().join("e.csv");
    fs::write(
        &p,
        "user_id,timestamp,event\n1;2026-01-01T00:00:00Z;login\n2;2026-01-02T00:00:00Z;login\n",
    )
    .unwrap();
    let rejects = dir.path().join("rejects.csv");
    let out = churnrisk(
        dir.path(),
        &["check", "--events", s(&p), "--rejects", s(&rejects)],
    );
    expect(out, 3, &["no event is left to score", "2 malformed_row"]);
    let (_, rows) = read_csv(&rejects);
    assert_eq!(rows.len(), 2);
    // Dates with slashes, as a spreadsheet writes them: the first row and what to export.
    let us = dir.path().join("us.csv");
    fs::write(
        &us,
        "user_id,event,timestamp\nu1,login,01/31/2020 21:54\nu2,login,01/30/2020 11:54\n",
    )
    .unwrap();
    let out = churnrisk(dir.path(), &["check", "--events", s(&us)]);
    expect(
        out,
        3,
        &[
            "no event is left to score (2 unparseable_timestamp; first: line 2: unparseable_timestamp (`timestamp` \"01/31/2020 21:54\"",
            "day and month cannot be told apart: export ISO-8601",
        ],
    );
    // A 10 MB first line without a line end: named in part, not echoed whole.
    let huge = dir.path().join("huge.csv");
    fs::write(&huge, "x".repeat(10 << 20)).unwrap();
    let out = churnrisk(dir.path(), &["check", "--events", s(&huge)]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    expect(out, 3, &["huge.csv"]);
    assert!(err.len() < 2_000, "{} bytes of message", err.len());
}

#[test]
fn damaged_parquet_files_are_input_errors_never_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = repo().join("tests/fixtures/exports/ga4/event_date=20260701/events_000.parquet");
    let good = fs::read(&fixture).unwrap();
    let p = dir.path().join("e.parquet");
    // Every 4th bit of the footer's last 48 bytes (its thrift metadata and length).
    let n = good.len();
    for bit in ((n - 48) * 8..n * 8).step_by(4) {
        let mut bytes = good.clone();
        bytes[bit / 8] ^= 1 << (bit % 8);
        fs::write(&p, &bytes).unwrap();
        let out = churnrisk(dir.path(), &["check", "--events", s(&p), "--preset", "ga4"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            matches!(out.status.code(), Some(0) | Some(3)),
            "bit {bit}: {:?} {err}",
            out.status.code()
        );
        assert!(!err.contains("panicked"), "bit {bit}: {err}");
    }
}

#[test]
fn the_purchases_scenario_refuses_what_it_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    let base = ["generate", "--scenario", "purchases", "--out", "shop"];
    let parquet = [&base[..], &["--format", "parquet"]].concat();
    expect(
        churnrisk(dir.path(), &parquet),
        4,
        &["purchases scenario writes CSV"],
    );
    let list = dir.path().join("at_risk.csv");
    fs::write(&list, "user_id,as_of,group\n1,2026-07-06,treatment\n").unwrap();
    let contacts = [&base[..], &["--contacts-from", s(&list)]].concat();
    expect(
        churnrisk(dir.path(), &contacts),
        4,
        &["contacts are simulated for the saas scenario"],
    );
    assert!(!dir.path().join("shop").exists());
}

/// A valid Parquet file with a pandas `category` column (dictionary-encoded, which this
/// build does not read) is an input error that says so, not "a damaged file". The fixture:
/// `pd.DataFrame({…, "event": pd.Categorical([…])}).to_parquet(…)` (pandas 2.3, pyarrow).
#[test]
fn a_dictionary_encoded_column_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = repo().join("tests/fixtures/unreadable/category_event.parquet");
    let out = churnrisk(dir.path(), &["check", "--events", s(&fixture)]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    expect(
        out,
        3,
        &["category_event.parquet", "pandas `category`", "astype(str)"],
    );
    assert!(!err.contains("damaged"), "{err}");
}

/// A release renamed the value event: `check` says so, and names the new event type.
#[test]
fn a_renamed_value_event_is_named_by_check() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = String::from("user_id,event,timestamp\n");
    let jan1 = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    for day in 0..60u64 {
        let date = jan1 + chrono::Days::new(day);
        let event = if day < 40 {
            "task_completed"
        } else {
            "task_done"
        };
        for u in 0..5 {
            log.push_str(&format!("u{u},{event},{date}T10:00:00Z\n"));
        }
    }
    let events = dir.path().join("e.csv");
    fs::write(&events, log).unwrap();
    let features = dir.path().join("f.toml");
    fs::write(&features, "[events]\nvalue = [\"task_completed\"]\n").unwrap();
    let check = || {
        churnrisk(
            dir.path(),
            &["check", "--events", s(&events), "--features", s(&features)],
        )
    };
    expect(
        check(),
        0,
        &[
            "f.toml) has no event after 2026-02-09, where its pace before (200 rows) would have brought about 103",
            "first seen around then: task_done (100 rows)",
        ],
    );
    // Both names in the role: the rename written down, nothing said.
    fs::write(
        &features,
        "[events]\nvalue = [\"task_completed\", \"task_done\"]\n",
    )
    .unwrap();
    let out = check();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("no event after"), "{err}");
}
