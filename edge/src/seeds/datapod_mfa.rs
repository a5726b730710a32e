//! Seed 002's MFA routes: `users/associate-mfa`, `users/verify-mfa`,
//! `users/post-login-mfa` and `users/mfa-settings`, over the canonical MFA services.

use meshfed_shared::api::auth::{CHALLENGE_MFA_SETUP, CHALLENGE_SOFTWARE_TOKEN};
use meshfed_shared::secret::Secret;
use serde::Deserialize;
use serde_json::{json, Value};
use worker::{Env, Response};

use super::datapod::{fail, field, reply, token_data};
use crate::auth::{guard, keys, login, mfa};
use crate::config::Config;
use crate::error::EdgeResult;
use crate::http::now_ms;
use crate::store::{self, sessions, users};

#[derive(Deserialize)]
struct MfaBody {
    session: Option<Secret>,
    access_token: Option<Secret>,
    username: Option<String>,
    code: Option<Secret>,
}

/// The user by a one-use session of `challenge`, or by an access token in the body.
async fn mfa_caller(
    env: &Env,
    cfg: &Config,
    b: &MfaBody,
    challenge: &str,
) -> EdgeResult<(users::UserRow, bool)> {
    let keys = keys::load(env, cfg).await?;
    if let Some(token) = &b.access_token {
        return Ok((
            guard::verify(env, &keys, token.expose(), "access")
                .await?
                .user,
            false,
        ));
    }
    let session = b
        .session
        .as_ref()
        .ok_or_else(|| fail("session or access_token is required"))?;
    let db = store::db(env)?;
    let (user_id, kind) = sessions::take_challenge(&db, session.expose(), now_ms())
        .await?
        .map_err(mfa::session_error)?;
    if kind != challenge {
        return Err(fail("Session has expired"));
    }
    let user = users::find_by_id(&db, &user_id)
        .await?
        .ok_or_else(|| fail("Username doesnt exists"))?;
    if b.username
        .as_deref()
        .is_some_and(|n| !n.eq_ignore_ascii_case(&user.username))
    {
        return Err(fail("Username doesnt exists"));
    }
    Ok((user, true))
}

pub(super) async fn associate(env: &Env, cfg: &Config, body: Value) -> EdgeResult<Response> {
    let b: MfaBody = field(&body)?;
    let (user, in_sign_in) = mfa_caller(env, cfg, &b, CHALLENGE_MFA_SETUP).await?;
    if !in_sign_in && user.mfa_enabled != 0 {
        // An access token alone does not replace a working second factor.
        return reply(
            400,
            Some("MFA is set up: replace it at POST /api/auth/mfa/setup with the password and a code"),
            Value::Null,
        );
    }
    let keys = keys::load(env, cfg).await?;
    let (secret, _backup) = mfa::begin_setup(env, &keys, &user).await?;
    let mut data = json!({"secret_code": secret});
    if in_sign_in {
        data["session_token"] = json!(login::challenge(env, cfg, &user, mfa::SETUP_VERIFY)
            .await?
            .session
            .expose());
    }
    reply(200, Some("success"), data)
}

pub(super) async fn verify(
    env: &Env,
    cfg: &Config,
    client: &str,
    body: Value,
) -> EdgeResult<Response> {
    let b: MfaBody = field(&body)?;
    let (user, in_sign_in) = mfa_caller(env, cfg, &b, mfa::SETUP_VERIFY).await?;
    let keys = keys::load(env, cfg).await?;
    let code = b.code.as_ref().ok_or_else(|| fail("code is required"))?;
    if !mfa::enable(env, &keys, &user, code.expose(), client).await? {
        return reply(400, Some("Invalid Verification code"), Value::Null);
    }
    let mut data = json!({});
    if in_sign_in {
        let tokens = crate::auth::tokens::issue(env, &keys, &user, None).await?;
        data = token_data(&tokens);
        data["session_token"] = json!(login::challenge(env, cfg, &user, CHALLENGE_SOFTWARE_TOKEN)
            .await?
            .session
            .expose());
    }
    reply(200, Some("success"), data)
}

pub(super) async fn post_login(
    env: &Env,
    cfg: &Config,
    client: &str,
    body: Value,
) -> EdgeResult<Response> {
    let b: MfaBody = field(&body)?;
    let code = b.code.clone().ok_or_else(|| fail("code is required"))?;
    // The sign-in session only: an access token is not a second factor.
    let (user, _) = mfa_caller(
        env,
        cfg,
        &MfaBody {
            access_token: None,
            ..b
        },
        CHALLENGE_SOFTWARE_TOKEN,
    )
    .await?;
    let keys = keys::load(env, cfg).await?;
    if mfa::check_second_factor(env, &keys, &user, code.expose(), client)
        .await
        .is_err()
    {
        return reply(400, Some("Wrong code entered"), Value::Null);
    }
    let tokens = crate::auth::tokens::issue(env, &keys, &user, None).await?;
    reply(200, Some("success"), token_data(&tokens))
}

pub(super) async fn settings(env: &Env, cfg: &Config, body: Value) -> EdgeResult<Response> {
    #[derive(Deserialize)]
    struct Settings {
        enabled: bool,
        access_token: Secret,
    }
    let b: Settings = field(&body)?;
    let keys = keys::load(env, cfg).await?;
    let user = guard::verify(env, &keys, b.access_token.expose(), "access")
        .await?
        .user;
    match (b.enabled, user.mfa_enabled != 0) {
        (true, true) => reply(200, Some("MFA is enabled"), Value::Null),
        (true, false) => reply(
            400,
            Some("Set MFA up first with users/associate-mfa and users/verify-mfa"),
            Value::Null,
        ),
        (false, _) if login::mfa_required(env) => {
            reply(400, Some("MFA is mandatory on this server"), Value::Null)
        }
        (false, _) => reply(
            400,
            Some("Disabling MFA needs the password and a code: POST /api/auth/mfa/disable"),
            Value::Null,
        ),
    }
}
