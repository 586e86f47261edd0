//! Analytics exports read as they are: each preset's example export (tests/fixtures/exports)
//! loads to the same canonical events as the plain CSV, retries set aside as duplicates;
//! folders, globs, NDJSON and column mappings work from the command line.

use super::util::{churnrisk, expect, ok, read_csv, repo, s};

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
    // A typo in a mapped column of a CSV log is the mapping's mistake (exit 4), as in the
    // other tables, not a missing column of the export (exit 3).
    let orders = dir.path().join("orders.csv");
    std::fs::write(
        &orders,
        "id,customer_id,created_at,financial_status\n1,7,2025-01-01T00:00:00Z,paid\n",
    )
    .unwrap();
    let typo = |user: &str| {
        churnrisk(
            dir.path(),
            &[
                "check",
                "--events",
                s(&orders),
                "--column",
                user,
                "--column",
                "timestamp=created_at",
                "--column",
                "event=financial_status",
            ],
        )
    };
    let out = typo("user_id=customerid");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(
        err.contains("the column mapping names `customerid`, which is not in the file (found: id, customer_id, created_at, financial_status)"),
        "{err}"
    );
    assert_eq!(typo("user_id=customer_id").status.code(), Some(0));
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
    // Amplitude's `user_id` is the Segment warehouse's name too; its event is not.
    assert!(
        err.contains("`event` or `type` of preset `segment`"),
        "{err}"
    );
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
    // A Segment warehouse table's columns are the segment preset's too.
    let (preset, _) = canonical(dir.path(), s(&csv), &["--preset", "segment"]);
    assert_eq!(preset, rows);
}

/// Redshift's UNLOAD as it lands: `0000_part_00` files named for no format (one gzipped),
/// pipe-delimited, no header row, `\N` for NULL. Without `--header` the first row is said
/// to be no header; with it every row is read.
#[test]
fn a_headerless_unload_folder_is_read_with_its_column_names() {
    let dir = tempfile::tempdir().unwrap();
    let unload = dir.path().join("tracks");
    std::fs::create_dir(&unload).unwrap();
    std::fs::write(
        unload.join("0000_part_00"),
        "e1|a-1|\\N|page|2026-07-01 10:00:00+00\n\
         e2|a-1|u-1|signed_up|2026-07-01 10:05:00+00\n",
    )
    .unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(
        &mut gz,
        b"e3|\\N|u-1|report_created|2026-07-02 09:00:00+00\n\
          e4|a-2|\\N|page|2026-07-02 11:00:00+00\n",
    )
    .unwrap();
    std::fs::write(unload.join("0001_part_00.gz"), gz.finish().unwrap()).unwrap();
    // UNLOAD … MANIFEST: a JSON document over several lines beside the parts, skipped
    // and said (before, it was read as JSON lines: "the files are of several formats").
    std::fs::write(
        unload.join("manifest"),
        "{\n  \"entries\": [\n    {\"url\": \"s3://b/tracks/0000_part_00\"}\n  ]\n}\n",
    )
    .unwrap();
    let mapping = [
        "--delimiter",
        "|",
        "--column",
        "anonymous_id=anonymous_id",
        "--column",
        "event_id=id",
    ];
    let mut args = vec!["check", "--events", s(&unload)];
    args.extend(mapping);
    expect(
        churnrisk(dir.path(), &args),
        3,
        &[
            "this first line looks like a row, not a header",
            "--header NAME,NAME,…",
        ],
    );
    let mut with_header = mapping.to_vec();
    with_header.extend(["--header", "id,anonymous_id,user_id,event,timestamp"]);
    let (rows, printed) = canonical(dir.path(), s(&unload), &with_header);
    assert_eq!(rows.len(), 3, "{rows:?}");
    let mut args = vec!["check", "--events", s(&unload)];
    args.extend(&with_header);
    let out = churnrisk(dir.path(), &args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("1 file of no format churnrisk reads skipped, e.g.")
            && err.contains("manifest"),
        "{err}"
    );
    assert!(rows.iter().all(|r| r[0] == "u-1"), "{rows:?}");
    assert!(
        printed.contains("identity: 1 rows of 1 anonymous visitors who never identified"),
        "{printed}"
    );
    // A header of another width is refused, naming both.
    let mut short = mapping.to_vec();
    short.extend(["--header", "id,user_id,event,timestamp"]);
    let mut args = vec!["check", "--events", s(&unload)];
    args.extend(short);
    expect(
        churnrisk(dir.path(), &args),
        4,
        &["it names 4 columns, but the first line of", "has 5 fields"],
    );
}

/// Snowflake writes every unquoted column name in capitals: `USER_ID`, `EVENT`,
/// `TIMESTAMP` are read as `user_id`, `event`, `timestamp` (and a users table's `EMAIL` as
/// `email`) with no mapping. Before, each was a missing column, and `EMAIL` was ignored.
#[test]
fn column_names_in_capitals_are_read_as_their_fields() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("tracks.csv");
    std::fs::write(
        &csv,
        "ID,ANONYMOUS_ID,USER_ID,EVENT,TIMESTAMP\n\
         e1,a-1,\\N,page,2026-07-01 10:00:00.000 +0000\n\
         e2,a-1,u-1,signed_up,2026-07-01 10:05:00.000 +0000\n",
    )
    .unwrap();
    let (rows, printed) = canonical(
        dir.path(),
        s(&csv),
        &[
            "--column",
            "anonymous_id=anonymous_id",
            "--column",
            "event_id=id",
        ],
    );
    assert_eq!(rows.len(), 2, "{rows:?}\n{printed}");
    assert!(rows.iter().all(|r| r[0] == "u-1"), "{rows:?}");
    // The sample's users table with its header in capitals gives the same list.
    let sample = repo().join("data");
    let text = std::fs::read_to_string(sample.join("users.csv")).unwrap();
    let (header, body) = text.split_once('\n').unwrap();
    let users = dir.path().join("users.csv");
    std::fs::write(&users, format!("{}\n{body}", header.to_uppercase())).unwrap();
    let score = |users: &std::path::Path, out: &str| {
        let events = sample.join("events.csv.gz");
        let (model, features) = (
            repo().join("models/sample.json"),
            super::util::default_features(),
        );
        ok(
            dir.path(),
            &[
                "score",
                "--events",
                s(&events),
                "--users",
                s(users),
                "--model",
                s(&model),
                "--features",
                s(&features),
                "--as-of",
                "2026-07-06",
                "--out",
                out,
            ],
        );
        std::fs::read(dir.path().join(out)).unwrap()
    };
    let capitals = score(&users, "capitals.csv");
    assert_eq!(capitals, score(&sample.join("users.csv"), "own.csv"));
    assert!(String::from_utf8_lossy(&capitals).contains("@lucerne-corp.example"));
}
