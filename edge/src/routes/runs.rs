//! Federated runs: creation, membership, rounds, uploads and downloads.

use serde_json::json;
use worker::Method;

use super::{handle, Access, Audience, Route};
use crate::openapi::plan_schema::plan_request;
use crate::openapi::run_schemas::{
    create_request, detail, hex32, receipt, sealed_share, secure_round, summary, tensors,
};
use crate::openapi::{failure, success};
use crate::runs::{create, download, secure, upload, view};

pub(crate) const ROUTES: &[Route] = &[
    Route {
        method: Method::Get,
        path: "/api/runs",
        audience: Audience::Api,
        access: Access::Token,
        rate: None,
        handler: handle!(view::list),
        summary: "The runs I take part in, newest first",
        responses: || vec![(200, success(json!({"type": "array", "items": summary()}))), (401, failure())],
        request: None,
    },
    Route {
        method: Method::Post,
        path: "/api/runs",
        audience: Audience::Api,
        access: Access::Token,
        rate: None,
        handler: handle!(create::post),
        summary: "Create a run (participants by email; model, aggregation, timeout, k of n, initial weights)",
        responses: || vec![(201, success(detail())), (400, failure()), (401, failure()), (422, failure())],
        request: Some(create_request),
    },
    Route {
        method: Method::Get,
        path: "/api/runs/{id}",
        audience: Audience::Api,
        access: Access::Member,
        rate: None,
        handler: handle!(|req, env, cfg, p| view::detail(req, env, cfg, p.run()?).await),
        summary: "A run: participants, the current round and its state, per-round history",
        responses: || vec![(200, success(detail())), (403, failure()), (404, failure())],
        request: None,
    },
    Route {
        method: Method::Patch,
        path: "/api/runs/{id}",
        audience: Audience::Api,
        access: Access::Member,
        rate: None,
        handler: handle!(|req, env, cfg, p| view::update(req, env, cfg, p.run()?).await),
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
        method: Method::Post,
        path: "/api/runs/{id}/activate",
        audience: Audience::Api,
        access: Access::Member,
        rate: None,
        handler: handle!(|req, env, cfg, p| view::activate(req, env, cfg, p.run()?).await),
        summary: "Mark myself active or inactive in a run ({active: bool})",
        responses: || vec![(200, success(detail())), (403, failure()), (404, failure())],
        request: Some(|| json!({"type": "object", "required": ["active"], "properties": {"active": {"type": "boolean"}}})),
    },
    Route {
        method: Method::Get,
        path: "/api/runs/{id}/model",
        audience: Audience::Api,
        access: Access::Member,
        rate: None,
        handler: handle!(|req, env, cfg, p| download::model(req, env, cfg, p.run()?, None).await),
        summary: "The current global model: safetensors, or JSON with Accept: application/json",
        responses: || vec![(200, success(tensors())), (403, failure()), (404, failure())],
        request: None,
    },
    Route {
        method: Method::Get,
        path: "/api/runs/{id}/rounds/{round}/model",
        audience: Audience::Api,
        access: Access::Member,
        rate: None,
        handler: handle!(|req, env, cfg, p| {
            let (run, round) = (p.run()?, p.round()?);
            download::model(req, env, cfg, run, Some(round)).await
        }),
        summary: "The global model round {round} started from (safetensors or JSON by Accept)",
        responses: || vec![(200, success(tensors())), (403, failure()), (404, failure())],
        request: None,
    },
    Route {
        method: Method::Put,
        path: "/api/runs/{id}/rounds/{round}/weights",
        audience: Audience::Api,
        access: Access::Member,
        rate: None,
        handler: handle!(|req, env, cfg, p| {
            let (run, round) = (p.run()?, p.round()?);
            upload::put(req, env, cfg, run, round, "weights").await
        }),
        summary: "Upload weights (safetensors with ?num_examples=&loss=&dice=&val_loss=&val_dice=, or JSON); replaces my earlier upload",
        responses: || vec![(200, success(receipt())), (400, failure()), (409, failure()), (413, failure()), (422, failure())],
        request: None,
    },
    Route {
        method: Method::Get,
        path: "/api/runs/{id}/rounds/{round}/secure",
        audience: Audience::Api,
        access: Access::Member,
        rate: None,
        handler: handle!(|req, env, cfg, p| {
            let (run, round) = (p.run()?, p.round()?);
            secure::call(req, env, cfg, run, round, None).await
        }),
        summary: "A secure round as I see it: its phase and deadline, members' keys, senders, survivors, the shares sealed for me",
        responses: || vec![(200, success(secure_round())), (403, failure()), (404, failure()), (409, failure())],
        request: None,
    },
    Route {
        method: Method::Post,
        path: "/api/runs/{id}/rounds/{round}/secure/keys",
        audience: Audience::Api,
        access: Access::Member,
        rate: None,
        handler: handle!(|req, env, cfg, p| {
            let (run, round) = (p.run()?, p.round()?);
            secure::call(req, env, cfg, run, round, Some("keys")).await
        }),
        summary: "Advertise my round keys (X25519 c_pk and s_pk, hex) in a secure round's key phase",
        responses: || vec![(200, success(secure_round())), (400, failure()), (409, failure()), (422, failure())],
        request: Some(|| json!({"type": "object", "required": ["c_pk", "s_pk"], "additionalProperties": false,
            "properties": {"c_pk": hex32(), "s_pk": hex32()}})),
    },
    Route {
        method: Method::Post,
        path: "/api/runs/{id}/rounds/{round}/secure/shares",
        audience: Audience::Api,
        access: Access::Member,
        rate: None,
        handler: handle!(|req, env, cfg, p| {
            let (run, round) = (p.run()?, p.round()?);
            secure::call(req, env, cfg, run, round, Some("shares")).await
        }),
        summary: "Send my sealed shares, one per member (shares phase)",
        responses: || vec![(200, success(secure_round())), (400, failure()), (409, failure()), (422, failure())],
        request: Some(|| json!({"type": "object", "required": ["shares"], "additionalProperties": false,
            "properties": {"shares": {"type": "array", "items": sealed_share()}}})),
    },
    Route {
        method: Method::Put,
        path: "/api/runs/{id}/rounds/{round}/secure/input",
        audience: Audience::Api,
        access: Access::Member,
        rate: None,
        handler: handle!(|req, env, cfg, p| {
            let (run, round) = (p.run()?, p.round()?);
            secure::call(req, env, cfg, run, round, Some("input")).await
        }),
        summary: "Upload my masked input: vector_len little-endian u32 (input phase)",
        responses: || vec![(200, success(secure_round())), (409, failure()), (413, failure()), (422, failure())],
        request: None,
    },
    Route {
        method: Method::Post,
        path: "/api/runs/{id}/rounds/{round}/secure/reveal",
        audience: Audience::Api,
        access: Access::Member,
        rate: None,
        handler: handle!(|req, env, cfg, p| {
            let (run, round) = (p.run()?, p.round()?);
            secure::call(req, env, cfg, run, round, Some("reveal")).await
        }),
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
        method: Method::Put,
        path: "/api/runs/{id}/rounds/{round}/gradients",
        audience: Audience::Api,
        access: Access::Member,
        rate: None,
        handler: handle!(|req, env, cfg, p| {
            let (run, round) = (p.run()?, p.round()?);
            upload::put(req, env, cfg, run, round, "gradients").await
        }),
        summary: "Upload gradients for synchronous distributed SGD (same formats as weights)",
        responses: || vec![(200, success(receipt())), (400, failure()), (409, failure()), (413, failure()), (422, failure())],
        request: None,
    },
    Route {
        method: Method::Get,
        path: "/api/runs/{id}/rounds/{round}/gradients/avg",
        audience: Audience::Api,
        access: Access::Member,
        rate: None,
        handler: handle!(|req, env, cfg, p| {
            let (run, round) = (p.run()?, p.round()?);
            download::gradients_avg(req, env, cfg, run, round).await
        }),
        summary: "Long-poll (?wait_secs=, default 25) until the round's gradients are in, then their average",
        responses: || vec![(200, success(tensors())), (403, failure()), (409, failure())],
        request: None,
    },
];
