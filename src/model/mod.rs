//! The model: the matrix conversion, training on a time-based panel, the model file,
//! scoring with reasons, and evaluation metrics.

pub mod artifact;
pub mod curves;
pub mod drift;
pub mod evaluate;
pub mod matrix;
pub mod policy;
pub mod score;
pub mod train;

pub use artifact::ChurnModel;
pub use evaluate::Metrics;
pub use score::{score, score_prepared, Scored, ScoredUser};
pub use train::{train, train_prepared, TrainOptions};
