//! Downloads: a round's global model (`GET /api/runs/{id}/model`, `/rounds/{r}/model`) and a
//! gradients round's average (`GET /api/runs/{id}/rounds/{r}/gradients/avg`, which long-polls
//! until the round closes or its deadline passes). Safetensors unless `Accept` asks for JSON.

use meshfed_shared::api::runs::UploadKind;
use meshfed_shared::meshnet::ModelConfig;
use meshfed_shared::tensor::nested_json::JsonTensors;
use meshfed_shared::{ApiError, ErrorCode};
use worker::{Delay, Env, Request, Response};

use super::access;
use crate::blobs;
use crate::config::Config;
use crate::error::{EdgeError, EdgeResult};
use crate::http::{json_ok, now_ms};
use crate::store::{self, rounds::RoundRow};

/// How long past a deadline the alarm gets to close the round before a long poll gives up.
const DEADLINE_GRACE_MS: i64 = 3_000;
const POLL_MS: u64 = 200;
pub const DEFAULT_WAIT_SECS: u64 = 25;
const MAX_WAIT_SECS: u64 = 120;

fn wants_json(req: &Request) -> bool {
    req.headers()
        .get("accept")
        .ok()
        .flatten()
        .is_some_and(|a| a.contains("application/json"))
}

async fn answer(
    req: &Request,
    env: &Env,
    model: &ModelConfig,
    run_id: i64,
    round: u32,
    key: &str,
) -> EdgeResult<Response> {
    if wants_json(req) {
        let values = blobs::get_values(env, key, model).await?;
        let data = serde_json::json!({
            "run_id": run_id,
            "round": round,
            "tensors": JsonTensors(model.unflatten(&values)),
        });
        return json_ok(&data, "Tensors", 200);
    }
    let bytes = blobs::get(env, key).await?;
    let mut resp = Response::from_bytes(bytes)?;
    let h = resp.headers_mut();
    h.set("content-type", "application/octet-stream")?;
    h.set("x-meshfed-round", &round.to_string())?;
    h.set(
        "content-disposition",
        &format!("attachment; filename=\"run{run_id}-round{round}.safetensors\""),
    )?;
    Ok(resp)
}

pub async fn model(
    req: Request,
    env: &Env,
    cfg: &Config,
    run_id: i64,
    round: Option<u32>,
) -> EdgeResult<Response> {
    let user = access::caller_any_token(&req, env, cfg).await?;
    let member = access::load_member(env, user, run_id).await?;
    let db = store::db(env)?;
    let row = match round {
        None => store::rounds::open_round(&db, run_id).await?,
        Some(r) => store::rounds::round(&db, run_id, r).await?,
    }
    .ok_or_else(|| ApiError::not_found(format!("Round {} of run {run_id}", round.unwrap_or(0))))?;
    answer(
        &req,
        env,
        &member.run.model()?,
        run_id,
        row.round as u32,
        &row.model_key,
    )
    .await
}

/// Waits until round `r` of the run closes, up to its deadline (plus a grace for the alarm)
/// or `max_wait_ms`. `Ok(Some(row))` when closed, `Ok(None)` when it is still open.
pub async fn wait_for_round(
    env: &Env,
    run_id: i64,
    r: u32,
    max_wait_ms: i64,
) -> EdgeResult<Option<RoundRow>> {
    let db = store::db(env)?;
    let give_up = now_ms() + max_wait_ms;
    loop {
        let row = store::rounds::round(&db, run_id, r).await?.ok_or_else(|| {
            ApiError::new(
                ErrorCode::Conflict,
                format!("Round {r} of run {run_id} has not opened"),
            )
        })?;
        if row.closed_at.is_some() {
            return Ok(Some(row));
        }
        let now = now_ms();
        if now > row.deadline_at + DEADLINE_GRACE_MS || now >= give_up {
            return Ok(None);
        }
        Delay::from(std::time::Duration::from_millis(POLL_MS)).await;
    }
}

pub async fn gradients_avg(
    req: Request,
    env: &Env,
    cfg: &Config,
    run_id: i64,
    r: u32,
) -> EdgeResult<Response> {
    let user = access::caller_any_token(&req, env, cfg).await?;
    let member = access::load_member(env, user, run_id).await?;
    let url = req.url()?;
    let wait = url
        .query_pairs()
        .find(|(k, _)| k == "wait_secs")
        .and_then(|(_, v)| v.parse::<u64>().ok())
        .unwrap_or(DEFAULT_WAIT_SECS)
        .min(MAX_WAIT_SECS);
    let Some(row) = wait_for_round(env, run_id, r, wait as i64 * 1000).await? else {
        let db = store::db(env)?;
        let uploads = store::rounds::uploads(&db, run_id, r).await?.len();
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!("Round {r} is still waiting for gradients ({uploads} uploaded); try again"),
        )
        .with_details(serde_json::json!({"state": "waiting", "round": r, "uploads": uploads}))
        .into());
    };
    if row.kind() != Some(UploadKind::Gradients) {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!("Round {r} collected weights, not gradients"),
        )
        .into());
    }
    let key = row
        .aggregate_key
        .ok_or_else(|| EdgeError::Internal(format!("closed round {r} has no aggregate")))?;
    answer(&req, env, &member.run.model()?, run_id, r, &key).await
}

/// The latest closed gradients round and its average, if any.
pub async fn latest_gradients(
    env: &Env,
    run_id: i64,
    model: &ModelConfig,
) -> EdgeResult<Option<(RoundRow, Vec<f32>)>> {
    let db = store::db(env)?;
    let Some(row) = store::rounds::latest_closed(&db, run_id, UploadKind::Gradients).await? else {
        return Ok(None);
    };
    let key = row.aggregate_key.clone().unwrap_or_default();
    let values = blobs::get_values(env, &key, model).await?;
    Ok(Some((row, values)))
}
