//! Features: the definition file (`spec`), the catalog of what each feature means
//! (`catalog`), the log regrouped by user (`index`), and the computation at an as-of
//! date (`compute`).

pub mod bgnbd;
pub mod catalog;
pub mod compute;
pub mod index;
mod prepare;
#[cfg(test)]
mod reference;
pub mod spec;
mod tally;

pub use catalog::{catalog, phrase, FeatureDef, RawRow, Transform};
pub use compute::{compute, FeatureFrame, AUX_COLUMNS};
pub use prepare::{
    event_names, event_type_rows, prepare, prepare_owned, stopped_events, top_event_types,
    Prepared, Stopped,
};
pub use spec::FeatureSpec;
