//! The list as Customer Success gets it: read back with a real CSV parser — every column,
//! the order, CRM splits, what changed, the account roll-up, the view filters — and no
//! text cell that a spreadsheet would run as a formula.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use crate::util::*;

/// A sample night in `dir`: the shipped log, `users` as users.csv, a copy of the shipped
/// model, and `extra` config lines under `[output]`.
fn sample_night(dir: &Path, users: &str, output: &str, as_of: &str) -> std::process::Output {
    fs::copy(repo().join("models/sample.json"), dir.join("model.json")).unwrap();
    fs::write(dir.join("users.csv"), users).unwrap();
    let cfg = format!(
        "as_of = \"{as_of}\"\n[inputs]\nevents = \"{}\"\nusers = \"users.csv\"\nfeatures = \"{}\"\n\
         [model]\npath = \"model.json\"\nmax_age_days = 1000\n[drift]\nretrain = false\n\
         [output]\ndir = \"out\"\n{output}",
        s(&repo().join("data/events.csv.gz")),
        s(&default_features()),
    );
    fs::write(dir.join("churnrisk.toml"), cfg).unwrap();
    churnrisk(dir, &["run", "--config", "churnrisk.toml"])
}

fn sample_users() -> String {
    fs::read_to_string(repo().join("data/users.csv")).unwrap()
}

fn succeed(out: std::process::Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Rows of a CSV as maps from column to cell.
fn records(path: &Path) -> (Vec<String>, Vec<BTreeMap<String, String>>) {
    let (header, rows) = read_csv(path);
    let maps = rows
        .into_iter()
        .map(|r| header.iter().cloned().zip(r).collect())
        .collect();
    (header, maps)
}

fn csv_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(csv_files(&p));
        } else if p.extension().is_some_and(|x| x == "csv") {
            out.push(p);
        }
    }
    out.sort();
    out
}

#[test]
fn the_sample_list_matches_its_golden_file() {
    let dir = tempfile::tempdir().unwrap();
    let (data, features, model) = (
        repo().join("data"),
        default_features(),
        repo().join("models/sample.json"),
    );
    let args = [
        "-q",
        "run",
        "--data",
        s(&data),
        "--features",
        s(&features),
        "--model",
        s(&model),
        "--out",
        "out",
    ];
    ok(dir.path(), &args);
    let golden = repo().join("tests/golden/sample_at_risk.csv");
    let got = fs::read_to_string(dir.path().join("out/at_risk.csv")).unwrap();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        fs::write(&golden, &got).unwrap();
    }
    let want = fs::read_to_string(&golden).unwrap();
    if got != want {
        let first = got
            .lines()
            .zip(want.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        panic!(
            "the sample list changed (line {}):\n got: {}\nwant: {}\nRerun with UPDATE_GOLDEN=1 if the change is intended.",
            first + 1,
            got.lines().nth(first).unwrap_or(""),
            want.lines().nth(first).unwrap_or("")
        );
    }
}

#[test]
fn every_format_reads_back_with_its_columns_order_and_no_formula_cells() {
    let dir = tempfile::tempdir().unwrap();
    // Hostile CRM values: formula starts in emails, accounts and plans.
    let mut users = String::new();
    for (i, line) in sample_users().lines().enumerate() {
        let mut cells: Vec<String> = line.split(',').map(String::from).collect();
        if i > 0 && i % 3 == 0 {
            cells[2] = format!("=HYPERLINK(\"x\")+{}", cells[2]);
            cells[4] = format!("@{}", cells[4]);
            cells[5] = format!("-{}", cells[5]);
        }
        users.push_str(&cells.join(","));
        users.push('\n');
    }
    succeed(sample_night(
        dir.path(),
        &users,
        "formats = [\"csv\", \"jsonl\", \"parquet\", \"hubspot\", \"salesforce\"]\nsalesforce_max_rows = 100\nhubspot_max_rows = 200\n",
        "2026-07-06",
    ));
    let out = dir.path().join("out");

    // The main list: columns, total order, ranks.
    let (header, rows) = records(&out.join("at_risk.csv"));
    assert_eq!(
        header,
        [
            "rank",
            "user_id",
            "email",
            "crm_id",
            "account",
            "plan",
            "as_of",
            "churn_probability",
            "risk_tier",
            "status",
            "first_flagged",
            "days_on_list",
            "group",
            "reason_1",
            "reason_2",
            "reason_3",
            "recommended_play",
            "play_rule",
            "days_since_last_value",
            "days_since_last_event",
            "active_days_recent",
            "active_days_prior",
            "value_actions_recent",
            "core_features_used",
            "tenure_days",
        ]
    );
    assert_eq!(rows.len(), 1099);
    let mut last = f64::INFINITY;
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r["rank"], (i + 1).to_string());
        assert_eq!(r["as_of"], "2026-07-06");
        let p: f64 = r["churn_probability"].parse().unwrap();
        assert!((0.0..=1.0).contains(&p));
        // Sorted by the exact probability (then user id); the file shows it rounded.
        assert!(p <= last, "rank {} out of order", i + 1);
        last = p;
        let on_list = r["risk_tier"] != "low";
        assert_eq!(r["status"], if on_list { "new" } else { "not_at_risk" });
        assert_eq!(r["first_flagged"].is_empty(), !on_list);
        for figure in ["days_since_last_value", "tenure_days", "active_days_recent"] {
            r[figure].parse::<f64>().unwrap();
        }
        if on_list {
            assert!(!r["reason_1"].is_empty(), "{r:?}");
        }
    }

    // No text cell in any CSV can start a formula; numbers stay plain numbers.
    let numeric = [
        "rank",
        "churn_probability",
        "days_on_list",
        "account_risk",
        "max_probability",
        "churn_risk_probability",
        "churn_risk_rank",
        "Churn_Risk_Probability__c",
        "Churn_Risk_Rank__c",
        "users_scored",
        "users_at_risk",
    ];
    let files = csv_files(&out);
    assert!(files.len() >= 9, "{files:?}");
    let mut neutralized = 0;
    for f in &files {
        let (header, rows) = read_csv(f);
        for row in &rows {
            for (h, cell) in header.iter().zip(row) {
                assert!(
                    !cell.starts_with(['=', '+', '-', '@', '\t', '\r', '\n']),
                    "{}: {h} = {cell:?}",
                    f.display()
                );
                if numeric.contains(&h.as_str()) && !cell.is_empty() {
                    cell.parse::<f64>()
                        .unwrap_or_else(|_| panic!("{h} = {cell:?}"));
                }
                neutralized += usize::from(cell.starts_with('\''));
            }
        }
    }
    assert!(neutralized > 300, "{neutralized}");

    // HubSpot: lowercase snake_case properties, email as the key, 200 rows per file.
    let hubspot = csv_files(&out.join("hubspot"));
    let mut hub_rows = Vec::new();
    for f in &hubspot {
        let (h, rows) = records(f);
        assert_eq!(h[0], "email");
        assert!(h.iter().all(|c| c == &c.to_lowercase() && !c.contains(' ')));
        assert!(rows.len() <= 200);
        hub_rows.extend(rows);
    }
    // CRM files: users on the list, minus the control group CS is not to contact.
    let control: BTreeSet<&str> = rows
        .iter()
        .filter(|r| r["group"] == "control")
        .map(|r| r["user_id"].as_str())
        .collect();
    let share = control.len() as f64 / rows.len() as f64;
    assert!((0.06..=0.14).contains(&share), "control share {share}");
    let on_list = rows
        .iter()
        .filter(|r| r["risk_tier"] != "low" && r["group"] == "treatment")
        .count();
    assert_eq!(hub_rows.len(), on_list);
    assert!(hub_rows
        .iter()
        .all(|r| !control.contains(r["churn_risk_user_id"].as_str())));
    assert_eq!(hubspot.len(), on_list.div_ceil(200));
    let ranks: Vec<usize> = hub_rows
        .iter()
        .map(|r| r["churn_risk_rank"].parse().unwrap())
        .collect();
    assert!(ranks.windows(2).all(|w| w[0] < w[1]));
    assert!(hub_rows
        .iter()
        .all(|r| r["churn_risk_as_of"] == "2026-07-06"));

    // Salesforce: 18-character record ids from crm_id, 100 records per file.
    let salesforce = csv_files(&out.join("salesforce"));
    assert_eq!(salesforce.len(), on_list.div_ceil(100));
    let mut sf_rows = Vec::new();
    for f in &salesforce {
        let (h, rows) = records(f);
        assert_eq!(h[0], "Id");
        assert!(rows.len() <= 100);
        sf_rows.extend(rows);
    }
    assert_eq!(sf_rows.len(), on_list);
    let by_rank: BTreeMap<&str, &str> = rows
        .iter()
        .map(|r| (r["rank"].as_str(), r["crm_id"].as_str()))
        .collect();
    for r in &sf_rows {
        assert_eq!(r["Id"].len(), 18);
        assert_eq!(by_rank[r["Churn_Risk_Rank__c"].as_str()], r["Id"]);
        assert!(r["Churn_Risk_As_Of__c"] == "2026-07-06");
    }

    // JSON Lines: one object per row, typed.
    let jsonl = fs::read_to_string(out.join("at_risk.jsonl")).unwrap();
    let objects: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objects.len(), 1099);
    assert!(objects[0]["churn_probability"].is_f64());
    assert!(objects[0]["reasons"].is_array());
    assert_eq!(objects[0]["user_id"], rows[0]["user_id"].as_str());
    // Parquet: present; its columns and types are read back in `output`'s unit tests.
    assert!(fs::metadata(out.join("at_risk.parquet")).unwrap().len() > 10_000);

    // The manifest lists every file written.
    let m: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    let listed: BTreeSet<String> = m["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        listed.len(),
        3 + 1 + 1 + hubspot.len() + salesforce.len(),
        "{listed:?}"
    );
    assert_eq!(
        m["list"]["new"].as_u64().unwrap() - m["list"]["control_on_list"].as_u64().unwrap(),
        on_list as u64
    );
    assert_eq!(m["list"]["crm"]["salesforce"]["id_column"], "Id");
}

#[test]
fn what_changed_between_two_nights() {
    let dir = tempfile::tempdir().unwrap();
    let users = sample_users();
    succeed(sample_night(dir.path(), &users, "", "2026-07-06"));
    let (_, first) = records(&dir.path().join("out/at_risk.csv"));
    succeed(sample_night(dir.path(), &users, "", "2026-07-10"));
    let (_, second) = records(&dir.path().join("out/at_risk.csv"));
    let (_, changes) = records(&dir.path().join("out/changes.csv"));

    let on = |rows: &[BTreeMap<String, String>]| -> BTreeSet<String> {
        rows.iter()
            .filter(|r| r["risk_tier"] != "low")
            .map(|r| r["user_id"].clone())
            .collect()
    };
    let (before, after) = (on(&first), on(&second));
    let scored: BTreeSet<String> = second.iter().map(|r| r["user_id"].clone()).collect();
    for r in &second {
        let id = &r["user_id"];
        let expected = match (after.contains(id), before.contains(id)) {
            (true, true) => "still_at_risk",
            (true, false) => "new",
            (false, true) => "recovered",
            (false, false) => "not_at_risk",
        };
        assert_eq!(r["status"], expected, "{r:?}");
        if expected == "still_at_risk" {
            assert_eq!(
                (r["first_flagged"].as_str(), r["days_on_list"].as_str()),
                ("2026-07-06", "4")
            );
        }
    }
    let of = |kind: &str| -> BTreeSet<String> {
        changes
            .iter()
            .filter(|c| c["change"] == kind)
            .map(|c| c["user_id"].clone())
            .collect()
    };
    assert_eq!(of("new"), &after - &before);
    assert_eq!(of("recovered"), &(&before - &after) & &scored);
    assert_eq!(of("inactive"), &before - &scored);
    assert!(!of("new").is_empty() && !of("inactive").is_empty());
    assert!(changes.iter().all(|c| c["previous_as_of"] == "2026-07-06"));
    // `still` users are not in the short file.
    assert_eq!(
        changes.len(),
        of("new").len() + of("recovered").len() + of("inactive").len()
    );

    // The same night again: the same bytes.
    let list = fs::read(dir.path().join("out/at_risk.csv")).unwrap();
    let ch = fs::read(dir.path().join("out/changes.csv")).unwrap();
    succeed(sample_night(dir.path(), &users, "", "2026-07-10"));
    assert_eq!(list, fs::read(dir.path().join("out/at_risk.csv")).unwrap());
    assert_eq!(ch, fs::read(dir.path().join("out/changes.csv")).unwrap());
}

#[test]
fn view_filters_and_rank_tiers() {
    let dir = tempfile::tempdir().unwrap();
    succeed(sample_night(
        dir.path(),
        &sample_users(),
        "tiers = \"top\"\nhigh = 100\nmedium = 300\nmin_tier = \"medium\"\nplans = [\"pro\", \"enterprise\"]\ntop = 40\n",
        "2026-07-06",
    ));
    let (_, rows) = records(&dir.path().join("out/at_risk.csv"));
    assert_eq!(rows.len(), 40);
    let mut last = 0;
    for r in &rows {
        let rank: usize = r["rank"].parse().unwrap();
        assert!(rank > last && rank <= 300);
        last = rank;
        assert!(["pro", "enterprise"].contains(&r["plan"].as_str()));
        assert_eq!(r["risk_tier"], if rank <= 100 { "high" } else { "medium" });
    }
    // The account roll-up covers every scored user with an account, whatever the view.
    let (_, accounts) = records(&dir.path().join("out/accounts.csv"));
    let users: usize = accounts
        .iter()
        .map(|a| a["users_scored"].parse::<usize>().unwrap())
        .sum();
    let m: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("out/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(users as u64, m["scored_users"].as_u64().unwrap());
    let risks: Vec<f64> = accounts
        .iter()
        .map(|a| a["account_risk"].parse().unwrap())
        .collect();
    assert!(risks.windows(2).all(|w| w[0] >= w[1]));
    assert_eq!(m["list"]["on_list"], 300);
}
