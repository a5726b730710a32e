//! Who is calling: the access token from `Authorization` (`Bearer …`, or bare as the seeds
//! send it), verified with the pinned algorithm and key, not revoked, for an active user.

use meshfed_shared::auth::jwt::{self, Claims, JwtError};
use meshfed_shared::{ApiError, ErrorCode};
use worker::{Env, Request};

use super::keys::ServerKeys;
use super::tokens::{AUDIENCE, ISSUER};
use crate::error::EdgeResult;
use crate::http::now_ms;
use crate::store::{self, users, users::UserRow};

pub struct AuthUser {
    pub claims: Claims,
    pub user: UserRow,
}

/// The bearer token of `req`, if any.
pub fn bearer(req: &Request) -> Option<String> {
    let header = req.headers().get("authorization").ok().flatten()?;
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .unwrap_or(&header);
    let token = token.trim();
    (!token.is_empty()).then(|| token.to_string())
}

/// Verifies a token of `token_type` (`access` or `id`) and loads its user.
pub async fn verify(
    env: &Env,
    keys: &ServerKeys,
    token: &str,
    token_type: &str,
) -> EdgeResult<AuthUser> {
    let now = now_ms() / 1000;
    let expect = jwt::Expectation {
        issuer: ISSUER,
        audience: AUDIENCE,
        token_type,
        now,
        leeway: 30,
    };
    let verifying = keys.signing.verifying_key();
    let claims = jwt::verify(token, |kid| (kid == keys.kid).then_some(verifying), &expect)
        .map_err(|e| match e {
            JwtError::Expired => ApiError::from_code(ErrorCode::TokenExpired),
            other => ApiError::new(ErrorCode::TokenInvalid, format!("Invalid token: {other}")),
        })?;
    let db = store::db(env)?;
    let sid = claims.sid.as_deref();
    let revoked =
        store::tokens::is_revoked(&db, &claims.jti, &claims.user_id, claims.iat, sid).await?;
    if revoked {
        return Err(ApiError::new(ErrorCode::TokenInvalid, "Token has been revoked").into());
    }
    let user = users::find_by_id(&db, &claims.user_id)
        .await?
        .ok_or_else(|| ApiError::from_code(ErrorCode::TokenInvalid))?;
    if user.disabled != 0 {
        return Err(ApiError::from_code(ErrorCode::AccountDisabled).into());
    }
    Ok(AuthUser { claims, user })
}

/// The caller of `req` by access token, or by ID token as seeds 000/001 send it.
pub async fn require_access_or_id(
    req: &Request,
    env: &Env,
    keys: &ServerKeys,
) -> EdgeResult<AuthUser> {
    let token = bearer(req)
        .ok_or_else(|| ApiError::new(ErrorCode::TokenInvalid, "Missing access token"))?;
    match verify(env, keys, &token, "access").await {
        Ok(caller) => Ok(caller),
        Err(first) => verify(env, keys, &token, "id").await.map_err(|_| first),
    }
}

/// The caller of `req` by their access token; 401 without one.
pub async fn require(req: &Request, env: &Env, keys: &ServerKeys) -> EdgeResult<AuthUser> {
    let token = bearer(req)
        .ok_or_else(|| ApiError::new(ErrorCode::TokenInvalid, "Missing access token"))?;
    verify(env, keys, &token, "access").await
}
