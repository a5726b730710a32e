//! Federated runs: creation, membership, rounds, uploads and downloads.

use serde_json::json;
use worker::Method;

use super::{handle, Access, Audience, Route};
use meshfed_shared::api::runs::{
    ActivateRequest, CreateRunRequest, RevealRequest, RunDetail, RunSummary, SecureRound,
    SharesRequest, UpdateRunRequest, UploadReceipt,
};
use meshfed_shared::secagg::identity::SignedKeys;

use crate::openapi::run_schemas::tensors;
use crate::openapi::{dto, failure, success};
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
        responses: || vec![(200, success(json!({"type": "array", "items": dto::<RunSummary>()}))), (401, failure())],
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
        responses: || vec![(201, success(dto::<RunDetail>())), (400, failure()), (401, failure()), (422, failure())],
        request: Some(dto::<CreateRunRequest>),
    },
    Route {
        method: Method::Get,
        path: "/api/runs/{id}",
        audience: Audience::Api,
        access: Access::Member,
        rate: None,
        handler: handle!(|req, env, cfg, p| view::detail(req, env, cfg, p.run()?).await),
        summary: "A run: participants, the current round and its state, per-round history",
        responses: || vec![(200, success(dto::<RunDetail>())), (403, failure()), (404, failure())],
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
        responses: || vec![(200, success(dto::<RunDetail>())), (400, failure()), (403, failure()), (422, failure())],
        request: Some(dto::<UpdateRunRequest>),
    },
    Route {
        method: Method::Post,
        path: "/api/runs/{id}/activate",
        audience: Audience::Api,
        access: Access::Member,
        rate: None,
        handler: handle!(|req, env, cfg, p| view::activate(req, env, cfg, p.run()?).await),
        summary: "Mark myself active or inactive in a run ({active: bool})",
        responses: || vec![(200, success(dto::<RunDetail>())), (403, failure()), (404, failure())],
        request: Some(dto::<ActivateRequest>),
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
        responses: || vec![(200, success(dto::<UploadReceipt>())), (400, failure()), (409, failure()), (413, failure()), (422, failure())],
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
        responses: || vec![(200, success(dto::<SecureRound>())), (403, failure()), (404, failure()), (409, failure())],
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
        summary: "Advertise my round keys (X25519 c_pk and s_pk, hex) in a secure round's key phase, signed with my recovery phrase's Ed25519 key",
        responses: || vec![(200, success(dto::<SecureRound>())), (400, failure()), (409, failure()), (422, failure())],
        request: Some(dto::<SignedKeys>),
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
        responses: || vec![(200, success(dto::<SecureRound>())), (400, failure()), (409, failure()), (422, failure())],
        request: Some(dto::<SharesRequest>),
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
        responses: || vec![(200, success(dto::<SecureRound>())), (409, failure()), (413, failure()), (422, failure())],
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
        responses: || vec![(200, success(dto::<SecureRound>())), (400, failure()), (409, failure()), (422, failure())],
        request: Some(dto::<RevealRequest>),
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
        responses: || vec![(200, success(dto::<UploadReceipt>())), (400, failure()), (409, failure()), (413, failure()), (422, failure())],
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
