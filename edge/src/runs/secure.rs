//! `/api/runs/{id}/rounds/{round}/secure…`: a participant's side of a securely aggregated
//! round (see [`meshfed_shared::secagg`]). The Worker authenticates and parses; the run's
//! object decides, under its lock, what each call may do in the round's phase.

use meshfed_shared::api::runs::{KeysRequest, RevealRequest, SharesRequest};
use meshfed_shared::secagg::vector;
use meshfed_shared::{ApiError, ErrorCode};
use worker::{Env, Request, Response};

use super::access;
use crate::config::Config;
use crate::error::EdgeResult;
use crate::http::{json_ok, read_body, read_json};
use crate::run_object;

/// One secure call: `op` is the last path segment (`None`: the round's view).
pub async fn call(
    mut req: Request,
    env: &Env,
    cfg: &Config,
    run_id: i64,
    round: u32,
    op: Option<&str>,
) -> EdgeResult<Response> {
    let user = access::caller_any_token(&req, env, cfg).await?;
    let member = access::load_member(env, user, run_id).await?;
    if !member.run.is_secure() {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "This run does not aggregate securely: upload weights or gradients",
        )
        .into());
    }
    let (name, body) = match op {
        None => ("view", vec![]),
        Some("keys") => {
            let keys: KeysRequest = read_json(&mut req, cfg.max_body_bytes).await?;
            keys.keys.check().map_err(|e| {
                ApiError::new(ErrorCode::UnprocessableEntity, format!("Invalid keys: {e}"))
            })?;
            ("keys", serde_json::to_vec(&keys)?)
        }
        Some("shares") => {
            let shares: SharesRequest = read_json(&mut req, cfg.max_body_bytes).await?;
            ("shares", serde_json::to_vec(&shares)?)
        }
        Some("reveal") => {
            let reveals: RevealRequest = read_json(&mut req, cfg.max_body_bytes).await?;
            ("reveal", serde_json::to_vec(&reveals)?)
        }
        Some(_) => {
            let model = member.run.model()?;
            let len = vector::len(model.parameter_count(), model.classes);
            ("input", read_body(&mut req, len * 4).await?)
        }
    };
    let view = run_object::secure(env, run_id, &member.user.id, round, name, body).await?;
    json_ok(&view, "Secure round", 200)
}
