//! `PUT /api/runs/{id}/rounds/{r}/weights|gradients`: safetensors (native; metrics in the
//! query or the file's `__metadata__`) or JSON. The Worker decodes and checks the upload
//! against the run's model, stores it in R2, then hands it to the run's Durable Object, which
//! counts it (or answers 409 when the round is not open).

use std::collections::BTreeMap;

use meshfed_shared::aggregate::Method;
use meshfed_shared::api::runs::{round_conflict, UploadKind, UploadReceipt};
use meshfed_shared::api::upload::{
    decode_json, decode_safetensors, DecodedUpload, MetricFields, UploadError,
};
use meshfed_shared::meshnet::ModelConfig;
use meshfed_shared::{ApiError, ErrorCode};
use worker::{Env, Request, Response};

use super::access::{self, Member};
use crate::blobs;
use crate::config::Config;
use crate::error::{EdgeError, EdgeResult};
use crate::http::{json_ok, read_body};
use crate::run_object::{self, CommitMeta};
use crate::store;

/// The largest upload one request may carry: the configured limit, and never more than
/// [`model_limit`] (larger uploads go in parts: `runs::parts`).
pub fn upload_limit(cfg: &Config, model: &ModelConfig) -> usize {
    cfg.max_upload_bytes.min(model_limit(model))
}

pub async fn put(
    mut req: Request,
    env: &Env,
    cfg: &Config,
    run_id: i64,
    round: u32,
    kind: &str,
) -> EdgeResult<Response> {
    let kind = UploadKind::parse(kind).unwrap_or(UploadKind::Weights);
    let user = access::caller_any_token(&req, env, cfg).await?;
    let member = access::load_member(env, user, run_id).await?;
    let model = member.run.model()?;
    let body = read_body(&mut req, upload_limit(cfg, &model)).await?;
    let content_type = req.headers().get("content-type")?.unwrap_or_default();
    let decoded = decode(&body, content_type.contains("json"), &model, &req.url()?)?;
    drop(body);
    let receipt = accept(env, &member, round, kind, decoded).await?;
    json_ok(&receipt, "Upload accepted", 200)
}

/// The largest upload a run's model allows whatever the requests: 64 bytes a parameter
/// (pretty-printed JSON) plus 64 KiB of names and headers.
pub fn model_limit(model: &ModelConfig) -> usize {
    64 * 1024 + model.parameter_count().saturating_mul(64)
}

/// An upload's bytes as values and metrics: JSON (metrics inside), or safetensors with the
/// metrics of `url`'s query (or the file's `__metadata__`).
pub fn decode(
    body: &[u8],
    json: bool,
    model: &ModelConfig,
    url: &worker::Url,
) -> EdgeResult<DecodedUpload> {
    if json {
        return Ok(decode_json(body, model).map_err(ApiError::from)?);
    }
    let q = |k: &str| {
        url.query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.to_string())
    };
    let fields = MetricFields {
        num_examples: q("num_examples"),
        loss: q("loss"),
        dice: q("dice"),
        val_loss: q("val_loss"),
        val_dice: q("val_dice"),
    };
    Ok(decode_safetensors(body, model, &fields).map_err(ApiError::from)?)
}

/// Refuses an upload (or one in parts) that cannot count: a secure run takes only masked
/// inputs, and a closed or future round none (a cheap early answer: the run's object decides
/// for sure).
pub async fn open_to_plain_uploads(env: &Env, member: &Member, round: u32) -> EdgeResult<()> {
    if member.run.is_secure() {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "This run aggregates securely: the server takes only masked inputs \
             (PUT /api/runs/{id}/rounds/{round}/secure/input, after the key and share phases)",
        )
        .into());
    }
    let db = store::db(env)?;
    let current = store::rounds::open_round(&db, member.run.id)
        .await?
        .map_or(0, |r| r.round as u32);
    if round != current {
        return Err(round_conflict(round, current).into());
    }
    Ok(())
}

/// Stores a decoded upload and has the run's object count it.
pub async fn accept(
    env: &Env,
    member: &Member,
    round: u32,
    kind: UploadKind,
    decoded: DecodedUpload,
) -> EdgeResult<UploadReceipt> {
    let run_id = member.run.id;
    crate::rate_limit::limit_user(env, "upload", &member.user.id).await?;
    if kind == UploadKind::Weights {
        member
            .run
            .model()?
            .check_statistics(&decoded.values)
            .map_err(|e| ApiError::from(UploadError::from(e)))?;
    }
    if member.me().is_some_and(|p| p.active == 0) {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!("You are inactive in run {run_id}; activate yourself to upload"),
        )
        .into());
    }
    if member.run.method() == Method::Fedavg {
        match decoded.num_examples {
            None => {
                return Err(ApiError::invalid_field(
                    "num_examples",
                    "is required: fedavg weights each upload by its number of examples",
                )
                .into())
            }
            Some(0) => {
                return Err(ApiError::invalid_field("num_examples", "must be at least 1").into())
            }
            Some(_) => {}
        }
    }
    open_to_plain_uploads(env, member, round).await?;
    let db = store::db(env)?;
    let plan = store::plans::of_round(&db, run_id, round).await?;
    if let Some(why) = plan.plan.uploads.refusal(kind) {
        return Err(ApiError::new(ErrorCode::Conflict, why)
            .with_details(serde_json::json!({"current_round": round, "kind": kind.as_str()}))
            .into());
    }
    if let Some(dp) = &plan.plan.dp {
        dp.admits(round).map_err(|why| {
            ApiError::new(ErrorCode::Conflict, why).with_details(serde_json::json!({
                "current_round": round,
                "privacy": dp.spent(round.saturating_sub(1)),
            }))
        })?;
    }
    let model = member.run.model()?;
    let metrics = decoded.metrics();
    let metadata = BTreeMap::from([
        ("num_examples".to_string(), metrics.num_examples.to_string()),
        ("user_id".to_string(), member.user.id.clone()),
    ]);
    let encoded = blobs::encode(&model, &decoded.values, metadata);
    let form = decoded.form;
    drop(decoded); // the values live on in `encoded`: hold one copy while the object counts
    let unique = format!("{}-{}", &encoded.sha256[..12], crate::random::id()?);
    let key = blobs::upload_key(run_id, round, kind, &member.user.id, &unique);
    let bytes = encoded.bytes.len() as u64;
    blobs::put(env, &key, encoded.bytes.clone()).await?;
    let meta = CommitMeta {
        user_id: member.user.id.clone(),
        round,
        kind,
        r2_key: key.clone(),
        bytes,
        sha256: encoded.sha256,
        num_examples: metrics.num_examples,
        loss: metrics.loss,
        dice: metrics.dice,
        val_loss: metrics.val_loss,
        val_dice: metrics.val_dice,
        form,
    };
    let receipt = run_object::commit(env, run_id, &meta, encoded.bytes).await;
    if matches!(&receipt, Err(EdgeError::Api(e)) if e.code == ErrorCode::Conflict) {
        // The round closed meanwhile: this blob counts nowhere (its key is this attempt's).
        let _ = blobs::delete(env, &key).await;
    }
    receipt
}
