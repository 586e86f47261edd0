//! CRM import files: HubSpot and Salesforce, ready for their import tools.
//!
//! Both hold the users a CS team acts on: those on the list (status `new` or
//! `still_at_risk`) and those who left it tonight — `recovered` (scored below the list's
//! tier) or `inactive` (no activity in the activity window: churned by the definition) —
//! so an "update existing records" import moves the CRM's risk status off every user who
//! is no longer at risk. Users never on a list are left out: they have nothing to update;
//! so are users in the control group (`experiment`), whom CS is not to contact.
//!
//! - **HubSpot** (contacts import): identified by `email`, or by the HubSpot record id
//!   (`hs_object_id`) when `crm_id` is numeric (users with neither are skipped and counted); properties in lowercase snake_case prefixed `churn_risk_`; dates
//!   `YYYY-MM-DD`; at most 1,048,576 rows per file (HubSpot's limit), split above.
//! - **Salesforce** (Data Import Wizard / Data Loader, Contact): keyed as
//!   [`SalesforceKey`] says, never by what the data holds — an import job set up for
//!   "Update by Id" gets `Id` every night. `id` (default): `Id` holds the 18-character
//!   record id from `crm_id` (15-character ids are converted with Salesforce's checksum);
//!   users whose `crm_id` is not a Salesforce id are left out and counted. `external_id`:
//!   an external-id column (default `Churnrisk_User_Id__c`) holds `user_id`, for every
//!   user. Custom fields `Churn_Risk_…__c`; dates `yyyy-MM-dd`; files split at 50,000
//!   records (the Data Import Wizard's limit; raise it for Data Loader).
//!
//! UTF-8, RFC 4180, CRLF; key cells as they are, text cells neutralized against formula
//! injection (see [`crate::base::csv_cells::neutralize`]).

use std::path::{Path, PathBuf};

use crate::base::csv_cells::{neutralize, write_table};
use crate::error::{Error, Result};
use crate::list::experiment::Group;
use crate::list::history::Change;
use crate::list::rank::{RankedRow, Status};
use crate::list::write::REASON_COLUMNS;

/// HubSpot's rows-per-file limit.
pub const HUBSPOT_MAX_ROWS: usize = 1_048_576;
/// The Salesforce Data Import Wizard's records-per-import limit.
pub const SALESFORCE_MAX_ROWS: usize = 50_000;

/// What the Salesforce file is keyed on (`[output] salesforce_key`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SalesforceKey {
    /// The Contact record id (`Id`), from the users table's `crm_id`.
    #[default]
    Id,
    /// An external-id field holding `user_id` (`salesforce_external_id`).
    ExternalId,
}

/// What a CRM export wrote.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CrmExport {
    pub files: Vec<PathBuf>,
    pub rows: usize,
    /// Rows left out because the CRM cannot identify the user (HubSpot: no email nor
    /// numeric record id; Salesforce keyed on `Id`: no Salesforce id in `crm_id`).
    pub skipped_without_id: usize,
    /// The first user left out, to name in the warning.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_skipped: Option<String>,
    /// Salesforce: `Id` or the external-id column used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_column: Option<String>,
}

/// The rows a CRM gets: on the list, or just recovered, and not in the control group.
pub fn crm_rows<'a>(rows: &[&'a RankedRow]) -> Vec<&'a RankedRow> {
    rows.iter()
        .copied()
        .filter(|r| matches!(r.status, Status::New | Status::Still | Status::Recovered))
        .filter(|r| r.group == Group::Treatment)
        .collect()
}

/// One user's row of a CRM file: the user, their CRM cells (email, crm_id, …) and the
/// risk properties after the id columns ([`properties`]).
struct Record<'a> {
    user_id: &'a str,
    crm: &'a [String; 4],
    properties: Vec<String>,
}

/// The CRM rows: scored users ([`crm_rows`]), then those of `changes` who went inactive
/// tonight (not in the control group), by user id.
fn records<'a>(rows: &[&'a RankedRow], changes: &'a [Change], as_of: &str) -> Vec<Record<'a>> {
    let scored = crm_rows(rows).into_iter().map(|r| Record {
        user_id: &r.user_id,
        crm: &r.crm,
        properties: properties(r, as_of),
    });
    let mut inactive: Vec<&Change> = changes
        .iter()
        .filter(|c| c.change == "inactive" && c.group == Group::Treatment)
        .collect();
    inactive.sort_by(|a, b| a.user_id.cmp(&b.user_id));
    let inactive = inactive.into_iter().map(|c| Record {
        user_id: &c.user_id,
        crm: &c.crm,
        properties: inactive_properties(c, as_of),
    });
    scored.chain(inactive).collect()
}

/// Writes HubSpot contact import files into `dir` (`at_risk_hubspot_001.csv`, …).
pub fn write_hubspot(
    dir: &Path,
    rows: &[&RankedRow],
    changes: &[Change],
    as_of: &str,
    max_rows: usize,
) -> Result<CrmExport> {
    let record_id = |r: &Record| {
        let id = r.crm[1].trim();
        (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())).then(|| id.to_string())
    };
    // The users table's email, else the user id when it is one (a log keyed by email).
    let email = |r: &Record<'_>| -> String {
        match r.crm[0].trim() {
            "" if is_email(r.user_id) => r.user_id.trim().to_string(),
            e => e.to_string(),
        }
    };
    let eligible = records(rows, changes, as_of);
    // Each row with its keys; a row with neither is left out.
    let (with_email, without): (Vec<_>, Vec<_>) = eligible
        .iter()
        .map(|r| (r, email(r), record_id(r)))
        .partition(|(_, email, id)| !email.is_empty() || id.is_some());
    let skipped = without.len();
    let first_skipped = without.first().map(|(r, _, _)| r.user_id.to_string());
    let mut header: Vec<String> = [
        "email",
        "hs_object_id",
        "churn_risk_user_id",
        "churn_risk_rank",
        "churn_risk_probability",
        "churn_risk_tier",
        "churn_risk_status",
        "churn_risk_as_of",
        "churn_risk_first_flagged",
        "churn_risk_days_on_list",
    ]
    .map(String::from)
    .to_vec();
    header.extend((1..=REASON_COLUMNS).map(|i| format!("churn_risk_reason_{i}")));
    header.extend(["churn_risk_play", "churn_risk_play_rule"].map(String::from));
    let records: Vec<Vec<String>> = with_email
        .into_iter()
        .map(|(r, email, id)| {
            let mut rec = vec![
                // Keys as they are (see `base::csv_cells::neutralize`).
                email,
                id.unwrap_or_default(),
                r.user_id.to_string(),
            ];
            rec.extend(r.properties.iter().cloned());
            rec
        })
        .collect();
    let files = write_split(dir, "at_risk_hubspot", &header, &records, max_rows)?;
    Ok(CrmExport {
        files,
        rows: records.len(),
        skipped_without_id: skipped,
        first_skipped,
        id_column: None,
    })
}

/// Writes Salesforce Contact import files into `dir` (`at_risk_salesforce_001.csv`, …).
pub fn write_salesforce(
    dir: &Path,
    rows: &[&RankedRow],
    changes: &[Change],
    as_of: &str,
    max_rows: usize,
    key: SalesforceKey,
    external_id: &str,
) -> Result<CrmExport> {
    let eligible = records(rows, changes, as_of);
    // (row, its key cell)
    let keyed: Vec<(&Record, String)> = eligible
        .iter()
        .filter_map(|r| match key {
            SalesforceKey::Id => salesforce_id18(&r.crm[1]).map(|id| (r, id)),
            SalesforceKey::ExternalId => Some((r, r.user_id.to_string())),
        })
        .collect();
    let first_skipped = eligible
        .iter()
        .find(|r| key == SalesforceKey::Id && salesforce_id18(&r.crm[1]).is_none())
        .map(|r| r.user_id.to_string());
    let id_column = match key {
        SalesforceKey::Id => "Id",
        SalesforceKey::ExternalId => external_id,
    };
    let mut header: Vec<String> = vec![
        id_column.to_string(),
        "Churn_Risk_Rank__c".into(),
        "Churn_Risk_Probability__c".into(),
        "Churn_Risk_Tier__c".into(),
        "Churn_Risk_Status__c".into(),
        "Churn_Risk_As_Of__c".into(),
        "Churn_Risk_First_Flagged__c".into(),
        "Churn_Risk_Days_On_List__c".into(),
    ];
    header.extend((1..=REASON_COLUMNS).map(|i| format!("Churn_Risk_Reason_{i}__c")));
    header.extend([
        "Churn_Risk_Play__c".into(),
        "Churn_Risk_Play_Rule__c".into(),
    ]);
    let records: Vec<Vec<String>> = keyed
        .iter()
        .map(|(r, key)| {
            // The key as it is (see `base::csv_cells::neutralize`).
            let mut rec = vec![key.clone()];
            rec.extend(r.properties.iter().cloned());
            rec
        })
        .collect();
    let files = write_split(dir, "at_risk_salesforce", &header, &records, max_rows)?;
    Ok(CrmExport {
        files,
        rows: records.len(),
        skipped_without_id: eligible.len() - keyed.len(),
        first_skipped,
        id_column: Some(id_column.into()),
    })
}

/// The risk properties both CRMs get, after their id columns: rank, probability, tier,
/// status, as-of, first flagged, days on list, reasons, play, play rule.
fn properties(r: &RankedRow, as_of: &str) -> Vec<String> {
    let mut rec = vec![
        r.rank.to_string(),
        format!("{:.4}", r.probability),
        r.tier.label().into(),
        r.status.label().into(),
        as_of.into(),
        r.first_flagged.clone().unwrap_or_default(),
        r.days_on_list.map(|d| d.to_string()).unwrap_or_default(),
    ];
    rec.extend(
        (0..REASON_COLUMNS).map(|i| neutralize(r.reasons.get(i).map(String::as_str).unwrap_or(""))),
    );
    rec.push(r.play.label().into());
    rec.push(neutralize(&r.play_rule));
    rec
}

/// Whether a user id is an email address (one `@` between a local part and a dotted
/// domain, no spaces): HubSpot can then match the contact on it.
fn is_email(id: &str) -> bool {
    let id = id.trim();
    match id.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.split('.').count() >= 2
                && domain.split('.').all(|part| !part.is_empty())
                && !id.contains(|c: char| c.is_whitespace() || c == ',' || c == '"')
        }
        None => false,
    }
}

/// The properties of a user who went inactive tonight: status `inactive`, the night, the
/// stretch on the list that ended (first flagged, days) and why they left; no rank,
/// probability, tier or play (they were not scored).
fn inactive_properties(c: &Change, as_of: &str) -> Vec<String> {
    let mut rec = vec![
        String::new(),
        String::new(),
        String::new(),
        c.change.into(),
        as_of.into(),
        c.first_flagged.clone().unwrap_or_default(),
        c.days_on_list.map(|d| d.to_string()).unwrap_or_default(),
    ];
    rec.extend((0..REASON_COLUMNS).map(|i| match i {
        0 => neutralize(&c.reason),
        _ => String::new(),
    }));
    rec.extend([String::new(), String::new()]);
    rec
}

/// The 18-character form of a Salesforce record id (15 or 18 alphanumerics), or `None`.
/// The three suffix characters encode which of the 15 characters are upper case, five at
/// a time, as Salesforce does.
pub fn salesforce_id18(id: &str) -> Option<String> {
    let id = id.trim();
    if !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    match id.len() {
        18 => {
            let expected = salesforce_id18(&id[..15])?;
            (expected[15..].eq_ignore_ascii_case(&id[15..])).then(|| id.to_string())
        }
        15 => {
            const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
            let mut out = id.to_string();
            for chunk in id.as_bytes().chunks(5) {
                let flags = chunk
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| b.is_ascii_uppercase())
                    .fold(0usize, |acc, (i, _)| acc | (1 << i));
                out.push(char::from(ALPHABET[flags]));
            }
            Some(out)
        }
        _ => None,
    }
}

/// Writes `records` under `header` into `dir/<stem>_001.csv`, … with at most `max_rows`
/// records each (one file, possibly header-only, when there are none); removes parts of
/// an earlier, longer export.
fn write_split(
    dir: &Path,
    stem: &str,
    header: &[String],
    records: &[Vec<String>],
    max_rows: usize,
) -> Result<Vec<PathBuf>> {
    if max_rows == 0 {
        return Err(Error::InvalidArgument {
            name: "CRM rows per file".into(),
            message: "must be at least 1".into(),
        });
    }
    let mut files = Vec::new();
    let chunks: Vec<&[Vec<String>]> = if records.is_empty() {
        vec![&[]]
    } else {
        records.chunks(max_rows).collect()
    };
    for (i, chunk) in chunks.iter().enumerate() {
        let path = dir.join(format!("{stem}_{:03}.csv", i + 1));
        write_table(&path, header, chunk.iter())?;
        files.push(path);
    }
    // Parts beyond this export's last are from an earlier run: an import must not pick
    // them up.
    let entries = std::fs::read_dir(dir).map_err(|e| Error::write(dir, e))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let part = name
            .strip_prefix(&format!("{stem}_"))
            .and_then(|r| r.strip_suffix(".csv"))
            .and_then(|n| n.parse::<usize>().ok());
        if part.is_some_and(|k| k > files.len()) {
            let stale = entry.path();
            std::fs::remove_file(&stale).map_err(|e| Error::write(&stale, e))?;
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::list::rank::Tier;

    fn row(rank: usize, email: &str, crm_id: &str, status: Status) -> RankedRow {
        RankedRow {
            rank,
            crm: [email.into(), crm_id.into(), "Acme".into(), "pro".into()],
            tier: Tier::High,
            reasons: vec!["=1+1 reason".into()],
            play_rule: "r".into(),
            status,
            first_flagged: Some("2026-07-01".into()),
            days_on_list: Some(5),
            ..crate::fixtures::ranked_row(&format!("u{rank}"), 0.5)
        }
    }

    #[test]
    fn fifteen_character_ids_get_salesforce_checksums() {
        // Salesforce's documented example: 001A0000006Vm9r → 001A0000006Vm9rIAC.
        assert_eq!(
            salesforce_id18("001A0000006Vm9r").as_deref(),
            Some("001A0000006Vm9rIAC")
        );
        assert_eq!(
            salesforce_id18("001A0000006Vm9rIAC").as_deref(),
            Some("001A0000006Vm9rIAC")
        );
        assert_eq!(salesforce_id18("001A0000006Vm9rXXX"), None);
        assert_eq!(salesforce_id18("not an id"), None);
        assert_eq!(salesforce_id18(""), None);
    }

    #[test]
    fn hubspot_splits_skips_rows_without_email_and_drops_stale_parts() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("at_risk_hubspot_004.csv"), "old").unwrap();
        let rows: Vec<RankedRow> = (1..=6)
            .map(|i| {
                let email = if i == 3 || i == 6 { "" } else { "a@b.io" };
                let status = if i == 5 {
                    Status::NotAtRisk
                } else {
                    Status::New
                };
                // User 6 has no email but a HubSpot record id.
                row(i, email, if i == 6 { "90210" } else { "" }, status)
            })
            .collect();
        let refs: Vec<&RankedRow> = rows.iter().collect();
        let out = write_hubspot(dir.path(), &refs, &[], "2026-07-06", 2).unwrap();
        assert_eq!(
            (out.rows, out.skipped_without_id, out.files.len()),
            (4, 1, 2)
        );
        assert!(!dir.path().join("at_risk_hubspot_004.csv").exists());
        let mut r = csv::Reader::from_path(&out.files[1]).unwrap();
        let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
        assert!(header.iter().all(|h| h == &h.to_lowercase()), "{header:?}");
        let recs: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
        assert_eq!(&recs[0][3], "4");
        assert_eq!(&recs[0][10], "'=1+1 reason");
        assert_eq!((&recs[1][0], &recs[1][1], &recs[1][3]), ("", "90210", "6"));
    }

    #[test]
    fn salesforce_keeps_the_key_it_is_told_whatever_the_data_holds() {
        let dir = tempfile::tempdir().unwrap();
        let rows = [
            row(1, "", "001A0000006Vm9r", Status::Still),
            row(2, "", "001A0000006Vm9rIAC", Status::Recovered),
        ];
        let refs: Vec<&RankedRow> = rows.iter().collect();
        let id = SalesforceKey::Id;
        let out =
            write_salesforce(dir.path(), &refs, &[], "2026-07-06", 50_000, id, "Ext__c").unwrap();
        assert_eq!(out.id_column.as_deref(), Some("Id"));
        let text = std::fs::read_to_string(&out.files[0]).unwrap();
        assert!(text.starts_with("Id,Churn_Risk_Rank__c"), "{text}");
        assert!(text.contains(
            "\r\n001A0000006Vm9rIAC,1,0.5000,high,still_at_risk,2026-07-06,2026-07-01,5,"
        ));
        // One user with `N/A`: still keyed on Id, that user left out and named.
        let mut mixed = [rows[0].clone(), row(3, "", "N/A", Status::New)];
        let refs: Vec<&RankedRow> = mixed.iter().collect();
        let out =
            write_salesforce(dir.path(), &refs, &[], "2026-07-06", 50_000, id, "Ext__c").unwrap();
        assert_eq!(out.id_column.as_deref(), Some("Id"));
        assert_eq!((out.rows, out.skipped_without_id), (1, 1));
        assert_eq!(out.first_skipped.as_deref(), Some("u3"));
        // Keyed on the external id: every user, the user id as it is (no `'`).
        mixed[1].user_id = "+44".into();
        let refs: Vec<&RankedRow> = mixed.iter().collect();
        let ext = SalesforceKey::ExternalId;
        let out =
            write_salesforce(dir.path(), &refs, &[], "2026-07-06", 50_000, ext, "Ext__c").unwrap();
        assert_eq!(out.id_column.as_deref(), Some("Ext__c"));
        assert_eq!((out.rows, out.skipped_without_id), (2, 0));
        let mut r = csv::Reader::from_path(&out.files[0]).unwrap();
        let keys: Vec<String> = r.records().map(|x| x.unwrap()[0].to_string()).collect();
        assert_eq!(keys, ["u1", "+44"]);
    }
    #[test]
    fn users_who_went_inactive_get_their_status_moved_off_the_list() {
        let dir = tempfile::tempdir().unwrap();
        let rows = [row(1, "a@b.io", "001A0000006Vm9r", Status::Still)];
        let refs: Vec<&RankedRow> = rows.iter().collect();
        let gone = |id: &str, email: &str, group: Group| Change {
            user_id: id.into(),
            crm: [
                email.into(),
                "001A0000006Vm9rIAC".into(),
                "Acme".into(),
                "pro".into(),
            ],
            change: "inactive",
            tier: None,
            previous_tier: Some(Tier::High),
            probability: None,
            previous_probability: Some(0.9),
            reason: "no activity in the activity window: churned by the definition".into(),
            play: String::new(),
            days_on_list: Some(12),
            first_flagged: Some("2026-06-26".into()),
            group,
        };
        let changes = [
            gone("u9", "gone@b.io", Group::Treatment),
            // The control group is never in a CRM file, gone or not.
            gone("u8", "held@b.io", Group::Control),
        ];
        let out = write_hubspot(dir.path(), &refs, &changes, "2026-07-08", 100).unwrap();
        assert_eq!(out.rows, 2);
        let text = std::fs::read_to_string(&out.files[0]).unwrap();
        assert!(
            text.contains(
                "\r\ngone@b.io,,u9,,,,inactive,2026-07-08,2026-06-26,12,no activity in the activity window: churned by the definition,,,,\r\n"
            ),
            "{text}"
        );
        assert!(!text.contains("held@b.io"));
        let key = SalesforceKey::Id;
        let out =
            write_salesforce(dir.path(), &refs, &changes, "2026-07-08", 100, key, "E__c").unwrap();
        let text = std::fs::read_to_string(&out.files[0]).unwrap();
        assert!(
            text.contains("\r\n001A0000006Vm9rIAC,,,,inactive,2026-07-08,2026-06-26,12,"),
            "{text}"
        );
    }
    #[test]
    fn a_user_id_that_is_an_email_keys_the_hubspot_row() {
        let dir = tempfile::tempdir().unwrap();
        let mut keyed = row(1, "", "", Status::New);
        keyed.user_id = "liam.smith@example.com".into();
        let mut not_an_email = row(2, "", "", Status::New);
        not_an_email.user_id = "user@localhost".into();
        let rows = [keyed, not_an_email];
        let refs: Vec<&RankedRow> = rows.iter().collect();
        let out = write_hubspot(dir.path(), &refs, &[], "2026-07-06", 100).unwrap();
        assert_eq!((out.rows, out.skipped_without_id), (1, 1));
        let text = std::fs::read_to_string(&out.files[0]).unwrap();
        assert!(
            text.contains("\r\nliam.smith@example.com,,liam.smith@example.com,1,"),
            "{text}"
        );
        for (id, yes) in [
            ("a@b.co", true),
            ("a@b", false),
            ("@b.co", false),
            ("a@@b.co", false),
            ("a b@c.co", false),
            ("a@b..co", false),
        ] {
            assert_eq!(is_email(id), yes, "{id}");
        }
    }
}
