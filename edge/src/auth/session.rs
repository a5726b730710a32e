//! Refresh (rotation; a reused token revokes its family), logout (revokes the family and
//! denies the access token until it expires), logout-all, `me`, and the JWKS.

use meshfed_shared::auth::{codes, jwt};
use meshfed_shared::secret::Secret;
use meshfed_shared::{ApiError, ErrorCode};
use serde::Deserialize;
use serde_json::json;
use worker::{Env, Request, Response};

use super::{guard, keys, tokens};
use crate::audit::{self, client_of};
use crate::config::Config;
use crate::error::EdgeResult;
use crate::http::{json_ok, now_ms, read_json};
use crate::store::{self, users};

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct RefreshRequest {
    #[serde(default)]
    pub refresh_token: Option<Secret>,
}

pub async fn refresh(mut req: Request, env: &Env, cfg: &Config) -> EdgeResult<Response> {
    let body: RefreshRequest = read_json(&mut req, cfg.max_body_bytes).await?;
    let token = body
        .refresh_token
        .ok_or_else(|| ApiError::invalid_field("refresh_token", "required"))?;
    let set = rotate(env, cfg, token.expose(), &client_of(&req)).await?;
    json_ok(&set, "Token refreshed successfully", 200)
}

/// Exchanges a refresh token for a new token set; shared with the seed routes.
pub async fn rotate(
    env: &Env,
    cfg: &Config,
    token: &str,
    client: &str,
) -> EdgeResult<meshfed_shared::api::auth::TokenSet> {
    let db = store::db(env)?;
    let hash = codes::digest_hex(token.trim());
    let now = now_ms();
    let row = store::tokens::find_refresh(&db, &hash).await?;
    let invalid = |m: &str| ApiError::new(ErrorCode::TokenInvalid, m.to_string());
    let row = row.ok_or_else(|| invalid("Invalid refresh token"))?;
    if row.revoked_at.is_some() {
        return Err(invalid("Refresh token has been revoked").into());
    }
    if row.rotated_at.is_some() {
        revoke_family(env, &row.family_id, now).await?;
        audit::record(env, Some(&row.user_id), "refresh_token_reuse", client, None).await?;
        return Err(invalid(
            "Refresh token was already used: every session of this sign-in is revoked",
        )
        .into());
    }
    if row.expires_at <= now {
        return Err(ApiError::new(ErrorCode::TokenExpired, "Refresh token has expired").into());
    }
    if !store::tokens::mark_rotated(&db, &hash, now).await? {
        revoke_family(env, &row.family_id, now).await?;
        return Err(invalid("Refresh token was already used").into());
    }
    let user = users::find_by_id(&db, &row.user_id)
        .await?
        .ok_or_else(|| invalid("Invalid refresh token"))?;
    if user.disabled != 0 {
        return Err(ApiError::from_code(ErrorCode::AccountDisabled).into());
    }
    let keys = keys::load(env, cfg).await?;
    tokens::issue(env, &keys, &user, Some(&row.family_id)).await
}

async fn revoke_family(env: &Env, family: &str, now: i64) -> EdgeResult<()> {
    store::tokens::revoke_family(&store::db(env)?, family, now).await
}

pub async fn logout(mut req: Request, env: &Env, cfg: &Config) -> EdgeResult<Response> {
    let keys = keys::load(env, cfg).await?;
    let caller = guard::require(&req, env, &keys).await?;
    let body: RefreshRequest = read_json(&mut req, cfg.max_body_bytes)
        .await
        .unwrap_or_default();
    let db = store::db(env)?;
    let now = now_ms();
    // The caller's own sign-in session ends with it, refresh token given or not: its id
    // token and every other token it issued are refused from now on.
    let token_hash = body
        .refresh_token
        .map(|t| codes::digest_hex(t.expose().trim()));
    let sid = caller.claims.sid.as_deref();
    let user_id = caller.user.id.as_str();
    store::tokens::revoke_own_family(&db, user_id, sid, token_hash.as_deref(), now).await?;
    store::tokens::deny(&db, &caller.claims.jti, caller.claims.exp * 1000).await?;
    audit::record(env, Some(&caller.user.id), "logout", &client_of(&req), None).await?;
    json_ok(&json!({}), "Logout successful", 200)
}

/// Revokes every refresh token of the user and every token issued until now.
pub async fn logout_all(req: Request, env: &Env, cfg: &Config) -> EdgeResult<Response> {
    let keys = keys::load(env, cfg).await?;
    let caller = guard::require(&req, env, &keys).await?;
    revoke_all_sessions(env, &caller.user.id).await?;
    audit::record(
        env,
        Some(&caller.user.id),
        "logout_all",
        &client_of(&req),
        None,
    )
    .await?;
    json_ok(&json!({}), "Logged out of every session", 200)
}

pub async fn revoke_all_sessions(env: &Env, user_id: &str) -> EdgeResult<()> {
    store::tokens::revoke_all(&store::db(env)?, user_id, now_ms()).await
}

pub async fn me(req: Request, env: &Env, cfg: &Config) -> EdgeResult<Response> {
    let keys = keys::load(env, cfg).await?;
    let caller = guard::require(&req, env, &keys).await?;
    json_ok(&caller.user.profile(), "User information retrieved", 200)
}

/// `GET /.well-known/jwks.json`: the public keys that verify Meshfed's JWTs (RFC 7517).
pub async fn jwks(env: &Env, cfg: &Config) -> EdgeResult<Response> {
    let keys = keys::load(env, cfg).await?;
    let body = json!({"keys": [jwt::jwk(&keys.kid, &keys.signing.verifying_key())]});
    Ok(Response::from_json(&body)?)
}
