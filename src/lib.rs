//! churnrisk: predicts which users of a product are about to churn, from its event log.
//!
//! Data flows one way: `ingest` (files → checked frames) → `features` (per-user figures at
//! an as-of date) → `labels` (population and churn) → `model` (train on a time-based
//! panel, score with reasons) → `plays` and `output` (the ranked list). `generate` makes
//! realistic sample logs. Stages return [`error::Result`] and never print.

pub mod accounts;
pub mod analysis;
pub mod config;
pub mod crm;
pub mod engagement;
pub mod error;
pub mod experiment;
pub mod features;
pub mod generate;
pub mod history;
pub mod ingest;
pub mod labels;
pub mod lock;
pub mod manifest;
pub mod model;
pub mod output;
pub mod plays;
pub mod publish;
pub mod report;
pub mod shards;
pub mod svg;
pub mod uplift;
