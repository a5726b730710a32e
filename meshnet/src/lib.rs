//! MeshNet in burn: the model, a training step, whole-volume segmentation, and the dilated
//! convolution kernels behind them. Parameter names, shapes and order are those of
//! [`ModelConfig`], so weights move between browser, CLI and Worker as flat `f32` vectors
//! without renaming. The Worker never builds this crate: it needs only
//! `meshfed_shared::meshnet` (the configuration, the parameter names, the initial model).
//!
//! Features: `native-cpu` (threads and SIMD for native builds), `wgpu` (burn's wgpu backend,
//! natively), `webgpu` (burn's WebGPU backend in a browser).
//!
//! [`ModelConfig`]: meshfed_shared::meshnet::ModelConfig

/// burn itself, for the crates that drive MeshNet.
pub use burn;

mod calibrate;
#[cfg(any(feature = "wgpu", feature = "webgpu"))]
mod cube_conv;
#[cfg(any(feature = "wgpu", feature = "webgpu"))]
mod cube_kernels;
pub mod dilated_conv;
mod follow;
#[cfg(any(feature = "wgpu", feature = "webgpu"))]
pub mod kernel_check;
mod local_data;
pub mod mesh_conv;
mod model;
mod segment;
mod train;

pub use follow::{context_of, validate, validate_async, Participant};
pub use local_data::LocalData;
pub use model::{Block, MeshNet, MeshNetConfig};
pub use segment::{
    finish, predict, predict_async, prepare, segment, SegmentOptions, DEFAULT_CROP_PADDING,
};
pub use train::{Optimizer, TrainConfig, Trainer};
/// What can go wrong running MeshNet.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error(transparent)]
    Spec(#[from] meshfed_shared::meshnet::SpecError),
    #[error(transparent)]
    Volume(#[from] meshfed_shared::volume::VolumeError),
    #[error("reading a tensor back from the device: {0}")]
    Device(String),
    #[error("{0}")]
    Input(String),
    #[error("training diverged (loss {0}); try a lower learning rate")]
    Diverged(f32),
}

impl From<burn::tensor::DataError> for NetError {
    fn from(e: burn::tensor::DataError) -> Self {
        NetError::Device(format!("{e:?}"))
    }
}

/// A tensor of `shape` with values uniform in [-1, 1) from `seed` (the kernel check's
/// data, and tests').
#[cfg(any(test, feature = "wgpu", feature = "webgpu"))]
pub(crate) fn seeded_tensor<const D: usize>(
    shape: [usize; D],
    seed: u64,
    device: &burn::tensor::Device,
) -> burn::tensor::Tensor<D> {
    let mut rng = meshfed_shared::volume::Rng::new(seed);
    let n = shape.iter().product();
    let values: Vec<f32> = (0..n).map(|_| rng.unit() * 2.0 - 1.0).collect();
    burn::tensor::Tensor::from_data(burn::tensor::TensorData::new(values, shape), device)
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod train_tests;
