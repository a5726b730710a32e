//! Backup capability routes.

use serde_json::json;

use super::{failure, success, Route};

fn capability() -> serde_json::Value {
    json!({"type": "object", "required": ["token", "prefix", "endpoint", "expires_at"],
           "additionalProperties": false,
           "properties": {"token": {"type": "string"}, "prefix": {"type": "string", "pattern": "^backups/"},
                          "endpoint": {"type": "string"}, "expires_at": {"type": "string"}}})
}

pub(crate) const ROUTES: &[Route] = &[
    Route {
        method: "post",
        path: "/api/auth/backup-credentials",
        dev_only: false,
        summary:
            "A 1-hour capability for PUT/GET/LIST/DELETE under backups/<user_id>/ (access token)",
        responses: || vec![(200, success(capability())), (401, failure())],
        request: None,
    },
    Route {
        method: "get",
        path: "/api/backup/objects",
        dev_only: false,
        summary: "List the caller's backup objects (Bearer: backup capability)",
        responses: || {
            vec![
                (
                    200,
                    success(
                        json!({"type": "array", "items": {"type": "object", "required": ["key", "size"]}}),
                    ),
                ),
                (401, failure()),
            ]
        },
        request: None,
    },
    Route {
        method: "put",
        path: "/api/backup/objects/{key}",
        dev_only: false,
        summary: "Store a backup object (raw body; Bearer: backup capability)",
        responses: || {
            vec![
                (
                    201,
                    success(json!({"type": "object", "required": ["key", "size"]})),
                ),
                (400, failure()),
                (401, failure()),
                (413, failure()),
            ]
        },
        request: None,
    },
    Route {
        method: "get",
        path: "/api/backup/objects/{key}",
        dev_only: false,
        summary: "Read a backup object (application/octet-stream; Bearer: backup capability)",
        responses: || vec![(400, failure()), (401, failure()), (404, failure())],
        request: None,
    },
    Route {
        method: "delete",
        path: "/api/backup/objects/{key}",
        dev_only: false,
        summary: "Delete a backup object (Bearer: backup capability)",
        responses: || vec![(200, success(json!({"type": "object"}))), (401, failure())],
        request: None,
    },
];
