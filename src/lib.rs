//! churnrisk: predicts which users of a product are about to churn, from its event log.
//!
//! The layers, each importing only the ones before it (a test, `tests/cli/layers.rs`, fails
//! on an import that goes up or sideways):
//!
//! 0. [`error`] and [`base`] — the error type; time, atomic files, the stable hash, CSV cells.
//! 1. [`ingest`] — files → checked, canonical frames (events, users, subscriptions).
//! 2. [`features`] — the feature catalog and per-user figures at an as-of date.
//! 3. [`labels`] — who is in the population and who churned.
//! 4. [`model`] — the time-based training panel, the fit, scoring with reasons, drift.
//! 5. [`list`] — the ranked list: tiers, plays, CRM files, accounts, history, experiment
//!    groups, shard merging, the terminal summary.
//! 6. [`report`] and [`generate`] — the analyst's HTML report; sample logs.
//! 7. [`run`] — the nightly run's settings, manifest, lock and publish.
//!
//! The binary's `cli` and `cmd` sit on top. Stages return [`error::Result`] and never print.

#![forbid(unsafe_code)]

pub mod base;
pub mod error;
pub mod features;
#[cfg(test)]
mod fixtures;
pub mod generate;
pub mod ingest;
pub mod labels;
pub mod list;
pub mod model;
pub mod report;
pub mod run;
