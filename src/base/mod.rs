//! The bottom layer: small tools every stage uses and that know nothing of churn.
//! Nothing here imports anything of churnrisk's but [`crate::error`].

pub mod csv_cells;
pub mod files;
pub mod hash;
pub mod time;
