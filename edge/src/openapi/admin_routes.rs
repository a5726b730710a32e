//! Administration routes and the user directory.

use serde_json::json;

use super::{failure, schema_ref, success, Route};

fn users_list() -> serde_json::Value {
    success(json!({"type": "array", "items": schema_ref("UserProfile")}))
}

pub(crate) const ROUTES: &[Route] = &[
    Route {
        method: "get",
        path: "/api/users",
        dev_only: false,
        summary: "Confirmed, active users' usernames and emails (read:users), to invite to runs",
        responses: || {
            vec![
                (
                    200,
                    success(json!({"type": "array", "items": {"type": "object",
                    "required": ["username", "email"], "additionalProperties": false,
                    "properties": {"username": {"type": "string"}, "email": {"type": "string"}}}})),
                ),
                (401, failure()),
                (403, failure()),
            ]
        },
        request: None,
    },
    Route {
        method: "get",
        path: "/api/admin/users",
        dev_only: false,
        summary: "Every user (admin:users)",
        responses: || vec![(200, users_list()), (401, failure()), (403, failure())],
        request: None,
    },
    Route {
        method: "post",
        path: "/api/admin/users/{id}/disable",
        dev_only: false,
        summary: "Disable an account and revoke its sessions (admin:users)",
        responses: || {
            vec![
                (200, success(schema_ref("UserProfile"))),
                (403, failure()),
                (404, failure()),
            ]
        },
        request: None,
    },
    Route {
        method: "post",
        path: "/api/admin/users/{id}/enable",
        dev_only: false,
        summary: "Enable an account (admin:users)",
        responses: || {
            vec![
                (200, success(schema_ref("UserProfile"))),
                (403, failure()),
                (404, failure()),
            ]
        },
        request: None,
    },
    Route {
        method: "post",
        path: "/api/admin/users/{id}/mfa/reset",
        dev_only: false,
        summary: "Remove a user's MFA so they set it up again at the next login (admin:users)",
        responses: || {
            vec![
                (200, success(schema_ref("UserProfile"))),
                (403, failure()),
                (404, failure()),
            ]
        },
        request: None,
    },
    Route {
        method: "get",
        path: "/api/admin/audit",
        dev_only: false,
        summary: "The audit log, newest first; ?user_id= and ?limit= (admin:users)",
        responses: || {
            vec![
                (
                    200,
                    success(json!({"type": "array", "items": {"type": "object",
                    "required": ["id", "at", "user_id", "event", "client", "detail"],
                    "properties": {"event": {"type": "string"}, "at": {"type": "integer"}}}})),
                ),
                (401, failure()),
                (403, failure()),
            ]
        },
        request: None,
    },
];
