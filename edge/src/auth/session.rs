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

#[derive(Debug, Default, Deserialize)]
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
    #[derive(Deserialize)]
    struct Row {
        family_id: String,
        user_id: String,
        expires_at: i64,
        rotated_at: Option<i64>,
        revoked_at: Option<i64>,
    }
    let db = store::db(env)?;
    let hash = codes::digest_hex(token.trim());
    let now = now_ms();
    let row: Option<Row> = db
        .prepare("SELECT family_id, user_id, expires_at, rotated_at, revoked_at FROM refresh_tokens WHERE token_hash = ?1")
        .bind(&[hash.as_str().into()])?
        .first(None)
        .await?;
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
    let changed = store::changed_rows(db.prepare("UPDATE refresh_tokens SET rotated_at = ?2 WHERE token_hash = ?1 AND rotated_at IS NULL AND revoked_at IS NULL").bind(&[hash.as_str().into(), (now as f64).into()])?).await?;
    if changed != 1 {
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
    store::db(env)?
        .prepare(
            "UPDATE refresh_tokens SET revoked_at = ?2 WHERE family_id = ?1 AND revoked_at IS NULL",
        )
        .bind(&[family.into(), (now as f64).into()])?
        .run()
        .await?;
    Ok(())
}

pub async fn logout(mut req: Request, env: &Env, cfg: &Config) -> EdgeResult<Response> {
    let keys = keys::load(env, cfg).await?;
    let caller = guard::require(&req, env, &keys).await?;
    let body: RefreshRequest = read_json(&mut req, cfg.max_body_bytes)
        .await
        .unwrap_or_default();
    let db = store::db(env)?;
    let now = now_ms();
    if let Some(token) = body.refresh_token {
        db.prepare(
            "UPDATE refresh_tokens SET revoked_at = ?3 WHERE revoked_at IS NULL AND family_id = \
             (SELECT family_id FROM refresh_tokens WHERE token_hash = ?1 AND user_id = ?2)",
        )
        .bind(&[
            codes::digest_hex(token.expose().trim()).into(),
            caller.user.id.as_str().into(),
            (now as f64).into(),
        ])?
        .run()
        .await?;
    }
    // The caller's own sign-in session ends with it, refresh token given or not: its id
    // token and every other token it issued are refused from now on.
    if let Some(sid) = &caller.claims.sid {
        db.prepare(
            "UPDATE refresh_tokens SET revoked_at = ?3 \
             WHERE revoked_at IS NULL AND family_id = ?1 AND user_id = ?2",
        )
        .bind(&[
            sid.as_str().into(),
            caller.user.id.as_str().into(),
            (now as f64).into(),
        ])?
        .run()
        .await?;
    }
    db.prepare("INSERT OR IGNORE INTO denied_jtis (jti, expires_at) VALUES (?1, ?2)")
        .bind(&[
            caller.claims.jti.as_str().into(),
            ((caller.claims.exp * 1000) as f64).into(),
        ])?
        .run()
        .await?;
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
    let db = store::db(env)?;
    let now = now_ms();
    db.batch(vec![
        db.prepare(
            "UPDATE refresh_tokens SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL",
        )
        .bind(&[user_id.into(), (now as f64).into()])?,
        // Tokens carry whole seconds: everything issued up to this second is revoked.
        db.prepare(
            "INSERT INTO session_cutoffs (user_id, not_before) VALUES (?1, ?2) \
             ON CONFLICT(user_id) DO UPDATE SET not_before = excluded.not_before",
        )
        .bind(&[user_id.into(), ((now / 1000 + 1) as f64).into()])?,
    ])
    .await?;
    Ok(())
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
