//! Seeds 000/001 run routes, thin adapters over `runs`: `GET /dev/user_runs`,
//! `POST /dev/runs_update` (create; `check_Threshold` in minutes), `POST /dev/runs`,
//! `POST /dev/activate`, `POST /dev/weights`, `POST /dev/weightsavg`, `POST /dev/results`,
//! `POST /dev/agggrad`. Callers send `Authorization: <id_token>`; answers are wrapped in
//! `{"statusCode": 200, "body": …}`. These routes have no round numbers: uploads go to the
//! current round, and runs created here average with the unweighted mean.

use meshfed_shared::aggregate::Method;
use meshfed_shared::api::runs::{CreateRunRequest, UploadKind};
use meshfed_shared::api::upload::{
    decode_tensor_json, encode_tensor_json, DecodedUpload, TensorForm,
};
use meshfed_shared::meshnet::ModelConfig;
use meshfed_shared::plan::{PlanRequest, Uploads};
use meshfed_shared::tensor::nested_json::JsonTensors;
use meshfed_shared::ApiError;
use serde::Deserialize;
use serde_json::{json, Value};
use worker::{Env, Request, Response};

use super::immunetworks::failure;
use crate::audit::client_of;
use crate::blobs;
use crate::config::Config;
use crate::error::{EdgeError, EdgeResult};
use crate::http::{parse_json, read_json_body};
use crate::runs::{self, Member};
use crate::store;

/// One of the run routes under `/dev/` (`route` is the path's last segment).
pub async fn handle(
    mut req: Request,
    env: &Env,
    cfg: &Config,
    route: &'static str,
) -> worker::Result<Response> {
    let result = async {
        let user = runs::caller_any_token(&req, env, cfg).await?;
        if route == "user_runs" {
            return user_runs(env).await;
        }
        let bytes = read_json_body(&mut req, cfg.max_upload_bytes).await?;
        let body: Value = parse_json(&bytes)?;
        match route {
            "runs_update" => create(env, &user, body).await,
            "runs" => list(env, &user).await,
            _ => {
                let run_id = run_id(&body)?;
                let member = runs::load_member(env, user, run_id).await?;
                let limit = runs::upload_limit(cfg, &member.run.model()?);
                if bytes.len() > limit {
                    return Err(ApiError::new(
                        meshfed_shared::ErrorCode::PayloadTooLarge,
                        format!("Request body exceeds {limit} bytes"),
                    )
                    .with_details(json!({ "limit_bytes": limit }))
                    .into());
                }
                match route {
                    "activate" => activate(env, member, &body, &client_of(&req)).await,
                    "weights" => upload(env, &member, &body, UploadKind::Weights).await,
                    "results" => upload(env, &member, &body, UploadKind::Gradients).await,
                    "weightsavg" => weights_avg(env, &member).await,
                    _ => agg_grad(env, &member).await,
                }
            }
        }
    }
    .await;
    result.or_else(|e| failure(e, route))
}

fn wrapped(body: Value) -> EdgeResult<Response> {
    Ok(Response::from_json(
        &json!({"statusCode": 200, "body": body}),
    )?)
}

fn invalid(field: &str, reason: &str) -> EdgeError {
    ApiError::invalid_field(field, reason).into()
}

/// `runid` as the documents send it: a number or a numeric string.
fn run_id(body: &Value) -> EdgeResult<i64> {
    let v = &body["runid"];
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        .filter(|&n| n >= 1)
        .ok_or_else(|| invalid("runid", "is required: a run id"))
}

async fn user_runs(env: &Env) -> EdgeResult<Response> {
    let users = store::users::directory(&store::db(env)?).await?;
    wrapped(json!(users
        .into_iter()
        .map(|u| u.email)
        .collect::<Vec<_>>()))
}

#[derive(Deserialize)]
struct RunsUpdate {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Description", default)]
    description: String,
    #[serde(rename = "Users", default)]
    users: Vec<String>,
    /// Minutes each round waits for every participant.
    #[serde(rename = "check_Threshold")]
    check_threshold: f64,
    #[serde(rename = "Classes")]
    classes: usize,
}

async fn create(
    env: &Env,
    user: &crate::store::users::UserRow,
    body: Value,
) -> EdgeResult<Response> {
    let b: RunsUpdate =
        serde_json::from_value(body).map_err(|e| invalid("body", &e.to_string()))?;
    if !(b.check_threshold.is_finite() && b.check_threshold > 0.0) {
        return Err(invalid(
            "check_Threshold",
            "must be a positive number of minutes",
        ));
    }
    let request = CreateRunRequest {
        name: b.name,
        description: b.description,
        participants: b.users,
        round_timeout_secs: (b.check_threshold * 60.0).round().max(1.0) as u64,
        classes: Some(b.classes),
        aggregation: Method::Mean,
        // The seed's document mixes weights and gradients rounds in one run.
        plan: Some(PlanRequest {
            uploads: Some(Uploads::FirstUpload),
            ..Default::default()
        }),
        ..Default::default()
    };
    let run_id = runs::create_run(env, user, &request).await?;
    wrapped(json!({"runid": run_id, "message": "Run created"}))
}

async fn list(env: &Env, user: &crate::store::users::UserRow) -> EdgeResult<Response> {
    let mut out = serde_json::Map::new();
    for (summary, participants) in runs::summaries(env, user).await? {
        let s = summary.run;
        out.insert(
            s.id.to_string(),
            json!({"description": s.description, "name": s.name, "classes": s.classes,
                   "users": participants.iter().map(|p| p.email.clone()).collect::<Vec<_>>()}),
        );
    }
    wrapped(Value::Object(out))
}

async fn activate(env: &Env, member: Member, body: &Value, client: &str) -> EdgeResult<Response> {
    let active = match &body["activate"] {
        Value::Bool(b) => *b,
        v => match v
            .as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        {
            Some(1) => true,
            Some(0) => false,
            _ => return Err(invalid("activate", "must be 1 or 0")),
        },
    };
    let run_id = member.run.id;
    runs::set_activity(env, member.user, run_id, active, client).await?;
    wrapped(json!({"runid": run_id, "activate": active as i32}))
}

async fn upload(
    env: &Env,
    member: &Member,
    body: &Value,
    kind: UploadKind,
) -> EdgeResult<Response> {
    let model = member.run.model()?;
    let decoded: DecodedUpload = match kind {
        UploadKind::Weights => {
            let weights: JsonTensors =
                serde_json::from_value(body["weights"].clone()).map_err(|e| {
                    ApiError::new(
                        meshfed_shared::ErrorCode::UnprocessableEntity,
                        e.to_string(),
                    )
                })?;
            let values = model
                .flatten_named(&weights.0)
                .map_err(|e| ApiError::from(meshfed_shared::api::upload::UploadError::from(e)))?;
            DecodedUpload {
                values,
                num_examples: None,
                loss: None,
                dice: None,
                val_loss: None,
                val_dice: None,
                form: TensorForm::Named,
            }
        }
        UploadKind::Gradients => {
            let text = body["gradients"]
                .as_str()
                .ok_or_else(|| invalid("gradients", "must be a JSON string of gradients"))?;
            decode_tensor_json(text.as_bytes(), &model).map_err(ApiError::from)?
        }
    };
    let db = store::db(env)?;
    let round = store::rounds::open_round(&db, member.run.id)
        .await?
        .map_or(0, |r| r.round as u32);
    let receipt = runs::accept(env, member, round, kind, decoded).await?;
    wrapped(json!({
        "message": format!("{} uploaded", kind.as_str()),
        "runid": member.run.id,
        "round": receipt.round,
        "closed": receipt.closed,
    }))
}

async fn weights_avg(env: &Env, member: &Member) -> EdgeResult<Response> {
    let db = store::db(env)?;
    let open = store::rounds::open_round(&db, member.run.id)
        .await?
        .ok_or_else(|| EdgeError::Internal("run has no open round".into()))?;
    let model = member.run.model()?;
    let values = blobs::get_values(env, &open.model_key, &model).await?;
    wrapped(serde_json::to_value(JsonTensors(model.unflatten(&values)))?)
}

/// The latest completed gradients average as a JSON string in the form it was uploaded. A
/// caller who has uploaded to the open gradients round waits for that round to close.
async fn agg_grad(env: &Env, member: &Member) -> EdgeResult<Response> {
    let db = store::db(env)?;
    let run_id = member.run.id;
    if let Some(open) = store::rounds::open_round(&db, run_id).await? {
        let mine = store::rounds::uploads(&db, run_id, open.round as u32)
            .await?
            .iter()
            .any(|u| u.user_id == member.user.id && u.kind == "gradients");
        if mine {
            let wait = runs::DEFAULT_WAIT_SECS as i64 * 1000;
            if runs::wait_for_round(env, run_id, open.round as u32, wait)
                .await?
                .is_none()
            {
                return Err(ApiError::new(
                    meshfed_shared::ErrorCode::Conflict,
                    format!(
                        "Round {} is still waiting for the other participants' gradients",
                        open.round
                    ),
                )
                .into());
            }
        }
    }
    let model: ModelConfig = member.run.model()?;
    let (row, values) = runs::latest_gradients(env, run_id, &model)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Averaged gradients of run {run_id}")))?;
    wrapped(Value::String(encode_tensor_json(
        &values,
        &model,
        row.form(),
    )))
}
