//! MeshNet as the rest of Meshfed sees it without burn: its configuration, the names and
//! shapes of its parameters (PyTorch state_dict naming), checking a set of tensors against
//! them, and a seeded initial model.

pub mod brainchop;
pub mod dilated_conv;
pub mod file;
mod init;
#[cfg(feature = "burn")]
pub mod net;
mod spec;

pub use init::{he_weights, initial_weights};
pub use spec::{Activation, ModelConfig, ParamSpec, SpecError};
