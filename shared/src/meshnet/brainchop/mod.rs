//! brainchop's TF.js layers models (`model.json` + weight shards) as MeshNet parameters, and
//! back. Supports what [`ModelConfig`](super::ModelConfig) expresses: 3×3×3 Conv3D blocks, each
//! followed by one activation (ReLU or ELU), and a 1×1×1 head (model5_gw_ae, model11_gw_ae,
//! model20chan3cls); anything else is a clear error. Export folds BatchNorm into the
//! convolutions, since brainchop's graphs have none.

mod export;
mod import;
mod presets;

pub use export::{export, Exported, WEIGHTS_FILE};
pub use import::import;
pub use presets::{Preset, PRESETS};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BrainchopError {
    #[error("model.json: {0}")]
    Json(String),
    #[error("model.json uses {0}, which Meshfed's MeshNet does not express yet")]
    Unsupported(String),
    #[error("weight {name:?}: {reason}")]
    Weight { name: String, reason: String },
}

fn err(reason: impl Into<String>) -> BrainchopError {
    BrainchopError::Json(reason.into())
}
