//! The schema of a model answered as JSON (built by `runs::download`, not a DTO).

use meshfed_shared::tensor::nested_json::JsonTensors;
use serde_json::{json, Value};

use super::dto;

pub(crate) fn tensors() -> Value {
    json!({"type": "object", "required": ["run_id", "round", "tensors"],
           "properties": {"run_id": {"type": "integer"}, "round": {"type": "integer"},
                          "tensors": dto::<JsonTensors>()}})
}
