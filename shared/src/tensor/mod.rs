//! Tensors as they travel: named, shaped `f32` arrays, and the two wire formats Meshfed
//! speaks, safetensors (native, binary) and the seeds' nested-array JSON.

pub mod f16;
pub mod nested_json;
pub mod safetensors;

use std::fmt;

/// One tensor: its shape and its values in row-major order. Values are always `f32` in
/// memory; F16 on the wire is widened on read.
#[derive(Clone, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl Tensor {
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        Self { shape, data }
    }
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tensor{:?}({} values)", self.shape, self.data.len())
    }
}

/// Tensors by name, in a fixed order (a model's parameter order, or the file's order).
pub type NamedTensors = Vec<(String, Tensor)>;

/// Element types on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    F32,
    F16,
}

impl DType {
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "F32",
            DType::F16 => "F16",
        }
    }

    pub fn size(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F16 => 2,
        }
    }
}

/// Why bytes or JSON are not a set of tensors. Messages name the tensor and never include
/// its values.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TensorError {
    #[error("the file is truncated: {0}")]
    Truncated(String),
    #[error("the safetensors header is invalid: {0}")]
    BadHeader(String),
    #[error("tensor {name:?} has dtype {dtype}; supported: F32, F16")]
    UnsupportedDtype { name: String, dtype: String },
    #[error("tensor {name:?}: {reason}")]
    BadTensor { name: String, reason: String },
    #[error("tensor {name:?} is ragged at {path}: {reason}")]
    Ragged {
        name: String,
        path: String,
        reason: String,
    },
    #[error("tensor {name:?} has a non-numeric value at {path}")]
    NonNumeric { name: String, path: String },
    #[error("invalid JSON: {0}")]
    Json(String),
}
