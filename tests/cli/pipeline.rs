//! The pipeline on generated data: quality against the baseline, leakage, determinism,
//! and the ranked list's shape.

use std::fs;
use std::path::Path;

use crate::util::*;

/// 2026-01-05 + 168 days.
const T: &str = "2026-06-22";

fn model_json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

fn train(dir: &std::path::Path, data: &std::path::Path, model: &str) -> String {
    let features = default_features();
    ok(
        dir,
        &[
            "train",
            "--events",
            s(&data.join("events.csv")),
            "--users",
            s(&data.join("users.csv")),
            "--features",
            s(&features),
            "--as-of",
            T,
            "--model",
            model,
        ],
    )
}

fn score(
    dir: &std::path::Path,
    events: &std::path::Path,
    users: &std::path::Path,
    model: &str,
    out: &str,
) {
    let features = default_features();
    ok(
        dir,
        &[
            "score",
            "--events",
            s(events),
            "--users",
            s(users),
            "--features",
            s(&features),
            "--model",
            model,
            "--as-of",
            T,
            "--out",
            out,
        ],
    );
}

#[test]
fn model_beats_the_recency_baseline_and_is_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    let data = generated(dir.path(), 2500, 168, 11);
    let printed = train(dir.path(), &data, "m1.json");
    assert!(printed.contains("ROC AUC"), "{printed}");
    let m = model_json(&dir.path().join("m1.json"));
    let auc = m["validation"]["roc_auc"].as_f64().unwrap();
    let base = m["baseline"]["roc_auc"].as_f64().unwrap();
    let lift = m["validation"]["top_decile_lift"].as_f64().unwrap();
    eprintln!("validation AUC {auc:.4}, baseline {base:.4}, top-decile lift {lift:.2}");
    assert!(auc >= 0.78, "model AUC {auc}");
    assert!(auc >= base + 0.04, "model AUC {auc} vs baseline {base}");
    assert!(
        m["validation"]["log_loss"].as_f64().unwrap() < m["baseline"]["log_loss"].as_f64().unwrap()
    );
    // user_id is never a feature.
    let names: Vec<&str> = m["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(names.iter().all(|n| !n.contains("user")), "{names:?}");
    // Training twice gives the same model file, byte for byte.
    train(dir.path(), &data, "m2.json");
    assert_eq!(
        fs::read(dir.path().join("m1.json")).unwrap(),
        fs::read(dir.path().join("m2.json")).unwrap()
    );
}

#[test]
fn scoring_ignores_events_at_or_after_the_as_of_date_and_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let data = generated(dir.path(), 1200, 200, 5);
    train(dir.path(), &data, "m.json");
    let events = data.join("events.csv");
    let users = data.join("users.csv");
    score(dir.path(), &events, &users, "m.json", "full.csv");
    score(dir.path(), &events, &users, "m.json", "again.csv");

    // The same log cut at T, plus odd events after T for users of every kind.
    let text = fs::read_to_string(&events).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let mut cut = vec![header.to_string()];
    let mut after = 0;
    for line in lines {
        let ts = line.split(',').nth(1).unwrap();
        if ts < T {
            cut.push(line.to_string());
        } else {
            after += 1;
        }
    }
    assert!(
        after > 1000,
        "the generated log must reach past T ({after} events after)"
    );
    cut.push(format!("1,{T}T00:00:00Z,report_created,,s1-x"));
    cut.push("99999,2026-06-23T10:00:00Z,login,,s9-x".to_string());
    let cut_path = dir.path().join("cut.csv");
    fs::write(&cut_path, cut.join("\n") + "\n").unwrap();
    score(dir.path(), &cut_path, &users, "m.json", "cut.csv");

    let full = fs::read(dir.path().join("full.csv")).unwrap();
    assert_eq!(
        full,
        fs::read(dir.path().join("again.csv")).unwrap(),
        "rerun differs"
    );
    assert_eq!(
        full,
        fs::read(dir.path().join("cut.csv")).unwrap(),
        "events at or after T changed the list"
    );
}

#[test]
fn ranked_list_is_sorted_explained_and_complete() {
    let dir = tempfile::tempdir().unwrap();
    let data = generated(dir.path(), 1200, 200, 9);
    train(dir.path(), &data, "m.json");
    score(
        dir.path(),
        &data.join("events.csv"),
        &data.join("users.csv"),
        "m.json",
        "list.csv",
    );
    let (header, rows) = read_csv(&dir.path().join("list.csv"));
    for col in [
        "rank",
        "user_id",
        "email",
        "crm_id",
        "churn_probability",
        "risk_tier",
        "reason_1",
        "recommended_play",
    ] {
        assert!(header.iter().any(|h| h == col), "missing {col}: {header:?}");
    }
    assert!(rows.len() > 200);
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    let probs: Vec<f64> = rows
        .iter()
        .map(|r| r[at("churn_probability")].parse().unwrap())
        .collect();
    assert!(probs.windows(2).all(|w| w[0] >= w[1]), "not sorted by risk");
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r[at("rank")], (i + 1).to_string());
        assert!(["high", "medium", "low"].contains(&r[at("risk_tier")].as_str()));
        assert!([
            "Repeat Value",
            "Progress & Momentum",
            "Contextual Guidance",
            "Feature Discovery",
            "Re-engagement"
        ]
        .contains(&r[at("recommended_play")].as_str()));
        assert!(r[at("email")].contains('@'));
    }
    // The riskiest users are explained in words.
    for r in rows.iter().take(20) {
        assert!(!r[at("reason_1")].is_empty(), "no reasons for {:?}", r);
    }
    // Several plays are used, not one for everybody.
    let plays: std::collections::BTreeSet<&str> = rows
        .iter()
        .map(|r| r[at("recommended_play")].as_str())
        .collect();
    assert!(plays.len() >= 3, "{plays:?}");
}

#[test]
fn renaming_users_changes_no_probability() {
    let dir = tempfile::tempdir().unwrap();
    let data = generated(dir.path(), 800, 200, 3);
    train(dir.path(), &data, "m.json");
    let rename = |src: &str, dst: &str| {
        let text = fs::read_to_string(data.join(src)).unwrap();
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if i == 0 {
                out.push(line.to_string());
            } else {
                let (id, rest) = line.split_once(',').unwrap();
                let n: u64 = id.parse().unwrap();
                out.push(format!("{},{rest}", 1_000_000 - n));
            }
        }
        fs::write(dir.path().join(dst), out.join("\n") + "\n").unwrap();
    };
    rename("events.csv", "ev2.csv");
    rename("users.csv", "us2.csv");
    score(
        dir.path(),
        &data.join("events.csv"),
        &data.join("users.csv"),
        "m.json",
        "a.csv",
    );
    score(
        dir.path(),
        &dir.path().join("ev2.csv"),
        &dir.path().join("us2.csv"),
        "m.json",
        "b.csv",
    );
    let probs = |f: &str| {
        let (h, rows) = read_csv(&dir.path().join(f));
        let (u, p) = (
            h.iter().position(|x| x == "user_id").unwrap(),
            h.iter().position(|x| x == "churn_probability").unwrap(),
        );
        let mut v: Vec<(u64, String)> = rows
            .iter()
            .map(|r| (r[u].parse().unwrap(), r[p].clone()))
            .collect();
        v.sort();
        v
    };
    let a: Vec<(u64, String)> = probs("a.csv")
        .into_iter()
        .map(|(u, p)| (1_000_000 - u, p))
        .rev()
        .collect();
    let mut a = a;
    a.sort();
    let mut b = probs("b.csv");
    b.sort();
    assert_eq!(a, b);
}

/// A release binary run outside the repository: the default feature file is built in.
#[test]
fn outside_the_repository_the_default_features_are_built_in() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let events = repo().join("data/events.csv.gz");
    let train = |extra: &[&str], model: &str| {
        let mut args = vec![
            "-v",
            "train",
            "--events",
            s(&events),
            "--as-of",
            "2026-07-06",
        ];
        args.extend_from_slice(&["--model", model]);
        args.extend_from_slice(extra);
        churnrisk(d, &args)
    };
    expect(
        train(&[], "built_in.json"),
        0,
        &["features/default.toml is not here: using the built-in default feature definitions"],
    );
    let features = default_features();
    assert_eq!(
        train(&["--features", s(&features)], "file.json")
            .status
            .code(),
        Some(0)
    );
    let fingerprint = |m: &str| model_json(&d.join(m))["feature_fingerprint"].clone();
    assert_eq!(fingerprint("built_in.json"), fingerprint("file.json"));
    assert!(fingerprint("file.json").is_string());
    // A feature file named that is missing is still an error.
    expect(
        train(&["--features", "mine.toml"], "x.json"),
        4,
        &["mine.toml"],
    );
    // report's default model is the sample's, in the repository: it says how to name one.
    expect(
        churnrisk(d, &["report", "--events", s(&events)]),
        3,
        &["(the default, the shipped sample's; give the model to report on with --model)"],
    );
}

/// The analyst's commands read the inputs as a night's config names them.
#[test]
fn the_analysts_commands_read_a_nights_config() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The sample's users table under a company's names, mapped in the config.
    let users = fs::read_to_string(repo().join("data/users.csv")).unwrap();
    let (_, rows) = users.split_once('\n').unwrap();
    fs::write(
        d.join("company.csv"),
        format!("id,created_at,email,crm_id,company_name,plan\n{rows}"),
    )
    .unwrap();
    fs::copy(repo().join("models/sample.json"), d.join("m.json")).unwrap();
    fs::write(
        d.join("night.toml"),
        format!(
            "[inputs]\nevents = \"{}\"\nusers = \"company.csv\"\nfeatures = \"{}\"\n\
             [inputs.user_columns]\nuser_id = \"id\"\nsignup_at = \"created_at\"\naccount = \"company_name\"\n\
             [validation]\nmax_reject_fraction = 0.02\n",
            s(&repo().join("data/events.csv.gz")),
            s(&default_features()),
        ),
    )
    .unwrap();
    let by_config = ok(d, &["check", "--config", "night.toml"]);
    let by_flags = ok(
        d,
        &["check", "--events", s(&repo().join("data/events.csv.gz"))],
    );
    assert_eq!(by_config, by_flags);
    let score = |input: &[&str], out: &str| {
        let mut args = vec![
            "score",
            "--model",
            "m.json",
            "--as-of",
            "2026-07-06",
            "--out",
            out,
        ];
        args.extend_from_slice(input);
        ok(d, &args)
    };
    score(&["--config", "night.toml"], "config.csv");
    let users = repo().join("data/users.csv");
    let features = default_features();
    score(
        &[
            "--events",
            s(&repo().join("data/events.csv.gz")),
            "--users",
            s(&users),
            "--features",
            s(&features),
        ],
        "flags.csv",
    );
    assert_eq!(
        fs::read(d.join("config.csv")).unwrap(),
        fs::read(d.join("flags.csv")).unwrap()
    );
    // train learns the night's churn definition; one given beside the config is refused.
    let text = fs::read_to_string(d.join("night.toml")).unwrap();
    fs::write(
        d.join("night21.toml"),
        format!("{text}[labels]\nhorizon_days = 21\n[inputs.more]\n")
            .replace("[inputs.more]\n", "")
            .replacen("[inputs]\n", "[inputs]\nmax_missing_days = 2\n", 1),
    )
    .unwrap();
    let train = |extra: &[&str]| {
        let mut args = vec![
            "-q",
            "train",
            "--config",
            "night21.toml",
            "--model",
            "t.json",
            "--as-of",
            "2026-07-06",
        ];
        args.extend_from_slice(extra);
        churnrisk(d, &args)
    };
    assert_eq!(train(&[]).status.code(), Some(0));
    assert_eq!(model_json(&d.join("t.json"))["label"]["horizon_days"], 21);
    expect(
        train(&["--horizon-days", "14"]),
        4,
        &["the churn definition comes from the config's [labels]"],
    );
    // check --night allows the night's quiet days: the log ends 07-05, two days before.
    let late = |cfg: &str| churnrisk(d, &["check", "--config", cfg, "--night", "2026-07-08"]);
    assert_eq!(late("night.toml").status.code(), Some(5));
    assert_eq!(late("night21.toml").status.code(), Some(0));
    // A night's config without `features` uses the shipped definitions (built in here,
    // outside the repository): the sample's model fits them and is kept.
    fs::write(
        d.join("bare.toml"),
        format!(
            "as_of = 2026-07-06\n[inputs]\nevents = \"{}\"\n[model]\npath = \"m.json\"\nmax_age_days = 1000\n[output]\ndir = \"out\"\n",
            s(&repo().join("data/events.csv.gz")),
        ),
    )
    .unwrap();
    ok(d, &["-q", "run", "--config", "bare.toml"]);
    let manifest = model_json(&d.join("out/manifest.json"));
    assert_eq!(
        manifest["model"]["retrained"], false,
        "{}",
        manifest["model"]
    );
    // Not with the flags it replaces.
    let both = churnrisk(
        d,
        &["check", "--config", "night.toml", "--events", "other.csv"],
    );
    assert_eq!(both.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&both.stderr).contains("cannot be used with"));
    // Neither: the log is asked for.
    let neither = churnrisk(d, &["check"]);
    assert_eq!(neither.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&neither.stderr).contains("--events <EVENTS>"));
}

/// A company's users table, read with its own column names mapped.
#[test]
fn a_users_table_with_its_own_column_names_is_mapped() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::copy(repo().join("models/sample.json"), d.join("m.json")).unwrap();
    let events = repo().join("data/events.csv.gz");
    let users = fs::read_to_string(repo().join("data/users.csv")).unwrap();
    let (header, rows) = users.split_once('\n').unwrap();
    assert_eq!(header, "user_id,signup_at,email,crm_id,account,plan");
    fs::write(
        d.join("company.csv"),
        format!("id,created_at,email_address,sf_id,company_name,tier\n{rows}"),
    )
    .unwrap();
    let features = default_features();
    let score = |users: &str, extra: &[&str], out: &str| {
        let mut args = vec![
            "score",
            "--events",
            s(&events),
            "--users",
            users,
            "--features",
            s(&features),
            "--model",
            "m.json",
            "--as-of",
            "2026-07-06",
            "--out",
            out,
        ];
        args.extend_from_slice(extra);
        churnrisk(d, &args)
    };
    let out = score(s(&repo().join("data/users.csv")), &[], "plain.csv");
    assert_eq!(out.status.code(), Some(0));
    // Unmapped: the table's columns and the flag that names them.
    expect(
        score("company.csv", &[], "x.csv"),
        3,
        &["the users table has no `user_id` column (found: id, created_at, email_address, sf_id, company_name, tier); name the table's column with `--user-column user_id=COLUMN`"],
    );
    let mapped = [
        "--user-column",
        "user_id=id",
        "--user-column",
        "signup_at=created_at",
        "--user-column",
        "email=email_address",
        "--user-column",
        "crm_id=sf_id",
        "--user-column",
        "account=company_name",
        "--user-column",
        "plan=tier",
    ];
    let out = score("company.csv", &mapped, "mapped.csv");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        fs::read(d.join("mapped.csv")).unwrap(),
        fs::read(d.join("plain.csv")).unwrap()
    );
    // A column named that the table lacks is the mapping's mistake (exit 4).
    let mut wrong = mapped.to_vec();
    wrong[11] = "plan=segment";
    expect(
        score("company.csv", &wrong, "y.csv"),
        4,
        &["the column mapping names `segment`, which is not in the file"],
    );
    // One column for two fields is read once, each field from it: the account is the
    // company's name, and so is the plan (before: exit 1, "duplicate").
    let mut twice = mapped.to_vec();
    twice[11] = "plan=company_name";
    let out = score("company.csv", &twice, "twice.csv");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (h, rows) = read_csv(&d.join("twice.csv"));
    let (a, p) = (
        h.iter().position(|x| x == "account").unwrap(),
        h.iter().position(|x| x == "plan").unwrap(),
    );
    assert!(rows.iter().all(|r| r[a] == r[p]) && !rows[0][a].is_empty());
}

#[test]
fn subscription_definition_trains_and_scores() {
    let dir = tempfile::tempdir().unwrap();
    let data = generated(dir.path(), 2000, 200, 21);
    let features = default_features();
    let train = |subscriptions: &Path, model: &str| {
        expect(
            train_with_subscriptions(dir.path(), &data, subscriptions, &[], model),
            0,
            &[],
        );
        model_json(&dir.path().join(model))
    };
    let m = train(&data.join("subscriptions.csv"), "sub.json");
    assert_eq!(m["label"]["definition"], "subscription");
    // The validation date lies the horizon and the renewal gap before T (2026-06-22 − 35
    // days): a churn at the horizon's end is known once no renewal came within 7 days.
    assert_eq!(m["training"]["panel"][0]["as_of"], "2026-05-18");
    assert_eq!(m["training"]["panel"][0]["role"], "validation");
    let auc = m["validation"]["roc_auc"].as_f64().unwrap();
    eprintln!("subscription-churn validation AUC {auc:.4}");
    assert!(auc > 0.7, "subscription AUC {auc}");

    // The same subscriptions as a billing export writes them, one row per 30-day period
    // (every other user's periods with inclusive end dates, a day before the next start):
    // a renewal is not a churn, so the panel's labels are the same, date by date.
    let monthly = dir.path().join("monthly.csv");
    fs::write(&monthly, billing_periods(&data.join("subscriptions.csv"))).unwrap();
    let rows = fs::read_to_string(&monthly).unwrap().lines().count();
    assert!(rows > 3 * 2000, "{rows} period rows");
    let by_period = train(&monthly, "monthly.json");
    assert_eq!(by_period["training"]["panel"], m["training"]["panel"]);
    // `compare` labels the date `train` validated on, the renewal gap included.
    let compared = ok(
        dir.path(),
        &[
            "compare",
            "--events",
            s(&data.join("events.csv")),
            "--subscriptions",
            s(&data.join("subscriptions.csv")),
            "--features",
            s(&features),
            "--model",
            "monthly.json",
            "--against",
            "sub.json",
            "--as-of",
            T,
        ],
    );
    assert!(
        compared.contains("labelled date 2026-05-18 ("),
        "{compared}"
    );
    for key in ["rows", "churned", "base_rate"] {
        assert_eq!(by_period["validation"][key], m["validation"][key], "{key}");
    }
    // Both read a renewal every month: from each subscription's start in the table of one
    // row each, from the latest 30-day row in the billing export. The two dates differ by
    // the days 30-day periods drift from calendar months, so the fits differ a little.
    let has_renewal = |m: &serde_json::Value| {
        m["features"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "renewal_due")
    };
    assert!(has_renewal(&m) && has_renewal(&by_period));
    let how = |m: &serde_json::Value| m["training"]["renewals"].as_str().unwrap().to_string();
    assert!(
        how(&m).starts_with("no subscriber has two rows"),
        "{}",
        how(&m)
    );
    assert!(
        how(&by_period).contains("the table's: every month (the median of"),
        "{}",
        how(&by_period)
    );
    // `score -v` says the same of the table it reads.
    let scored = churnrisk(
        dir.path(),
        &[
            "-v",
            "score",
            "--events",
            s(&data.join("events.csv")),
            "--subscriptions",
            s(&monthly),
            "--features",
            s(&features),
            "--as-of",
            T,
            "--model",
            "monthly.json",
            "--out",
            "monthly_list.csv",
        ],
    );
    expect(
        scored,
        0,
        &["active periods", "the table's: every month (the median of"],
    );
    let auc_by_period = by_period["validation"]["roc_auc"].as_f64().unwrap();
    assert!(
        (auc_by_period - auc).abs() < 0.01,
        "{auc_by_period} vs {auc}"
    );
}

#[test]
fn a_stripe_subscriptions_export_is_read_as_it_lands() {
    let dir = tempfile::tempdir().unwrap();
    let data = generated(dir.path(), 2000, 200, 22);
    // The generated subscriptions as Stripe's Dashboard exports them: Stripe's customer
    // ids, the product's user id in a metadata column, times as `YYYY-MM-DD HH:MM`, the
    // monthly plan's interval, and a subscription whose first payment never went through.
    let (_, rows) = read_csv(&data.join("subscriptions.csv"));
    let mut export = String::from(
        "id,Customer ID,Customer Email,Plan,Interval,Amount,Status,Created (UTC),\
         Start Date (UTC),Canceled At (UTC),Ended At (UTC),user_id (metadata)\n",
    );
    for (i, r) in rows.iter().enumerate() {
        let (status, end) = match r[2].as_str() {
            "" => ("active", String::new()),
            e => ("canceled", format!("{e} 00:00")),
        };
        export.push_str(&format!(
            "sub_{i:05},cus_{0},{0}@example.com,price_pro,month,29.00,{status},{1} 00:00,\
             {1} 00:00,{end},{end},{0}\n",
            r[0], r[1]
        ));
    }
    export.push_str(
        "sub_x,cus_new,new@example.com,price_pro,month,29.00,incomplete_expired,\
         2026-06-01 10:00,2026-06-01 10:00,,2026-06-02 09:00,never-paid\n",
    );
    let stripe = dir.path().join("stripe_subscriptions.csv");
    fs::write(&stripe, export).unwrap();
    let train = |subscriptions: &Path, extra: &[&str], model: &str| {
        let verbose = [&["-v"], extra].concat();
        train_with_subscriptions(dir.path(), &data, subscriptions, &verbose, model)
    };
    // Stripe's customer ids are not the log's user ids: said, with the way out.
    expect(
        train(&stripe, &[], "cus.json"),
        3,
        &[
            "none of its 2000 subscribers has an event in the log",
            "(`Customer ID`, e.g. \"cus_",
            "--subscription-column user_id=COLUMN",
        ],
    );
    let mapped = train(
        &stripe,
        &["--subscription-column", "user_id=user_id (metadata)"],
        "stripe.json",
    );
    expect(
        mapped,
        0,
        &[
            "read `user_id (metadata)` as user_id, `Start Date (UTC)` as start_date, `Ended At (UTC)` as end_date, `Interval` as interval, `Status` as status",
            "1 row left out: never started (status incomplete or incomplete_expired)",
            "every row states its plan's interval: a subscriber renews on it from their latest row's start (or trial end)",
        ],
    );
    // The same subscriptions in churnrisk's own columns train the same model.
    expect(
        train(&data.join("subscriptions.csv"), &[], "own.json"),
        0,
        &[],
    );
    let (own, stripe) = (
        model_json(&dir.path().join("own.json")),
        model_json(&dir.path().join("stripe.json")),
    );
    assert_eq!(stripe["training"]["panel"], own["training"]["panel"]);
    for key in ["rows", "churned", "roc_auc", "brier"] {
        assert_eq!(stripe["validation"][key], own["validation"][key], "{key}");
    }
    assert_eq!(stripe["features"], own["features"]);
    assert_eq!(stripe["intercept"], own["intercept"]);
}

#[test]
fn a_pending_cancellation_is_learned_and_given_as_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let data = generated(dir.path(), 2000, 200, 23);
    let features = default_features();
    // Every subscription that ended was set to cancel 6 days before its end (Stripe's
    // cancel at period end: `canceled_at` is when the customer asked).
    let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let (_, rows) = read_csv(&data.join("subscriptions.csv"));
    let mut table = String::from("user_id,start_date,end_date,canceled_at\n");
    let mut pending = Vec::new();
    for r in &rows {
        let asked = (!r[2].is_empty())
            .then(|| day(&r[2]) - chrono::Days::new(6))
            .filter(|&a| a >= day(&r[1]));
        if asked.is_some_and(|a| a <= day(T) && day(&r[2]) > day(T)) {
            pending.push(r[0].clone());
        }
        let asked = asked.map(|a| a.to_string()).unwrap_or_default();
        table.push_str(&format!("{},{},{},{asked}\n", r[0], r[1], r[2]));
    }
    assert!(pending.len() >= 5, "{} pending at T", pending.len());
    let subs = dir.path().join("subs.csv");
    fs::write(&subs, table).unwrap();
    let events = data.join("events.csv");
    let inputs = [
        "--events",
        s(&events),
        "--subscriptions",
        s(&subs),
        "--features",
        s(&features),
        "--as-of",
        T,
    ];
    let mut args = vec!["train", "--model", "m.json"];
    args.extend(inputs);
    ok(dir.path(), &args);
    let m = model_json(&dir.path().join("m.json"));
    let coefficient = m["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "cancel_requested")
        .map(|f| f["coefficient"].as_f64().unwrap())
        .unwrap();
    assert!(
        coefficient > 0.5,
        "cancel_requested coefficient {coefficient}"
    );
    let mut args = vec!["score", "--model", "m.json", "--out", "list.csv"];
    args.extend(inputs);
    ok(dir.path(), &args);
    let (header, list) = read_csv(&dir.path().join("list.csv"));
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (user, p, reason) = (at("user_id"), at("churn_probability"), at("reason_1"));
    let mean = |asked: bool| {
        let ps: Vec<f64> = list
            .iter()
            .filter(|r| pending.contains(&r[user]) == asked)
            .map(|r| r[p].parse::<f64>().unwrap())
            .collect();
        ps.iter().sum::<f64>() / ps.len() as f64
    };
    let (asked, others) = (mean(true), mean(false));
    assert!(asked > 0.5 && asked > 3.0 * others, "{asked} vs {others}");
    let (play, rule) = (at("recommended_play"), at("play_rule"));
    let mut asked_rules = 0;
    for r in list.iter().filter(|r| pending.contains(&r[user])) {
        assert!(
            r[reason].starts_with("asked to cancel "),
            "{}: {}",
            r[user],
            r[reason]
        );
        // Re-engagement's rule says so, rather than a decline the figures may not show.
        if r[play] == "Re-engagement" {
            assert!(
                r[rule].starts_with("re-engagement: asked to cancel "),
                "{}",
                r[rule]
            );
            asked_rules += 1;
        }
    }
    assert!(asked_rules > 0);
    // Tonight's export has lost the column: the model's `cancel_requested` would be 0 for
    // everyone (before, the list was scored so, with no warning). Refused, nothing written.
    let without = dir.path().join("subs_without.csv");
    let text = fs::read_to_string(&subs).unwrap();
    let cut: String = text
        .lines()
        .map(|l| format!("{}\n", l.rsplit_once(',').unwrap().0))
        .collect();
    fs::write(&without, cut).unwrap();
    let args = [
        "score",
        "--model",
        "m.json",
        "--out",
        "list2.csv",
        "--events",
        s(&events),
        "--subscriptions",
        s(&without),
        "--features",
        s(&features),
        "--as-of",
        T,
    ];
    expect(
        churnrisk(dir.path(), &args),
        3,
        &["subs_without.csv: the model was trained with the subscriptions' `canceled_at`, which this table has no column for"],
    );
    assert!(!dir.path().join("list2.csv").exists());
}

/// `train` at T on the generated log in `data` with a subscriptions table and `extra`
/// flags (`-v` is global: it may follow the command).
fn train_with_subscriptions(
    dir: &Path,
    data: &Path,
    subscriptions: &Path,
    extra: &[&str],
    model: &str,
) -> std::process::Output {
    let (events, features) = (data.join("events.csv"), default_features());
    let mut args = vec![
        "train",
        "--events",
        s(&events),
        "--subscriptions",
        s(subscriptions),
        "--features",
        s(&features),
        "--as-of",
        T,
        "--model",
        model,
    ];
    args.extend(extra);
    churnrisk(dir, &args)
}

/// `user_id,start_date,end_date` rows cut into 30-day billing periods; a running
/// subscription's last period has no end.
fn billing_periods(subscriptions: &Path) -> String {
    let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let (_, rows) = read_csv(subscriptions);
    let mut out = String::from("user_id,start_date,end_date\n");
    let last_day = day("2026-07-24");
    for (i, r) in rows.iter().enumerate() {
        let (mut start, end) = (day(&r[1]), (!r[2].is_empty()).then(|| day(&r[2])));
        let inclusive = i % 2 == 1;
        loop {
            let next = start + chrono::Days::new(30);
            let (stop, last) = match end {
                Some(e) if next >= e => (Some(e), true),
                None if next > last_day => (None, true),
                _ => (Some(next), false),
            };
            let shown = stop.map(|d| {
                if inclusive && !last {
                    d.pred_opt().unwrap()
                } else {
                    d
                }
            });
            let shown = shown.map(|d| d.to_string()).unwrap_or_default();
            out.push_str(&format!("{},{start},{shown}\n", r[0]));
            if last {
                break;
            }
            start = next;
        }
    }
    out
}

#[test]
fn run_with_defaults_on_the_shipped_sample() {
    let dir = tempfile::tempdir().unwrap();
    let (data, features) = (repo().join("data"), default_features());
    let args = [
        "run",
        "--data",
        s(&data),
        "--features",
        s(&features),
        "--model",
        "models/sample.json",
        "--out",
        "out",
    ];
    let stdout = ok(dir.path(), &args);
    assert!(
        stdout.contains("scored") && stdout.contains("top 10"),
        "{stdout}"
    );
    let (_, rows) = read_csv(&dir.path().join("out/at_risk.csv"));
    assert!(rows.len() > 100);
    // A second run reuses the model and writes the same bytes.
    let first = fs::read(dir.path().join("out/at_risk.csv")).unwrap();
    ok(dir.path(), &args);
    assert_eq!(first, fs::read(dir.path().join("out/at_risk.csv")).unwrap());
}

/// `run --data` on another folder without `--model` must not retrain over the shipped
/// sample's model: it stops before reading anything and names the way out.
#[test]
fn run_on_own_data_needs_its_own_model() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("mine");
    fs::create_dir(&data).unwrap();
    fs::copy(
        repo().join("data/events.csv.gz"),
        data.join("events.csv.gz"),
    )
    .unwrap();
    fs::copy(repo().join("data/users.csv"), data.join("users.csv")).unwrap();
    fs::create_dir(dir.path().join("models")).unwrap();
    let shipped = fs::read(repo().join("models/sample.json")).unwrap();
    fs::write(dir.path().join("models/sample.json"), &shipped).unwrap();
    let features = default_features();
    let args = ["run", "--data", "mine", "--features", s(&features)];
    expect(
        churnrisk(dir.path(), &args),
        4,
        &[
            "invalid --model",
            "--data mine",
            "models/sample.json",
            "--config",
        ],
    );
    assert_eq!(
        fs::read(dir.path().join("models/sample.json")).unwrap(),
        shipped
    );
    assert!(!dir.path().join("out").exists());
    // With a model of its own, the same night runs and leaves the sample's alone.
    ok(
        dir.path(),
        &[
            "-q",
            "run",
            "--data",
            "mine",
            "--features",
            s(&features),
            "--model",
            "models/mine.json",
        ],
    );
    assert_eq!(
        fs::read(dir.path().join("models/sample.json")).unwrap(),
        shipped
    );
    assert!(dir.path().join("out/at_risk.csv").is_file());
}

#[test]
fn unseen_event_names_and_a_minimal_feature_file_still_learn() {
    let dir = tempfile::tempdir().unwrap();
    let data = generated(dir.path(), 2000, 168, 13);
    // A product whose events churnrisk has never seen, described by one line of TOML.
    let text = fs::read_to_string(data.join("events.csv")).unwrap();
    let renamed: String = text
        .lines()
        .enumerate()
        .map(|(i, line)| {
            if i == 0 {
                return format!("{line}\n");
            }
            let mut cells: Vec<&str> = line.split(',').collect();
            let event = match cells[2] {
                "report_created" | "report_shared" | "dashboard_built" | "export_scheduled" => {
                    "purchase".to_string()
                }
                other => format!("ev_{}", other.len()),
            };
            cells[2] = &event;
            format!("{}\n", cells.join(","))
        })
        .collect();
    fs::write(dir.path().join("shop.csv"), renamed).unwrap();
    fs::write(
        dir.path().join("shop.toml"),
        "[events]\nvalue = [\"purchase\"]\n",
    )
    .unwrap();
    ok(
        dir.path(),
        &[
            "train",
            "--events",
            "shop.csv",
            "--features",
            "shop.toml",
            "--as-of",
            T,
            "--model",
            "shop.json",
        ],
    );
    let m = model_json(&dir.path().join("shop.json"));
    let names: Vec<&str> = m["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"n_recent__purchase") && names.iter().any(|n| n.starts_with("n_long__ev_")),
        "{names:?}"
    );
    let auc = m["validation"]["roc_auc"].as_f64().unwrap();
    let base = m["baseline"]["roc_auc"].as_f64().unwrap();
    eprintln!("unseen events: validation AUC {auc:.4}, baseline {base:.4}");
    assert!(
        auc >= base + 0.03 && auc >= 0.75,
        "AUC {auc} vs baseline {base}"
    );
}

/// A night dated after tomorrow is refused, no list or model written: its list
/// would make every ordinary night after it a backfill.
#[test]
fn a_night_ahead_of_the_calendar_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (data, features) = (repo().join("data"), default_features());
    let args = [
        "run",
        "--data",
        s(&data),
        "--features",
        s(&features),
        "--model",
        "m.json",
        "--as-of",
        "2099-01-01",
    ];
    expect(
        churnrisk(dir.path(), &args),
        4,
        &["2099-01-01 is after tomorrow", "is today, UTC"],
    );
    assert!(!dir.path().join("m.json").exists());
    assert!(!dir.path().join("out/at_risk.csv").exists());
}

/// Users on the list that the users table does not know (anonymous ids read as users, or a
/// CRM export behind the log) are named in a warning: CS cannot reach them.
#[test]
fn listed_users_missing_from_the_users_table_are_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("mine");
    fs::create_dir(&data).unwrap();
    fs::copy(
        repo().join("data/events.csv.gz"),
        data.join("events.csv.gz"),
    )
    .unwrap();
    let users = fs::read_to_string(repo().join("data/users.csv")).unwrap();
    // Every tenth user left out of the users table.
    let kept: Vec<&str> = users
        .lines()
        .enumerate()
        .filter(|(i, _)| *i == 0 || i % 10 != 0)
        .map(|(_, l)| l)
        .collect();
    fs::write(data.join("users.csv"), kept.join("\n") + "\n").unwrap();
    fs::copy(repo().join("models/sample.json"), dir.path().join("m.json")).unwrap();
    let features = default_features();
    let args = [
        "run",
        "--data",
        "mine",
        "--features",
        s(&features),
        "--model",
        "m.json",
    ];
    let out = churnrisk(dir.path(), &args);
    let (header, rows) = read_csv(&dir.path().join("out/at_risk.csv"));
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    // The list is the medium tier and above, not every user scored in the file.
    let listed: Vec<_> = rows
        .iter()
        .filter(|r| matches!(r[col("risk_tier")].as_str(), "high" | "medium"))
        .collect();
    let missing = listed.iter().filter(|r| r[col("email")].is_empty()).count();
    assert!(missing > 0 && listed.len() < rows.len());
    expect(
        out,
        0,
        &[
            &format!(
                "{missing} of the {} users on the list are not in the users table",
                listed.len()
            ),
            "anonymous_id",
        ],
    );
}

/// `[events] ignore` drops events that are not product use as the log is read: users
/// whose only recent event is an uninstall are not "active" and not scored, where without
/// it they are on the list; `check` counts the rows dropped.
#[test]
fn ignored_events_keep_no_one_active() {
    let dir = tempfile::tempdir().unwrap();
    let data = generated(dir.path(), 800, 200, 3);
    // Users gone for more than 28 days before T get an uninstall 3 days before it.
    let text = fs::read_to_string(data.join("events.csv")).unwrap();
    let mut last: std::collections::BTreeMap<String, String> = Default::default();
    for line in text.lines().skip(1) {
        let mut cells = line.split(',');
        let (user, ts) = (cells.next().unwrap(), cells.next().unwrap());
        if ts < T {
            let e = last.entry(user.to_string()).or_default();
            if ts > e.as_str() {
                *e = ts.to_string();
            }
        }
    }
    let gone: Vec<&String> = last
        .iter()
        .filter(|(_, ts)| ts.as_str() < "2026-05-20")
        .map(|(u, _)| u)
        .collect();
    assert!(gone.len() > 20, "{}", gone.len());
    let header = text.lines().next().unwrap();
    let blanks = header.split(',').count() - 3;
    let mut out = text.clone();
    for u in &gone {
        out.push_str(&format!(
            "{u},2026-06-19T10:00:00Z,uninstall{}\n",
            ",".repeat(blanks)
        ));
    }
    let events = dir.path().join("events.csv");
    fs::write(&events, out).unwrap();
    let features = fs::read_to_string(default_features()).unwrap();
    let ignoring = dir.path().join("ignoring.toml");
    fs::write(
        &ignoring,
        features.replacen("[events]\n", "[events]\nignore = [\"uninstall\"]\n", 1),
    )
    .unwrap();
    let users = data.join("users.csv");
    let listed = |features: &Path, name: &str| {
        let (model, list) = (format!("{name}.json"), format!("{name}.csv"));
        for cmd in ["train", "score"] {
            let mut args = vec![
                cmd,
                "--events",
                s(&events),
                "--users",
                s(&users),
                "--features",
                s(features),
                "--as-of",
                T,
                "--model",
                &model,
            ];
            if cmd == "score" {
                args.extend(["--out", &list]);
            }
            ok(dir.path(), &args);
        }
        let (h, rows) = read_csv(&dir.path().join(&list));
        let u = h.iter().position(|x| x == "user_id").unwrap();
        rows.into_iter()
            .map(|r| r[u].clone())
            .collect::<std::collections::BTreeSet<String>>()
    };
    let with = listed(&default_features(), "with");
    assert!(gone.iter().all(|u| with.contains(*u)));
    let without = listed(&ignoring, "without");
    assert!(gone.iter().all(|u| !without.contains(*u)));
    assert_eq!(with.len() - without.len(), gone.len());
    let printed = ok(
        dir.path(),
        &["check", "--events", s(&events), "--features", s(&ignoring)],
    );
    assert!(
        printed.contains(&format!(
            "not product use: {} rows dropped (uninstall)",
            gone.len()
        )),
        "{printed}"
    );
    assert!(!printed.contains("uninstall "), "{printed}");
}
