//! Platform and development routes.

use serde_json::json;

use worker::Method;

use super::{handle, Access, Audience, Route};
use crate::dev;
use meshfed_shared::health::HealthReport;

use crate::dev::ProbeState;
use crate::openapi::{dto, failure, success};
use crate::store::dev_outbox::OutboxMessage;

pub(crate) const ROUTES: &[Route] = &[
    Route {
        method: Method::Get,
        path: "/api/health",
        audience: Audience::Api,
        access: Access::Public,
        rate: None,
        handler: handle!(|_req, env, cfg, _p| crate::health::get(env, cfg).await),
        summary: "Version and a live check of D1, R2 and the run Durable Object",
        responses: || vec![(200, success(dto::<HealthReport>())), (503, failure())],
        request: None,
    },
    Route {
        method: Method::Get,
        path: "/api/openapi.json",
        audience: Audience::Api,
        access: Access::Public,
        rate: None,
        handler: handle!(|_req, _env, cfg, _p| crate::openapi::get(cfg)),
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
        method: Method::Get,
        path: "/api/_dev/outbox",
        audience: Audience::Dev,
        access: Access::Public,
        rate: None,
        handler: handle!(dev::outbox),
        summary: "Development only: mail sent to ?to=ADDRESS, newest first",
        responses: || {
            vec![
                (
                    200,
                    success(json!({"type": "array", "items": dto::<OutboxMessage>()})),
                ),
                (400, failure()),
            ]
        },
        request: None,
    },
    Route {
        method: Method::Get,
        path: "/api/_dev/probe/{key}",
        audience: Audience::Dev,
        access: Access::Public,
        rate: None,
        handler: handle!(|_req, env, _cfg, p| dev::probe(env, p.get("key")).await),
        summary: "Development only: read a probe's D1 note, R2 object size and DO counter",
        responses: || vec![(200, success(dto::<ProbeState>())), (400, failure())],
        request: None,
    },
    Route {
        method: Method::Post,
        path: "/api/_dev/probe/{key}",
        audience: Audience::Dev,
        access: Access::Public,
        rate: None,
        handler: handle!(|req, env, cfg, p| dev::write(req, env, cfg, p.get("key")).await),
        summary: "Development only: write a probe to D1 and R2 and bump its DO counter",
        responses: || {
            vec![
                (201, success(dto::<ProbeState>())),
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
        method: Method::Get,
        path: "/api/_dev/fail",
        audience: Audience::Dev,
        access: Access::Public,
        rate: None,
        handler: handle!(dev::fail),
        summary: "Development only: fails inside the server to show the 500 envelope",
        responses: || vec![(500, failure())],
        request: None,
    },
    Route {
        method: Method::Post,
        path: "/api/_dev/bench/kdf",
        audience: Audience::Dev,
        access: Access::Public,
        rate: None,
        handler: handle!(dev::bench_kdf),
        summary: "Development only: run n (at most 50) Argon2id verifications, for the benchmark",
        responses: || vec![(200, success(json!({"type": "object"}))), (400, failure())],
        request: Some(|| {
            json!({"type": "object", "required": ["iterations"],
                               "properties": {"iterations": {"type": "integer", "minimum": 0}}})
        }),
    },
    Route {
        method: Method::Get,
        path: "/api/_dev/rows",
        audience: Audience::Dev,
        access: Access::Public,
        rate: None,
        handler: handle!(dev::rows),
        summary: "Development only: rows in the tables the hourly sweep deletes from",
        responses: || vec![(200, success(counts()))],
        request: None,
    },
    Route {
        method: Method::Post,
        path: "/api/_dev/sweep",
        audience: Audience::Dev,
        access: Access::Public,
        rate: None,
        handler: handle!(dev::sweep),
        summary: "Development only: run the hourly sweep as if at at_ms",
        responses: || vec![(200, success(counts())), (400, failure())],
        request: Some(|| {
            json!({"type": "object", "required": ["at_ms"],
                   "properties": {"at_ms": {"type": "integer"}}})
        }),
    },
    Route {
        method: Method::Get,
        path: "/api/_dev/objects",
        audience: Audience::Dev,
        access: Access::Public,
        rate: None,
        handler: handle!(dev::objects),
        summary: "Development only: the R2 keys under ?prefix=P",
        responses: || {
            let keys = json!({"type": "object", "required": ["keys"],
                "properties": {"keys": {"type": "array", "items": {"type": "string"}}}});
            vec![(200, success(keys)), (400, failure())]
        },
        request: None,
    },
    Route {
        method: Method::Get,
        path: "/api/_dev/object",
        audience: Audience::Dev,
        access: Access::Public,
        rate: None,
        handler: handle!(dev::object),
        summary: "Development only: the bytes of R2 object ?key=K (application/octet-stream)",
        responses: || vec![(400, failure()), (404, failure())],
        request: None,
    },
    Route {
        method: Method::Get,
        path: "/api/_dev/memory",
        audience: Audience::Dev,
        access: Access::Public,
        rate: None,
        handler: handle!(dev::memory),
        summary:
            "Development only: WebAssembly linear memory of the Worker and of ?run=ID's object",
        responses: || {
            let memory = json!({"type": "object",
                "required": ["worker_wasm_bytes", "object_wasm_bytes"]});
            vec![(200, success(memory)), (400, failure())]
        },
        request: None,
    },
];

/// `{"table": rows, …}`.
fn counts() -> serde_json::Value {
    json!({"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}})
}
