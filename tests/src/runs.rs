//! Helpers for the federated-run tests: participants with tokens, runs, uploads as
//! safetensors, and the float64 reference aggregate to compare the Worker's answer with.

use std::collections::BTreeMap;

use meshfed_shared::meshnet::ModelConfig;
use meshfed_shared::tensor::{safetensors, DType};
use serde_json::{json, Value};

use crate::identity::{unique_user, user_with_mfa_as, MfaUser};
use crate::Ctx;

/// `n` confirmed users with MFA and tokens, created concurrently.
pub async fn participants(ctx: &Ctx, prefix: &str, n: usize) -> Vec<MfaUser> {
    let futures = (0..n).map(|i| {
        let (username, email) = unique_user(&format!("{prefix}{i}"));
        user_with_mfa_as(ctx, username, email)
    });
    futures_util::future::join_all(futures).await
}

pub fn token(u: &MfaUser) -> String {
    u.tokens["access_token"]
        .as_str()
        .expect("access token")
        .to_string()
}

pub fn id_token(u: &MfaUser) -> String {
    u.tokens["id_token"].as_str().expect("id token").to_string()
}

/// Creates a run as `creator` with the others as participants; returns its id. Unless
/// `extra` names a model (`model`, `classes` or `preset`), the run trains brainchop's plain
/// model5 (5,598 parameters), which the round tests upload: a run given no model at all
/// would train the lab's recipe, model5 with BatchNorm.
pub async fn create_run(ctx: &Ctx, creator: &MfaUser, others: &[&MfaUser], extra: Value) -> i64 {
    let mut body = json!({
        "name": "e2e run", "description": "three rounds", "classes": 3,
        "participants": others.iter().map(|u| u.email.clone()).collect::<Vec<_>>(),
    });
    if extra.get("model").is_some() || extra.get("preset").is_some() {
        body.as_object_mut().map(|b| b.remove("classes"));
    }
    for (k, v) in extra.as_object().into_iter().flatten() {
        body[k] = v.clone();
    }
    let (status, resp) = send(
        ctx,
        reqwest::Method::POST,
        "/api/runs",
        &token(creator),
        Some(body),
    )
    .await;
    assert_eq!(status, 201, "{resp}");
    resp["data"]["id"].as_i64().unwrap()
}

pub async fn send(
    ctx: &Ctx,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut call = ctx.call(method, path).bearer(token);
    if let Some(b) = body {
        call = call.json(&b);
    }
    call.send().await.status_json()
}

/// Deterministic values for participant `seed`.
pub fn values(seed: u64, n: usize) -> Vec<f32> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
        })
        .collect()
}

pub fn safetensors_of(model: &ModelConfig, values: &[f32]) -> Vec<u8> {
    safetensors::write(&model.unflatten(values), DType::F32, &BTreeMap::new())
}

/// PUTs weights (or gradients) as safetensors with `num_examples` in the query.
pub async fn put_tensors(
    ctx: &Ctx,
    token: &str,
    run: i64,
    round: u32,
    kind: &str,
    body: Vec<u8>,
    num_examples: u64,
) -> (u16, Value) {
    try_put_tensors(ctx, token, run, round, kind, body, num_examples)
        .await
        .unwrap()
}

/// [`put_tensors`], or the transport error when no answer came (the server went away).
pub async fn try_put_tensors(
    ctx: &Ctx,
    token: &str,
    run: i64,
    round: u32,
    kind: &str,
    body: Vec<u8>,
    num_examples: u64,
) -> Result<(u16, Value), reqwest::Error> {
    let resp = ctx
        .put(&format!(
            "/api/runs/{run}/rounds/{round}/{kind}?num_examples={num_examples}&loss=0.5&dice=0.25"
        ))
        .bearer(token)
        .header("content-type", "application/octet-stream")
        .body(body)
        .try_send()
        .await?;
    Ok(resp.status_json())
}

/// Downloads a model (or averaged gradients) as safetensors and returns its flat values.
pub async fn download(ctx: &Ctx, token: &str, path: &str, model: &ModelConfig) -> Vec<f32> {
    let resp = ctx.get(path).bearer(token).send().await;
    assert_eq!(resp.status, 200, "{path}");
    assert_eq!(resp.headers["content-type"], "application/octet-stream");
    let file = safetensors::read(&resp.bytes).expect("a safetensors answer");
    model.flatten_named(&file.tensors).expect("the run's model")
}

/// The run's current global model (`GET /api/runs/{run}/model`) as flat values.
pub async fn current_model(ctx: &Ctx, token: &str, run: i64, model: &ModelConfig) -> Vec<f32> {
    download(ctx, token, &format!("/api/runs/{run}/model"), model).await
}

/// Σ wᵢ·xᵢ / Σ wᵢ in float64, rounded once to f32.
pub fn reference(uploads: &[(Vec<f32>, f64)]) -> Vec<f32> {
    let total: f64 = uploads.iter().map(|u| u.1).sum();
    (0..uploads[0].0.len())
        .map(|i| (uploads.iter().map(|(v, w)| w * v[i] as f64).sum::<f64>() / total) as f32)
        .collect()
}

/// Asserts `got` equals `expect` to within 1e-6 relative (f32 rounding of an f64 mean).
pub fn assert_close(got: &[f32], expect: &[f32]) {
    assert_eq!(got.len(), expect.len());
    for (i, (g, e)) in got.iter().zip(expect).enumerate() {
        let rel = ((g - e) / e.abs().max(1e-20)).abs();
        assert!(rel <= 1e-6, "value {i}: {g} vs {e}");
    }
}

/// GET /api/runs/{id} as `token`.
pub async fn run_detail(ctx: &Ctx, token: &str, run: i64) -> Value {
    let (status, body) = send(
        ctx,
        reqwest::Method::GET,
        &format!("/api/runs/{run}"),
        token,
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["data"].clone()
}

/// PUTs `values` as model5 weights (safetensors) for `user`.
pub async fn put_weights(
    ctx: &Ctx,
    user: &MfaUser,
    run: i64,
    round: u32,
    values: &[f32],
    num_examples: u64,
) -> (u16, Value) {
    let body = safetensors_of(&ModelConfig::model5(3), values);
    put_tensors(ctx, &token(user), run, round, "weights", body, num_examples).await
}
