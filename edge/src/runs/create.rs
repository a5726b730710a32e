//! `POST /api/runs`: a run with its participants, its model and round 1, whose global model
//! is the given initial weights or a seeded MeshNet. Everything is checked before anything
//! is written; a failure half-way removes what was written.

use base64::Engine;
use meshfed_shared::api::runs::CreateRunRequest;
use meshfed_shared::api::upload::{decode_safetensors, MetricFields, UploadError};
use meshfed_shared::meshnet::initial_weights;
use meshfed_shared::ApiError;
use worker::{Env, Request, Response};

use super::{access, view};
use crate::audit;
use crate::blobs;
use crate::config::Config;
use crate::error::EdgeResult;
use crate::http::{json_ok, now_ms, read_json};
use crate::run_object;
use crate::store::{self, users::UserRow};

pub async fn post(mut req: Request, env: &Env, cfg: &Config) -> EdgeResult<Response> {
    let user = access::caller_any_token(&req, env, cfg).await?;
    let body: CreateRunRequest = read_json(&mut req, cfg.max_upload_bytes).await?;
    let run_id = create_run(env, &user, &body).await?;
    audit::record(
        env,
        Some(&user.id),
        "run_created",
        &audit::client_of(&req),
        Some(&format!("run {run_id}")),
    )
    .await?;
    let member = access::load_member(env, user, run_id).await?;
    json_ok(&view::detail_of(env, &member).await?, "Run created", 201)
}

/// Creates the run and returns its id.
pub async fn create_run(env: &Env, creator: &UserRow, body: &CreateRunRequest) -> EdgeResult<i64> {
    crate::rate_limit::limit_user(env, "run-create", &creator.id).await?;
    let v = body.validate()?;
    let db = store::db(env)?;
    let found = store::users::users_by_email(&db, &v.participants).await?;
    let unknown: Vec<&String> = v
        .participants
        .iter()
        .filter(|e| !found.iter().any(|(_, f)| f == *e))
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::invalid_field(
            "participants",
            "every participant must be a confirmed user",
        )
        .with_details(serde_json::json!({"field": "participants", "unknown": unknown}))
        .into());
    }
    let mut user_ids = vec![creator.id.clone()];
    for (id, _) in found {
        if !user_ids.contains(&id) {
            user_ids.push(id);
        }
    }
    if let Some(k) = v.min_contributors {
        meshfed_shared::api::runs::check_min_contributors(k, user_ids.len())?;
    }
    if v.min_participants
        .is_some_and(|k| k as usize > user_ids.len())
    {
        return Err(ApiError::invalid_field(
            "min_participants",
            format!("cannot exceed the {} participants", user_ids.len()),
        )
        .into());
    }
    let preset = body
        .preset
        .as_deref()
        .and_then(meshfed_shared::meshnet::brainchop::Preset::find);
    let given: Option<Vec<f32>> = if let Some(p) = preset {
        let (_, values) = p
            .load()
            .map_err(|e| crate::error::EdgeError::Internal(format!("preset {}: {e}", p.name)))?;
        Some(values)
    } else if let Some(tensors) = &body.initial_weights {
        Some(
            v.model
                .flatten_named(&tensors.0)
                .map_err(UploadError::from)
                .map_err(ApiError::from)?,
        )
    } else if let Some(b64) = &body.initial_weights_safetensors {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|_| ApiError::invalid_field("initial_weights_safetensors", "is not base64"))?;
        let decoded = decode_safetensors(&bytes, &v.model, &MetricFields::default())
            .map_err(ApiError::from)?;
        Some(decoded.values)
    } else {
        None
    };

    let now = now_ms();
    let run_id = store::runs::insert_run(&db, &v, &creator.id, now).await?;
    let values = given.unwrap_or_else(|| initial_weights(&v.model, run_id as u64));
    let key = blobs::initial_model_key(run_id);
    let meta = [
        ("run_id".to_string(), run_id.to_string()),
        ("round".to_string(), "0".to_string()),
    ];
    let encoded = blobs::encode(&v.model, &values, meta.into_iter().collect());
    let deadline = now + v.round_timeout_secs as i64 * 1000;
    let written = async {
        blobs::put(env, &key, encoded.bytes).await?;
        store::runs::add_participants_and_first_round(
            &db, run_id, &user_ids, now, deadline, &key, &v.plan,
        )
        .await
    }
    .await;
    if let Err(e) = written {
        let _ = store::runs::delete_run(&db, run_id).await;
        return Err(e);
    }
    // Arms the first round's deadline alarm; an upload would arm it too.
    if let Err(e) = run_object::poke(env, run_id).await {
        worker::console_error!("run {run_id}: could not arm the first deadline: {e}");
    }
    Ok(run_id)
}
