//! MeshNet as the rest of Meshfed sees it without burn: its configuration, the names and
//! shapes of its parameters (PyTorch state_dict naming), checking a set of tensors against
//! them, and a seeded initial model. MeshNet in burn is the `meshfed-meshnet` crate.

pub mod brainchop;
pub mod file;
mod init;
mod spec;

pub use init::{he_weights, initial_weights};
pub use spec::{Activation, ModelConfig, ParamSpec, SpecError};
