//! Platform and development routes.

use serde_json::json;

use super::{failure, schema_ref, success, Route};

pub(crate) const ROUTES: &[Route] = &[
    Route {
        method: "get",
        path: "/api/health",
        dev_only: false,
        summary: "Version and a live check of D1, R2 and the run Durable Object",
        responses: || vec![(200, success(schema_ref("HealthReport"))), (503, failure())],
        request: None,
    },
    Route {
        method: "get",
        path: "/api/openapi.json",
        dev_only: false,
        summary: "This document",
        responses: || {
            vec![(
                200,
                json!({"type": "object", "required": ["openapi", "paths"]}),
            )]
        },
        request: None,
    },
    Route {
        method: "get",
        path: "/api/_dev/outbox",
        dev_only: true,
        summary: "Development only: mail sent to ?to=ADDRESS, newest first",
        responses: || {
            vec![
                (
                    200,
                    success(json!({"type": "array", "items": schema_ref("OutboxMessage")})),
                ),
                (400, failure()),
            ]
        },
        request: None,
    },
    Route {
        method: "get",
        path: "/api/_dev/probe/{key}",
        dev_only: true,
        summary: "Development only: read a probe's D1 note, R2 object size and DO counter",
        responses: || vec![(200, success(schema_ref("ProbeState"))), (400, failure())],
        request: None,
    },
    Route {
        method: "post",
        path: "/api/_dev/probe/{key}",
        dev_only: true,
        summary: "Development only: write a probe to D1 and R2 and bump its DO counter",
        responses: || {
            vec![
                (201, success(schema_ref("ProbeState"))),
                (400, failure()),
                (413, failure()),
            ]
        },
        request: Some(|| {
            json!({"type": "object", "required": ["note"],
                   "properties": {"note": {"type": "string"}}})
        }),
    },
    Route {
        method: "get",
        path: "/api/_dev/fail",
        dev_only: true,
        summary: "Development only: fails inside the server to show the 500 envelope",
        responses: || vec![(500, failure())],
        request: None,
    },
    Route {
        method: "post",
        path: "/api/_dev/bench/kdf",
        dev_only: true,
        summary: "Development only: run n (at most 50) Argon2id verifications, for the benchmark",
        responses: || vec![(200, success(json!({"type": "object"}))), (400, failure())],
        request: Some(|| {
            json!({"type": "object", "required": ["iterations"],
                               "properties": {"iterations": {"type": "integer", "minimum": 0}}})
        }),
    },
];
