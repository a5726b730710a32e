//! Uploads in parts (`runs::parts`): the same three routes for weights and gradients.

use serde_json::{json, Value};

use super::{failure, success, Route};

fn parts_request() -> Value {
    json!({"type": "object", "required": ["bytes", "sha256", "format"], "additionalProperties": false,
        "properties": {"bytes": {"type": "integer", "minimum": 1},
            "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "format": {"enum": ["safetensors", "json"]}}})
}

fn session() -> Value {
    json!({"type": "object", "required": ["upload_id", "bytes", "part_bytes", "parts"],
        "properties": {"upload_id": {"type": "string"}, "bytes": {"type": "integer"},
            "part_bytes": {"type": "integer"}, "parts": {"type": "integer"}}})
}

fn part_receipt() -> Value {
    json!({"type": "object", "required": ["upload_id", "part", "bytes", "received", "parts"],
        "properties": {"upload_id": {"type": "string"}, "part": {"type": "integer"},
            "bytes": {"type": "integer"}, "received": {"type": "integer"}, "parts": {"type": "integer"}}})
}

macro_rules! parts_routes {
    ($kind:literal) => {
        [
            Route {
                method: "post",
                path: concat!("/api/runs/{id}/rounds/{round}/", $kind, "/parts"),
                dev_only: false,
                summary: concat!("Start an upload of ", $kind, " in parts (larger than one request may carry): its size, SHA-256 and format; answers the part size"),
                responses: || vec![(201, success(session())), (400, failure()), (403, failure()), (409, failure()), (413, failure()), (422, failure())],
                request: Some(parts_request),
            },
            Route {
                method: "put",
                path: concat!("/api/runs/{id}/rounds/{round}/", $kind, "/parts/{upload_id}/{part}"),
                dev_only: false,
                summary: "Send part n (1-based; every part but the last exactly part_bytes), in any order",
                responses: || vec![(200, success(part_receipt())), (404, failure()), (413, failure()), (422, failure())],
                request: None,
            },
            Route {
                method: "post",
                path: concat!("/api/runs/{id}/rounds/{round}/", $kind, "/parts/{upload_id}/complete"),
                dev_only: false,
                summary: "Join the parts, check the declared SHA-256 and count the upload (metrics in the query, as for a single request)",
                responses: || vec![(200, success(super::run_routes::receipt())), (404, failure()), (409, failure()), (422, failure())],
                request: None,
            },
        ]
    };
}

pub(crate) const WEIGHTS: [Route; 3] = parts_routes!("weights");
pub(crate) const GRADIENTS: [Route; 3] = parts_routes!("gradients");
