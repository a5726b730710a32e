//! Schemas of the run routes' bodies.

use serde_json::{json, Value};

use super::plan_schema::{plan_request, plan_version};

fn nullable(t: &str) -> Value {
    json!({"type": [t, "null"]})
}

fn summary_props() -> Value {
    json!({
        "id": {"type": "integer"}, "name": {"type": "string"}, "description": {"type": "string"},
        "classes": {"type": "integer"}, "creator": {"type": "string"},
        "aggregation": {"enum": ["fedavg", "mean", "median", "trimmed_mean"]},
        "round_timeout_secs": {"type": "integer"}, "current_round": {"type": "integer"},
        "participants": {"type": "integer"}, "created_at": {"type": "string"},
        "secure_aggregation": {"type": "boolean"}
    })
}

pub(crate) fn summary() -> Value {
    json!({"type": "object", "properties": summary_props(),
           "required": ["id", "name", "classes", "current_round", "aggregation"]})
}

fn metrics() -> Value {
    json!({"type": "object", "required": ["uploads", "num_examples"], "properties": {
        "uploads": {"type": "integer"}, "num_examples": {"type": "integer"},
        "loss": nullable("number"), "dice": nullable("number"),
        "val_loss": nullable("number"), "val_dice": nullable("number"),
        "val_dice_per_class": {"type": "array", "items": nullable("number")}}})
}

pub(crate) fn detail() -> Value {
    let mut props = summary_props();
    let extra = json!({
        "model": {"type": "object", "required": ["channels", "dilations", "classes"]},
        "parameter_count": {"type": "integer"},
        "trim_fraction": {"type": "number"},
        "min_participants": nullable("integer"),
        "min_contributors": {"type": "integer", "minimum": 1},
        "participants": {"type": "array", "items": {"type": "object",
            "required": ["email", "username", "active", "creator", "uploaded"]}},
        "round": {"type": "object", "required": ["round", "state", "deadline_at", "uploads"],
            "properties": {"state": {"enum": ["open", "waiting"]}, "round": {"type": "integer"},
                           "kind": {"enum": ["weights", "gradients", null]}}},
        "plan": plan_version(),
        "next_plan": {"oneOf": [plan_version(), {"type": "null"}]},
        "privacy": {"oneOf": [super::plan_schema::privacy_spent(), {"type": "null"}]},
        "history": {"type": "array", "items": {"type": "object",
            "required": ["round", "plan_version", "closed_at", "reason", "metrics"],
            "properties": {"reason": {"enum": ["all_uploaded", "deadline"]}, "metrics": metrics()}}}
    });
    for (k, v) in extra.as_object().into_iter().flatten() {
        props[k] = v.clone();
    }
    json!({"type": "object", "properties": props,
           "required": ["id", "name", "model", "participants", "round", "plan", "history"]})
}

pub(crate) fn hex32() -> Value {
    json!({"type": "string", "pattern": "^[0-9a-f]{64}$"})
}

pub(crate) fn sealed_share() -> Value {
    json!({"type": "object", "required": ["from", "to", "ciphertext"], "additionalProperties": false,
           "properties": {"from": {"type": "integer", "minimum": 1, "maximum": 255},
                          "to": {"type": "integer", "minimum": 1, "maximum": 255},
                          "ciphertext": {"type": "string", "pattern": "^[A-Za-z0-9+/]*={0,2}$"}}})
}

pub(crate) fn secure_round() -> Value {
    let peer = json!({"type": "object", "required": ["x", "keys"], "properties": {
        "x": {"type": "integer"}, "keys": {"type": "object", "required": ["c_pk", "s_pk"]}}});
    let xs = json!({"type": "array", "items": {"type": "integer"}});
    json!({"type": "object",
           "required": ["round", "attempt", "phase", "phase_deadline_at", "advertised", "threshold", "me",
                        "members", "senders", "survivors", "shares_for_me", "vector_len", "sent"],
           "properties": {
               "round": {"type": "integer"},
               "attempt": {"type": "integer", "minimum": 0},
               "phase": {"enum": ["keys", "shares", "input", "reveal"]},
               "phase_deadline_at": {"type": "string"},
               "advertised": {"type": "integer"},
               "threshold": nullable("integer"), "me": nullable("integer"),
               "members": {"type": "array", "items": peer},
               "senders": xs.clone(), "survivors": xs,
               "shares_for_me": {"type": "array", "items": sealed_share()},
               "vector_len": {"type": "integer"},
               "sent": {"type": "object", "required": ["keys", "shares", "input", "reveal"]}}})
}

pub(crate) fn receipt() -> Value {
    json!({"type": "object", "required": ["run_id", "round", "kind", "replaced", "sha256", "uploads", "closed", "current_round"],
           "properties": {"kind": {"enum": ["weights", "gradients"]}, "sha256": {"type": "string"}}})
}

pub(crate) fn tensors() -> Value {
    json!({"type": "object", "required": ["run_id", "round", "tensors"],
           "properties": {"tensors": {"type": "object", "additionalProperties": {"type": ["array", "number"]}}}})
}

pub(crate) fn create_request() -> Value {
    json!({"type": "object", "required": ["name"], "additionalProperties": false, "properties": {
        "name": {"type": "string"}, "description": {"type": "string"},
        "participants": {"type": "array", "items": {"type": "string"}},
        "round_timeout_secs": {"type": "integer", "minimum": 1},
        "classes": {"type": "integer"},
        "model": {"type": "object", "properties": {"in_channels": {"type": "integer"},
            "channels": {"type": "integer"}, "dilations": {"type": "array", "items": {"type": "integer"}},
            "classes": {"type": "integer"}, "batch_norm": {"type": "boolean"}}},
        "aggregation": {"enum": ["fedavg", "mean", "median", "trimmed_mean"]},
        "trim_fraction": {"type": "number"}, "min_participants": {"type": "integer"},
        "min_contributors": {"type": "integer", "minimum": 1},
        "initial_weights": {"type": "object"}, "initial_weights_safetensors": {"type": "string"},
        "plan": plan_request(),
        "secure_aggregation": {"type": "boolean", "description": "the server learns only each round's sum (fedavg or mean)"},
        "preset": {"enum": ["model5_gw_ae", "model11_gw_ae", "model20chan3cls"]}}})
}
