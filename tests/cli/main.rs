//! End-to-end tests: the built `churnrisk` binary run in temporary folders on generated
//! and shipped data, checked through the files it writes and its exit codes.

mod errors;
mod exports;
mod fault;
mod landed;
mod layers;
mod list;
mod nightly;
mod pipeline;
mod progress;
mod rejects;
mod report;
mod shards;
mod util;
