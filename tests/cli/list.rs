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
    let printed = ok(dir.path(), &args);
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
    // The README shows what this night prints and the start of its list: they must be
    // this night's, not an older model's.
    let readme = fs::read_to_string(repo().join("README.md")).unwrap();
    let summary: Vec<&str> = printed.lines().take(5).collect();
    assert!(
        readme.contains(&summary.join("\n")),
        "README's \"What `run` prints on the sample\" differs from:\n{}",
        summary.join("\n")
    );
    let head: Vec<&str> = want.lines().take(10).collect();
    assert!(
        readme.contains(&head.join("\n")),
        "README's first ten lines of out/at_risk.csv differ from tests/golden/sample_at_risk.csv"
    );
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
    let night = sample_night(
        dir.path(),
        &users,
        "formats = [\"csv\", \"jsonl\", \"parquet\", \"hubspot\", \"salesforce\"]\nsalesforce_max_rows = 100\nhubspot_max_rows = 200\n",
        "2026-07-06",
    );
    // The hostile emails are keys: written as they are, and the night says so.
    let stderr = String::from_utf8_lossy(&night.stderr).into_owned();
    assert!(
        stderr.contains("key cells start with =, +, -, @") && stderr.contains("email \"=HYPERLINK"),
        "{stderr}"
    );
    succeed(night);
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
            // Empty only for a user who never did a value action.
            if !(figure == "days_since_last_value" && r[figure].is_empty()) {
                r[figure].parse::<f64>().unwrap();
            }
        }
        if on_list {
            assert!(!r["reason_1"].is_empty(), "{r:?}");
        }
    }

    // Key cells (what importers match on) are the users table's, unchanged; no other
    // text cell in any CSV can start a formula; numbers stay plain numbers.
    let keys = [
        "user_id",
        "email",
        "crm_id",
        "churn_risk_user_id",
        "hs_object_id",
        "Id",
        "most_at_risk_user",
        "most_at_risk_email",
    ];
    let emails: BTreeSet<String> = users
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap().to_string())
        .collect();
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
                if keys.contains(&h.as_str()) {
                    if h.contains("email") && !cell.is_empty() {
                        assert!(emails.contains(cell), "{}: {h} = {cell:?}", f.display());
                    }
                    continue;
                }
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

    // The manifest lists every file written for people: three lists, changes, accounts,
    // the reject file and the CRM parts.
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
        3 + 1 + 1 + 1 + hubspot.len() + salesforce.len(),
        "{listed:?}"
    );
    assert!(
        listed.iter().any(|p| p.ends_with("out/rejects.csv")),
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
        // A recovered user's row gives the stretch on the list that ended tonight.
        if expected == "still_at_risk" || expected == "recovered" {
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
    // Each change carries the user's experiment group, so CS can leave the control group
    // alone: a scored user's as on the list, an inactive one's from the same draw (the
    // first night's list). A new user has been on the list 0 days, as the list says.
    let group_of: BTreeMap<&str, &str> = first
        .iter()
        .chain(&second)
        .map(|r| (r["user_id"].as_str(), r["group"].as_str()))
        .collect();
    for c in &changes {
        assert_eq!(c["group"], group_of[c["user_id"].as_str()], "{c:?}");
        if c["change"] == "new" {
            assert_eq!(c["days_on_list"], "0", "{c:?}");
        }
    }
    assert!(changes.iter().any(|c| c["group"] == "control"));

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

/// Backticked names in the README paragraph that starts with `start`.
fn readme_names(start: &str, prefix: &str) -> BTreeSet<String> {
    let readme = fs::read_to_string(repo().join("README.md")).unwrap();
    let at = readme
        .find(start)
        .unwrap_or_else(|| panic!("README: {start}"));
    let section = &readme[at..];
    let section = &section[..section.find("\n\n").unwrap_or(section.len())];
    section
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|n| n.starts_with(prefix))
        .map(String::from)
        .collect()
}

#[test]
fn crm_files_keep_their_key_and_the_columns_the_readme_documents() {
    let dir = tempfile::tempdir().unwrap();
    // Every 7th user's crm_id is "N/A": the Salesforce file stays keyed on Id.
    let mut users = String::new();
    let mut crm_of: BTreeMap<String, String> = BTreeMap::new();
    for (i, line) in sample_users().lines().enumerate() {
        let mut cells: Vec<String> = line.split(',').map(String::from).collect();
        if i > 0 && i % 7 == 0 {
            cells[3] = "N/A".into();
        }
        crm_of.insert(cells[0].clone(), cells[3].clone());
        users.push_str(&cells.join(","));
        users.push('\n');
    }
    // A first night with the plain list, then one with only the CRM formats.
    succeed(sample_night(dir.path(), &users, "", "2026-07-05"));
    let night = sample_night(
        dir.path(),
        &users,
        "formats = [\"hubspot\", \"salesforce\"]\n",
        "2026-07-06",
    );
    let stderr = String::from_utf8_lossy(&night.stderr).into_owned();
    succeed(night);
    let out = dir.path().join("out");
    // The ranked list is always written: tonight's, not the stale one of the night before.
    let (_, list) = records(&out.join("at_risk.csv"));
    assert!(list.iter().all(|r| r["as_of"] == "2026-07-06"));
    // The CRM gets the treatment users on the list and those who just recovered.
    let on_list: Vec<&BTreeMap<String, String>> = list
        .iter()
        .filter(|r| r["status"] != "not_at_risk" && r["group"] == "treatment")
        .collect();
    // And the treatment users who went inactive tonight (off the list, not scored).
    let (_, changes) = records(&out.join("changes.csv"));
    let gone: Vec<&BTreeMap<String, String>> = changes
        .iter()
        .filter(|c| c["change"] == "inactive" && c["group"] == "treatment")
        .collect();
    assert!(!gone.is_empty());
    let without_id = on_list.iter().filter(|r| r["crm_id"] == "N/A").count()
        + gone.iter().filter(|c| c["crm_id"] == "N/A").count();
    assert!(without_id > 10, "{without_id}");

    let (header, sf) = records(&out.join("salesforce/at_risk_salesforce_001.csv"));
    assert_eq!(header[0], "Id");
    assert_eq!(sf.len(), on_list.len() + gone.len() - without_id);
    let by_rank: BTreeMap<&str, &str> = list
        .iter()
        .map(|r| (r["rank"].as_str(), r["user_id"].as_str()))
        .collect();
    let gone_ids: BTreeSet<&str> = gone.iter().map(|c| c["crm_id"].as_str()).collect();
    for r in &sf {
        if r["Churn_Risk_Status__c"] == "inactive" {
            assert!(gone_ids.contains(r["Id"].as_str()) && r["Churn_Risk_Rank__c"].is_empty());
            continue;
        }
        let user = by_rank[r["Churn_Risk_Rank__c"].as_str()];
        assert_eq!(r["Id"], crm_of[user], "user {user}");
    }
    assert!(
        stderr.contains(&format!(
            "salesforce: {without_id} users on the list have no Salesforce record id"
        )),
        "{stderr}"
    );
    let m: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["list"]["crm"]["salesforce"]["id_column"], "Id");
    assert_eq!(
        m["list"]["crm"]["salesforce"]["skipped_without_id"],
        without_id
    );
    // The manifest names the CRM files where they are published.
    for crm in ["hubspot", "salesforce"] {
        for f in m["list"]["crm"][crm]["files"].as_array().unwrap() {
            let f = f.as_str().unwrap();
            assert!(dir.path().join(f).is_file() && !f.contains(".night"), "{f}");
        }
    }

    // Column for column what the README tells a CS admin to create.
    let (hub_header, _) = records(&out.join("hubspot/at_risk_hubspot_001.csv"));
    let hub: BTreeSet<String> = hub_header
        .iter()
        .filter(|h| h.starts_with("churn_risk_"))
        .cloned()
        .collect();
    assert_eq!(hub, readme_names("**HubSpot** (", "churn_risk_"));
    assert_eq!(&hub_header[..2], ["email", "hs_object_id"]);
    let fields: BTreeSet<String> = header[1..].iter().cloned().collect();
    assert_eq!(fields, readme_names("**Salesforce** (", "Churn_Risk_"));
}

#[test]
fn keys_reach_the_importer_as_they_are() {
    let dir = tempfile::tempdir().unwrap();
    // Users "+44" and "-1" (ids a spreadsheet would read as formulas) in place of two users
    // the sample ranks high.
    let renamed = [("1711", "+44"), ("1824", "-1")];
    let rename = |line: &str| -> String {
        for (from, to) in renamed {
            if let Some(rest) = line.strip_prefix(&format!("{from},")) {
                return format!("{to},{rest}");
            }
        }
        line.to_string()
    };
    let mut events = String::new();
    let gz = fs::File::open(repo().join("data/events.csv.gz")).unwrap();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(gz), &mut events).unwrap();
    let events: String = events.lines().map(|l| rename(l) + "\n").collect();
    fs::write(dir.path().join("events.csv"), events).unwrap();
    let users: String = sample_users().lines().map(|l| rename(l) + "\n").collect();
    fs::write(dir.path().join("users.csv"), &users).unwrap();
    fs::copy(
        repo().join("models/sample.json"),
        dir.path().join("model.json"),
    )
    .unwrap();
    let cfg = format!(
        "as_of = 2026-07-06\n[inputs]\nevents = \"events.csv\"\nusers = \"users.csv\"\nfeatures = \"{}\"\n\
         [model]\npath = \"model.json\"\nmax_age_days = 1000\n[drift]\nretrain = false\n\
         [output]\ndir = \"out\"\nformats = [\"salesforce\", \"hubspot\"]\nsalesforce_key = \"external_id\"\n",
        s(&default_features()),
    );
    fs::write(dir.path().join("churnrisk.toml"), cfg).unwrap();
    let night = churnrisk(dir.path(), &["run", "--config", "churnrisk.toml"]);
    let stderr = String::from_utf8_lossy(&night.stderr).into_owned();
    succeed(night);
    assert!(stderr.contains("key cells start with"), "{stderr}");
    let out = dir.path().join("out");
    let (_, list) = records(&out.join("at_risk.csv"));
    let (header, sf) = records(&out.join("salesforce/at_risk_salesforce_001.csv"));
    assert_eq!(header[0], "Churnrisk_User_Id__c");
    let (_, hub) = records(&out.join("hubspot/at_risk_hubspot_001.csv"));
    let known: BTreeSet<&str> = users
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    for (_, to) in renamed {
        let row = list.iter().find(|r| r["user_id"] == to);
        let row = row.unwrap_or_else(|| panic!("{to} not in at_risk.csv"));
        assert!(
            row["risk_tier"] != "low" && row["group"] == "treatment",
            "{row:?}"
        );
        assert!(sf.iter().any(|r| r["Churnrisk_User_Id__c"] == to), "{to}");
        assert!(hub.iter().any(|r| r["churn_risk_user_id"] == to), "{to}");
    }
    // Every key matches a user of the users table.
    assert!(sf
        .iter()
        .all(|r| known.contains(r["Churnrisk_User_Id__c"].as_str())));
    assert!(list.iter().all(|r| known.contains(r["user_id"].as_str())));
    // The canonical events of `check --out` keep them too.
    ok(
        dir.path(),
        &["check", "--events", "events.csv", "--out", "canonical.csv"],
    );
    let (_, canon) = records(&dir.path().join("canonical.csv"));
    assert!(canon.iter().any(|r| r["user_id"] == "-1"));
    assert!(canon.iter().any(|r| r["user_id"] == "+44"));
}

#[test]
fn a_list_named_with_an_unknown_extension_is_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let out = churnrisk(
        dir.path(),
        &[
            "score",
            "--events",
            s(&repo().join("data/events.csv.gz")),
            "--model",
            s(&repo().join("models/sample.json")),
            "--features",
            s(&default_features()),
            "--as-of",
            "2026-07-06",
            "--out",
            "list.txt",
        ],
    );
    expect(out, 4, &["list.txt", ".csv, .jsonl or .parquet"]);
    assert!(!dir.path().join("list.txt").exists());
}
