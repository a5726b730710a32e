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
        "participants": {"type": "integer"}, "created_at": {"type": "string"},
        "secure_aggregation": {"type": "boolean"}
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

fn hex32() -> Value {
    json!({"type": "string", "pattern": "^[0-9a-f]{64}$"})
}

fn sealed_share() -> Value {
    json!({"type": "object", "required": ["from", "to", "ciphertext"], "additionalProperties": false,
           "properties": {"from": {"type": "integer", "minimum": 1, "maximum": 255},
                          "to": {"type": "integer", "minimum": 1, "maximum": 255},
                          "ciphertext": {"type": "string", "pattern": "^[A-Za-z0-9+/]*={0,2}$"}}})
}

fn secure_round() -> Value {
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

pub(super) fn receipt() -> Value {
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
        "secure_aggregation": {"type": "boolean", "description": "the server learns only each round's sum (fedavg or mean)"},
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
        method: "get",
        path: "/api/runs/{id}/rounds/{round}/secure",
        dev_only: false,
        summary: "A secure round as I see it: its phase and deadline, members' keys, senders, survivors, the shares sealed for me",
        responses: || vec![(200, success(secure_round())), (403, failure()), (404, failure()), (409, failure())],
        request: None,
    },
    Route {
        method: "post",
        path: "/api/runs/{id}/rounds/{round}/secure/keys",
        dev_only: false,
        summary: "Advertise my round keys (X25519 c_pk and s_pk, hex) in a secure round's key phase",
        responses: || vec![(200, success(secure_round())), (400, failure()), (409, failure()), (422, failure())],
        request: Some(|| json!({"type": "object", "required": ["c_pk", "s_pk"], "additionalProperties": false,
            "properties": {"c_pk": hex32(), "s_pk": hex32()}})),
    },
    Route {
        method: "post",
        path: "/api/runs/{id}/rounds/{round}/secure/shares",
        dev_only: false,
        summary: "Send my sealed shares, one per member (shares phase)",
        responses: || vec![(200, success(secure_round())), (400, failure()), (409, failure()), (422, failure())],
        request: Some(|| json!({"type": "object", "required": ["shares"], "additionalProperties": false,
            "properties": {"shares": {"type": "array", "items": sealed_share()}}})),
    },
    Route {
        method: "put",
        path: "/api/runs/{id}/rounds/{round}/secure/input",
        dev_only: false,
        summary: "Upload my masked input: vector_len little-endian u32 (input phase)",
        responses: || vec![(200, success(secure_round())), (409, failure()), (413, failure()), (422, failure())],
        request: None,
    },
    Route {
        method: "post",
        path: "/api/runs/{id}/rounds/{round}/secure/reveal",
        dev_only: false,
        summary: "Reveal one share per sender: a survivor's self-mask, a dropped member's mask key (reveal phase)",
        responses: || vec![(200, success(secure_round())), (400, failure()), (409, failure()), (422, failure())],
        request: Some(|| json!({"type": "object", "required": ["reveals"], "additionalProperties": false,
            "properties": {"reveals": {"type": "array", "items": {"type": "object",
                "required": ["about", "secret", "share"], "additionalProperties": false,
                "properties": {"about": {"type": "integer", "minimum": 1, "maximum": 255},
                    "secret": {"enum": ["self_mask", "mask_key"]},
                    "share": {"type": "string", "pattern": "^[A-Za-z0-9+/]{43}=$"}}}}}})),
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
