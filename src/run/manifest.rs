//! The run manifest (`manifest.json` beside the outputs): what a run read, which model it
//! used and why, what it wrote, and how long each stage took — for the operator and for
//! the next run. Written atomically like every output.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::base::files::sha256_file;
use crate::base::files::write_atomic;
use crate::error::{Error, Result};
use crate::ingest::rejects::RejectSummary;
use crate::ingest::IdentitySummary;
use crate::list::crm::CrmExport;
use crate::model::drift::Drift;

/// One file read or written.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileEntry {
    /// `events`, `users`, `subscriptions`, `features`, `at_risk`, …
    pub role: String,
    pub path: String,
    /// Data rows (not counting a header); absent for non-tabular files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<usize>,
    pub sha256: String,
}

impl FileEntry {
    /// Describes a file, hashing its bytes.
    pub fn new(role: &str, path: &Path, rows: Option<usize>) -> Result<Self> {
        Ok(FileEntry {
            role: role.into(),
            path: path.display().to_string(),
            rows,
            sha256: sha256_file(path)?,
        })
    }
}

/// The model a run used.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelUsed {
    pub path: String,
    pub sha256: String,
    /// The as-of date the model was trained at.
    pub trained_as_of: String,
    /// What it was trained on: panel rows (user-dates), churned among them, panel dates.
    pub trained_rows: usize,
    pub trained_churned: usize,
    pub panel_dates: usize,
    pub retrained: bool,
    /// Why it was retrained (absent when the existing model was kept).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retrain_reason: Option<String>,
    /// The file at `path` is this model. False on a failed night for a model trained
    /// tonight: it was never written, and the file there is the one before.
    pub written: bool,
    pub validation_roc_auc: f64,
    pub baseline_roc_auc: f64,
}

/// Users per risk tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TierCounts {
    pub high: usize,
    pub medium: usize,
    pub low: usize,
}

/// The list against the previous run's, and the CRM exports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ListSummary {
    /// The as-of date of the list compared with (absent on a first run).
    pub previous_as_of: Option<String>,
    /// The tier that puts a user on the list.
    pub list_min_tier: String,
    pub on_list: usize,
    pub new: usize,
    pub still: usize,
    pub recovered: usize,
    /// On the previous list, not scored now (no activity in the activity window).
    pub inactive: usize,
    /// Rows in the written lists after the view filters.
    pub rows_written: usize,
    /// Users on the list held out as control (left out of the CRM files).
    pub control_on_list: usize,
    /// Per CRM format: files, rows, users left out, id column.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub crm: BTreeMap<String, CrmExport>,
}

/// Why a run failed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failure {
    /// A stable name: `missing_column`, `too_many_rejects`, `gate_refused`, … (see
    /// `Error::kind`).
    pub kind: String,
    pub message: String,
}

/// The manifest of one run, successful or not. Fields a failed run never reached are
/// absent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunManifest {
    pub churnrisk_version: String,
    /// `ok` or `failed`.
    pub status: String,
    /// The process exit code (see the README's exit codes).
    pub exit_code: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Failure>,
    /// Wall-clock start and end (RFC 3339, UTC).
    pub started_at: String,
    pub finished_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_of: Option<String>,
    pub inputs: Vec<FileEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejects: Option<RejectSummary>,
    /// Anonymous traffic (not scored), stitched visits and identity calls of the log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentitySummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelUsed>,
    /// PSI of today's population against the one on the model's training day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift: Option<Drift>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scored_users: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tiers: Option<TierCounts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub list: Option<ListSummary>,
    /// Files this run replaced. Empty for a failed run: the previous list is untouched.
    pub outputs: Vec<FileEntry>,
    /// Milliseconds per stage.
    pub timings_ms: BTreeMap<String, u64>,
}

impl RunManifest {
    /// A manifest for a run starting at `started_at` (RFC 3339).
    pub fn begin(started_at: String) -> Self {
        RunManifest {
            churnrisk_version: env!("CARGO_PKG_VERSION").into(),
            status: "running".into(),
            exit_code: 0,
            error: None,
            finished_at: started_at.clone(),
            started_at,
            as_of: None,
            inputs: Vec::new(),
            rejects: None,
            identity: None,
            model: None,
            drift: None,
            scored_users: None,
            tiers: None,
            list: None,
            outputs: Vec::new(),
            timings_ms: BTreeMap::new(),
        }
    }

    /// Writes the manifest as pretty JSON, atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut text = serde_json::to_string_pretty(self)
            .map_err(|e| Error::write(path, std::io::Error::other(e)))?;
        text.push('\n');
        write_atomic(path, text.as_bytes())
    }
}
