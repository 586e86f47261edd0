//! The ranked list and everything made from it: ranking and tiers (`rank`), its files
//! (`write`), the play
//! for each user (`plays`), the CRM files (`crm`), account roll-ups (`accounts`), the
//! night-to-night status and pause list (`history`), treatment/control groups
//! (`experiment`), merging shard parts (`shards`) and the terminal summary (`summary`).

pub mod accounts;
pub mod crm;
pub mod experiment;
pub mod history;
pub mod plays;
pub mod rank;
pub mod shards;
pub mod summary;
pub mod write;
