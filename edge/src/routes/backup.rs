//! Backup capability routes.

use serde_json::json;

use worker::Method;

use super::{handle, Access, Audience, Route};
use crate::backup::Capability;
use crate::openapi::{dto, failure, success};

pub(crate) const ROUTES: &[Route] = &[
    Route {
        method: Method::Post,
        path: "/api/auth/backup-credentials",
        audience: Audience::Api,
        access: Access::Token,
        rate: Some("auth"),
        handler: handle!(crate::backup::credentials),
        summary:
            "A 1-hour capability for PUT/GET/LIST/DELETE under backups/<user_id>/ (access token)",
        responses: || vec![(200, success(dto::<Capability>())), (401, failure())],
        request: None,
    },
    Route {
        method: Method::Get,
        path: "/api/backup/objects",
        audience: Audience::Api,
        access: Access::Capability,
        rate: None,
        handler: handle!(crate::backup::objects),
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
        method: Method::Put,
        path: "/api/backup/objects/{key..}",
        audience: Audience::Api,
        access: Access::Capability,
        rate: None,
        handler: handle!(crate::backup::objects),
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
        method: Method::Get,
        path: "/api/backup/objects/{key..}",
        audience: Audience::Api,
        access: Access::Capability,
        rate: None,
        handler: handle!(crate::backup::objects),
        summary: "Read a backup object (application/octet-stream; Bearer: backup capability)",
        responses: || vec![(400, failure()), (401, failure()), (404, failure())],
        request: None,
    },
    Route {
        method: Method::Delete,
        path: "/api/backup/objects/{key..}",
        audience: Audience::Api,
        access: Access::Capability,
        rate: None,
        handler: handle!(crate::backup::objects),
        summary: "Delete a backup object (Bearer: backup capability)",
        responses: || vec![(200, success(json!({"type": "object"}))), (401, failure())],
        request: None,
    },
];
