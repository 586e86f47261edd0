//! The nightly run's machinery: its settings file (`config`), the night's settings resolved
//! over its defaults (`settings`), the manifest that records a night (`manifest`), the
//! output folder's lock (`lock`) and the one-step publish of a night's files (`publish`).

pub mod config;
pub mod lock;
pub mod manifest;
pub mod publish;
pub mod settings;
