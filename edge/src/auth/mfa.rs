//! TOTP MFA: the sign-in challenge and disable (setup and verify are in `mfa_setup`). A TOTP
//! step or backup code once accepted is refused again; the check-and-mark is one conditional
//! UPDATE (`second_factor`).

use meshfed_shared::secret::Secret;
use meshfed_shared::{ApiError, ErrorCode};
use serde::Deserialize;
use serde_json::json;
use worker::{Env, Request, Response};

use super::keys::{self, ServerKeys};
use super::{guard, login, tokens};
use crate::audit::{self, client_of};
use crate::config::Config;
use crate::error::EdgeResult;
use crate::http::{json_ok, now_ms, read_json};
use crate::store::sessions::{self, SessionProblem};
use crate::store::{self, users, users::UserRow};

pub const ISSUER: &str = "Meshfed";
pub const SETUP_VERIFY: &str = "MFA_SETUP_VERIFY";

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct MfaRequest {
    #[serde(default)]
    pub session: Option<Secret>,
    #[serde(default)]
    pub username: Option<String>,
    /// The TOTP or backup code (`token` in seed 003, `code` elsewhere).
    #[serde(default, alias = "token")]
    pub code: Option<Secret>,
    #[serde(default)]
    pub password: Option<Secret>,
}

/// The caller: by access token, or by a one-use sign-in session of `challenge`.
pub async fn caller(
    req: &Request,
    env: &Env,
    keys: &ServerKeys,
    body: &MfaRequest,
    challenge: &str,
) -> EdgeResult<(UserRow, bool)> {
    if let Some(session) = &body.session {
        let db = store::db(env)?;
        let (user_id, kind) = sessions::take_challenge(&db, session.expose(), now_ms())
            .await?
            .map_err(session_error)?;
        if kind != challenge {
            return Err(
                ApiError::new(ErrorCode::TokenInvalid, "This session is for another step").into(),
            );
        }
        let user = users::find_by_id(&db, &user_id)
            .await?
            .ok_or_else(|| ApiError::from_code(ErrorCode::TokenInvalid))?;
        if let Some(name) = &body.username {
            if !name.eq_ignore_ascii_case(&user.username) && !name.eq_ignore_ascii_case(&user.email)
            {
                return Err(ApiError::new(
                    ErrorCode::TokenInvalid,
                    "Session does not belong to this user",
                )
                .into());
            }
        }
        return Ok((user, true));
    }
    Ok((guard::require(req, env, keys).await?.user, false))
}

pub fn session_error(problem: SessionProblem) -> ApiError {
    let message = match problem {
        SessionProblem::Used => "A session can be used only once",
        SessionProblem::Expired => "Session has expired",
        SessionProblem::Unknown => "Invalid session",
    };
    ApiError::new(ErrorCode::TokenInvalid, message)
}

/// `POST /api/auth/mfa/challenge`: the second step of sign-in.
pub async fn challenge(mut req: Request, env: &Env, cfg: &Config) -> EdgeResult<Response> {
    let body: MfaRequest = read_json(&mut req, cfg.max_body_bytes).await?;
    if body.session.is_none() {
        return Err(ApiError::invalid_field("session", "the session from login").into());
    }
    let keys = keys::load(env, cfg).await?;
    let (user, _) = caller(
        &req,
        env,
        &keys,
        &body,
        meshfed_shared::api::auth::CHALLENGE_SOFTWARE_TOKEN,
    )
    .await?;
    let code = body
        .code
        .as_ref()
        .ok_or_else(|| ApiError::invalid_field("code", "a TOTP or backup code"))?;
    let client = client_of(&req);
    if let Err(e) = check_second_factor(env, &keys, &user, code.expose(), &client).await {
        let api = e.into_api_error("mfa challenge");
        // A wrong code may be tried again in a fresh session; a locked second factor may not.
        if api.code != ErrorCode::MfaInvalid {
            return Err(api.into());
        }
        let remaining = api
            .details
            .as_ref()
            .map(|d| d["attempts_remaining"].clone());
        let retry = login::challenge(
            env,
            cfg,
            &user,
            meshfed_shared::api::auth::CHALLENGE_SOFTWARE_TOKEN,
        )
        .await?
        .session;
        let details = json!({"session": retry, "attempts_remaining": remaining});
        return Err(api.with_details(details).into());
    }
    audit::record(env, Some(&user.id), "login", &client, Some("mfa")).await?;
    json_ok(
        &tokens::issue(env, &keys, &user, None).await?,
        "Login successful",
        200,
    )
}

/// `POST /api/auth/mfa/disable`: access token, password and a current code. Refused where MFA
/// is mandatory.
pub async fn disable(mut req: Request, env: &Env, cfg: &Config) -> EdgeResult<Response> {
    let body: MfaRequest = read_json(&mut req, cfg.max_body_bytes).await?;
    let keys = keys::load(env, cfg).await?;
    let user = guard::require(&req, env, &keys).await?.user;
    if login::mfa_required(env) {
        return Err(ApiError::new(
            ErrorCode::PermissionDenied,
            "MFA is mandatory on this server",
        )
        .into());
    }
    let password = body
        .password
        .as_ref()
        .map(Secret::expose)
        .unwrap_or_default();
    if !meshfed_shared::auth::password::verify(password, user.password_hash.expose()) {
        return Err(ApiError::new(ErrorCode::AuthenticationFailed, "Invalid password").into());
    }
    let code = body
        .code
        .as_ref()
        .ok_or_else(|| ApiError::invalid_field("code", "a current TOTP code"))?;
    let client = client_of(&req);
    check_second_factor(env, &keys, &user, code.expose(), &client).await?;
    clear(env, &user.id).await?;
    audit::record(env, Some(&user.id), "mfa_disabled", &client, None).await?;
    json_ok(
        &json!({"mfa_enabled": false}),
        "MFA disabled successfully",
        200,
    )
}

/// Removes a user's MFA secret and backup codes (disable, admin reset).
pub async fn clear(env: &Env, user_id: &str) -> EdgeResult<()> {
    store::mfa::clear(&store::db(env)?, user_id).await
}

pub use super::mfa_setup::{begin_setup, enable, setup, verify};
pub use super::second_factor::check_second_factor;
