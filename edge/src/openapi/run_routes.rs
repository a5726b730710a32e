//! Federated runs: creation, membership, rounds, uploads and downloads.

use serde_json::{json, Value};

use super::plan_schema::{plan_request, plan_version};
use super::{failure, success, Route};

fn nullable(t: &str) -> Value {
    json!({"type": [t, "null"]})
}

fn summary_props() -> Value {
    json!({
        "id": {"type": "integer"}, "name": {"type": "string"}, "description": {"type": "string"},
        "classes": {"type": "integer"}, "creator": {"type": "string"},
        "aggregation": {"enum": ["fedavg", "mean", "median", "trimmed_mean"]},
        "round_timeout_secs": {"type": "integer"}, "current_round": {"type": "integer"},
        "participants": {"type": "integer"}, "created_at": {"type": "string"}
    })
}

fn summary() -> Value {
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

fn detail() -> Value {
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

fn receipt() -> Value {
    json!({"type": "object", "required": ["run_id", "round", "kind", "replaced", "sha256", "uploads", "closed", "current_round"],
           "properties": {"kind": {"enum": ["weights", "gradients"]}, "sha256": {"type": "string"}}})
}

fn tensors() -> Value {
    json!({"type": "object", "required": ["run_id", "round", "tensors"],
           "properties": {"tensors": {"type": "object", "additionalProperties": {"type": ["array", "number"]}}}})
}

fn create_request() -> Value {
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
        "preset": {"enum": ["model5_gw_ae", "model11_gw_ae", "model20chan3cls"]}}})
}

pub(crate) const ROUTES: &[Route] = &[
    Route {
        method: "get",
        path: "/api/runs",
        dev_only: false,
        summary: "The runs I take part in, newest first",
        responses: || vec![(200, success(json!({"type": "array", "items": summary()}))), (401, failure())],
        request: None,
    },
    Route {
        method: "post",
        path: "/api/runs",
        dev_only: false,
        summary: "Create a run (participants by email; model, aggregation, timeout, k of n, initial weights)",
        responses: || vec![(201, success(detail())), (400, failure()), (401, failure()), (422, failure())],
        request: Some(create_request),
    },
    Route {
        method: "get",
        path: "/api/runs/{id}",
        dev_only: false,
        summary: "A run: participants, the current round and its state, per-round history",
        responses: || vec![(200, success(detail())), (403, failure()), (404, failure())],
        request: None,
    },
    Route {
        method: "patch",
        path: "/api/runs/{id}",
        dev_only: false,
        summary: "Change a run's name, description, timeout, k of n or training plan (creator only; a plan from the next round)",
        responses: || vec![(200, success(detail())), (400, failure()), (403, failure()), (422, failure())],
        request: Some(|| json!({"type": "object", "additionalProperties": false, "properties": {
            "name": {"type": "string"}, "description": {"type": "string"},
            "round_timeout_secs": {"type": "integer", "minimum": 1},
            "min_participants": {"type": "integer", "minimum": 1},
            "min_contributors": {"type": "integer", "minimum": 1},
            "plan": plan_request()}})),
    },
    Route {
        method: "post",
        path: "/api/runs/{id}/activate",
        dev_only: false,
        summary: "Mark myself active or inactive in a run ({active: bool})",
        responses: || vec![(200, success(detail())), (403, failure()), (404, failure())],
        request: Some(|| json!({"type": "object", "required": ["active"], "properties": {"active": {"type": "boolean"}}})),
    },
    Route {
        method: "get",
        path: "/api/runs/{id}/model",
        dev_only: false,
        summary: "The current global model: safetensors, or JSON with Accept: application/json",
        responses: || vec![(200, success(tensors())), (403, failure()), (404, failure())],
        request: None,
    },
    Route {
        method: "get",
        path: "/api/runs/{id}/rounds/{round}/model",
        dev_only: false,
        summary: "The global model round {round} started from (safetensors or JSON by Accept)",
        responses: || vec![(200, success(tensors())), (403, failure()), (404, failure())],
        request: None,
    },
    Route {
        method: "put",
        path: "/api/runs/{id}/rounds/{round}/weights",
        dev_only: false,
        summary: "Upload weights (safetensors with ?num_examples=&loss=&dice=&val_loss=&val_dice=, or JSON); replaces my earlier upload",
        responses: || vec![(200, success(receipt())), (400, failure()), (409, failure()), (413, failure()), (422, failure())],
        request: None,
    },
    Route {
        method: "put",
        path: "/api/runs/{id}/rounds/{round}/gradients",
        dev_only: false,
        summary: "Upload gradients for synchronous distributed SGD (same formats as weights)",
        responses: || vec![(200, success(receipt())), (400, failure()), (409, failure()), (413, failure()), (422, failure())],
        request: None,
    },
    Route {
        method: "get",
        path: "/api/runs/{id}/rounds/{round}/gradients/avg",
        dev_only: false,
        summary: "Long-poll (?wait_secs=, default 25) until the round's gradients are in, then their average",
        responses: || vec![(200, success(tensors())), (403, failure()), (409, failure())],
        request: None,
    },
];
