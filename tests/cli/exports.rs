//! Analytics exports read as they are: each preset's example export (tests/fixtures/exports)
//! loads to the same canonical events as the plain CSV, retries set aside as duplicates;
//! folders, globs, NDJSON and column mappings work from the command line.

use super::util::{churnrisk, ok, read_csv, repo, s};

fn fixtures() -> std::path::PathBuf {
    repo().join("tests/fixtures/exports")
}

/// `check --out` on `events` with `extra` arguments: the canonical (user, time, event)
/// rows, and what `check` printed.
fn canonical(dir: &std::path::Path, events: &str, extra: &[&str]) -> (Vec<Vec<String>>, String) {
    let out = dir.join(format!(
        "canonical-{}.csv",
        extra.join("-").replace('/', "_")
    ));
    let mut args = vec!["check", "--events", events, "--out", s(&out)];
    args.extend_from_slice(extra);
    let printed = ok(dir, &args);
    let (header, rows) = read_csv(&out);
    assert_eq!(header[..3], ["user_id", "timestamp", "event"]);
    let rows = rows.into_iter().map(|r| r[..3].to_vec()).collect();
    (rows, printed)
}

#[test]
fn every_preset_reads_its_export_to_the_same_events() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixtures();
    let (expected, printed) = canonical(dir.path(), s(&f.join("canonical.csv")), &[]);
    assert_eq!(expected.len(), 7);
    assert!(printed.contains("7 events of 4 users"), "{printed}");
    // The anonymous visitor keeps its anonymous id; times are UTC to the millisecond.
    assert!(expected.contains(&vec![
        "anon-7".to_string(),
        "2026-07-03T08:00:00.000Z".to_string(),
        "page".to_string()
    ]));
    // With a preset the visitor's id is anonymous: it never identified, so it is not
    // among the events (counted, not set aside).
    let identified: Vec<Vec<String>> = expected
        .iter()
        .filter(|r| r[0] != "anon-7")
        .cloned()
        .collect();
    for (preset, file) in [
        ("segment", "segment.ndjson.gz"),
        ("amplitude", "amplitude.json"),
        ("mixpanel", "mixpanel.ndjson"),
        ("snowplow", "snowplow.csv"),
        ("ga4", "ga4"),
        ("posthog", "posthog.jsonl"),
        // Its Parquet export: `properties` is JSON text, its fields read out of it.
        ("posthog", "posthog.parquet"),
    ] {
        let (rows, printed) = canonical(dir.path(), s(&f.join(file)), &["--preset", preset]);
        assert_eq!(rows, identified, "preset {preset}");
        assert!(
            printed.contains("identity: 1 rows of 1 anonymous visitors who never identified"),
            "preset {preset}: {printed}"
        );
        // The retried delivery is a duplicate (not a loss): one row set aside, none lost.
        assert!(
            printed.contains("set aside: 1 rows (0 lost, 1 duplicates)"),
            "preset {preset}: {printed}"
        );
    }
}

#[test]
fn the_retry_is_reported_with_its_line_and_first_copy() {
    let dir = tempfile::tempdir().unwrap();
    let rejects = dir.path().join("rejects.csv");
    ok(
        dir.path(),
        &[
            "check",
            "--events",
            s(&fixtures().join("mixpanel.ndjson")),
            "--preset",
            "mixpanel",
            "--rejects",
            s(&rejects),
        ],
    );
    let (_, rows) = read_csv(&rejects);
    assert_eq!(rows.len(), 1);
    // file,line,class,detail,raw
    assert!(rows[0][0].ends_with("mixpanel.ndjson"));
    assert_eq!(rows[0][1], "3");
    // The retry repeats every canonical field, so it is an exact duplicate of line 2.
    assert_eq!(rows[0][2], "duplicate_event");
    assert!(rows[0][3].contains("line 2"), "{:?}", rows[0]);
}

#[test]
fn explicit_columns_folders_and_globs() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixtures();
    let (all, _) = canonical(dir.path(), s(&f.join("canonical.csv")), &[]);
    let expected: Vec<Vec<String>> = all.into_iter().filter(|r| r[0] != "anon-7").collect();
    // Amplitude's fields named one by one, no preset.
    let (rows, _) = canonical(
        dir.path(),
        s(&f.join("amplitude.json")),
        &[
            "--column",
            "user_id=user_id",
            "--column",
            "anonymous_id=device_id",
            "--column",
            "event=event_type",
            "--column",
            "timestamp=event_time",
            "--column",
            "event_id=$insert_id",
        ],
    );
    assert_eq!(rows, expected);
    // The GA4 partitions through a glob, and a preset field overridden.
    let glob = f.join("ga4/event_date=*/*.parquet");
    let (rows, _) = canonical(dir.path(), s(&glob), &["--preset", "ga4"]);
    assert_eq!(rows, expected);
    // Without the anonymous fallback, the visitor's row has no user: set aside as lost.
    let out = churnrisk(
        dir.path(),
        &[
            "check",
            "--events",
            s(&f.join("ga4")),
            "--preset",
            "ga4",
            "--column",
            "user_id=user_id",
            "--column",
            "anonymous_id=",
            "--strict",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A folder of NDJSON files split in two, one of them gzipped.
    let split = dir.path().join("split");
    std::fs::create_dir(&split).unwrap();
    let text = std::fs::read_to_string(f.join("mixpanel.ndjson")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(split.join("part-1.ndjson"), lines[..4].join("\n") + "\n").unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, (lines[4..].join("\n") + "\n").as_bytes()).unwrap();
    std::fs::write(split.join("part-2.ndjson.gz"), gz.finish().unwrap()).unwrap();
    std::fs::write(split.join("_SUCCESS"), "").unwrap();
    let (rows, printed) = canonical(dir.path(), s(&split), &["--preset", "mixpanel"]);
    assert_eq!(rows, expected);
    assert!(printed.contains("1 duplicates"), "{printed}");
}

#[test]
fn a_wrong_preset_names_the_fields_it_looked_for() {
    let dir = tempfile::tempdir().unwrap();
    let out = churnrisk(
        dir.path(),
        &[
            "check",
            "--events",
            s(&fixtures().join("amplitude.json")),
            "--preset",
            "segment",
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("userId") && err.contains("anonymousId"),
        "{err}"
    );
    assert!(err.contains("of preset `segment`"), "{err}");
    // A bad line in an NDJSON export is set aside with its line number, not fatal.
    let bad = dir.path().join("bad.ndjson");
    let text = std::fs::read_to_string(fixtures().join("mixpanel.ndjson")).unwrap();
    std::fs::write(&bad, format!("{text}{{\"event\": \"login\", \"prop\n")).unwrap();
    let rejects = dir.path().join("rejects.csv");
    let out = churnrisk(
        dir.path(),
        &[
            "check",
            "--events",
            s(&bad),
            "--preset",
            "mixpanel",
            "--rejects",
            s(&rejects),
            "--max-reject-fraction",
            "0.5",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, rows) = read_csv(&rejects);
    assert!(
        rows.iter().any(|r| r[1] == "9" && r[2] == "malformed_row"),
        "{rows:?}"
    );
}

/// A warehouse's unload as it lands: `\N` for NULL (Snowflake, Redshift), BigQuery's
/// `… UTC` and Postgres' `+00` times; ids that are placeholders (`null`, `undefined`,
/// `None`) are no id. Before, `\N` was a "user" made of every anonymous visitor, ranked
/// first on the list, and each such time was an unparseable row.
#[test]
fn a_warehouse_unload_reads_null_ids_and_its_times() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("tracks.csv");
    std::fs::write(
        &csv,
        "id,anonymous_id,user_id,event,timestamp\n\
         e1,a-1,\\N,page,2026-07-01 10:00:00.250000 UTC\n\
         e2,a-1,u-1,signed_up,2026-07-01 10:05:00 UTC\n\
         e3,\\N,u-1,report_created,2026-07-02 09:00:00+00\n\
         e4,a-2,\\N,page,2026-07-02 11:00:00.5-07\n\
         e5,a-3,null,page,2026-07-03 08:00:00 UTC\n\
         e6,a-3,undefined,page,2026-07-03 08:01:00 UTC\n",
    )
    .unwrap();
    let args = [
        "--column",
        "anonymous_id=anonymous_id",
        "--column",
        "event_id=id",
    ];
    let (rows, printed) = canonical(dir.path(), s(&csv), &args);
    assert_eq!(
        rows,
        [
            ["u-1", "2026-07-01T10:00:00.250Z", "page"],
            ["u-1", "2026-07-01T10:05:00.000Z", "signed_up"],
            ["u-1", "2026-07-02T09:00:00.000Z", "report_created"],
        ]
        .map(|r| r.map(String::from).to_vec())
    );
    assert!(printed.contains("3 events of 1 user"), "{printed}");
    assert!(
        printed.contains("identity: 3 rows of 2 anonymous visitors who never identified"),
        "{printed}"
    );
    assert!(printed.contains("set aside: 0 rows"), "{printed}");
}
