//! `POST /api/auth/login`: password check with lockout, then tokens or an MFA challenge.
//! MFA is mandatory unless the `MFA_REQUIRED` variable is `"false"`.

use meshfed_shared::api::auth::{
    LoginChallenge, LoginRequest, CHALLENGE_MFA_SETUP, CHALLENGE_SOFTWARE_TOKEN,
};
use meshfed_shared::auth::{codes, password};
use meshfed_shared::secret::Secret;
use meshfed_shared::time::rfc3339_from_unix_ms;
use meshfed_shared::{ApiError, ErrorCode};
use serde_json::json;
use worker::{Env, Request, Response};

use super::{keys, mfa, tokens};
use crate::audit::{self, client_of};
use crate::config::Config;
use crate::error::EdgeResult;
use crate::http::{json_ok, now_ms, read_json};
use crate::random;
use crate::store::{self, sessions, users, users::UserRow};

pub const MAX_FAILURES: i64 = 5;

/// What a correct password leads to.
pub enum LoginOutcome {
    Tokens(meshfed_shared::api::auth::TokenSet),
    Challenge(LoginChallenge),
}

pub async fn login(mut req: Request, env: &Env, cfg: &Config) -> EdgeResult<Response> {
    let body: LoginRequest = read_json(&mut req, cfg.max_body_bytes).await?;
    match sign_in(env, cfg, &client_of(&req), &body).await? {
        LoginOutcome::Tokens(t) => json_ok(&t, "Login successful", 200),
        LoginOutcome::Challenge(c) => {
            let message = if c.challenge == CHALLENGE_MFA_SETUP {
                "MFA setup required"
            } else {
                "MFA token required"
            };
            json_ok(&c, message, 200)
        }
    }
}

/// The sign-in service, shared with the seed routes.
pub async fn sign_in(
    env: &Env,
    cfg: &Config,
    client: &str,
    body: &LoginRequest,
) -> EdgeResult<LoginOutcome> {
    super::limit_account(env, cfg, "login", &body.username).await?;
    let db = store::db(env)?;
    let now = now_ms();
    let Some(user) = users::find_by_login(&db, body.username.trim()).await? else {
        // Same cost as a real check, so timing does not tell whether the account exists.
        let _ = password::verify(body.password.expose(), password::DUMMY_HASH);
        audit::record(env, None, "login_failed_unknown_user", client, None).await?;
        return Err(unknown_user_failure(env, cfg, &body.username).await?.into());
    };
    if let Some(until) = user.locked_until.filter(|&t| t > now) {
        // The KDF's cost here too: an unknown name's "lockout" pays it on every attempt, so
        // a fast answer would tell a real locked account apart.
        let _ = password::verify(body.password.expose(), password::DUMMY_HASH);
        audit::record(env, Some(&user.id), "login_refused_locked", client, None).await?;
        return Err(locked(until).into());
    }
    if !password::verify(body.password.expose(), user.password_hash.expose()) {
        let (failures, locked_until) =
            users::record_failure(&db, &user.id, MAX_FAILURES, cfg.lockout_secs * 1000, now)
                .await?;
        if let Some(until) = locked_until {
            audit::record(env, Some(&user.id), "account_locked", client, None).await?;
            return Err(locked(until).into());
        }
        audit::record(env, Some(&user.id), "login_failed", client, None).await?;
        return Err(bad_credentials(MAX_FAILURES - failures).into());
    }
    users::clear_failures(&db, &user.id).await?;
    if user.confirmed == 0 {
        return Err(
            ApiError::new(ErrorCode::AuthenticationFailed, "User is not confirmed")
                .with_details(json!({"reason": "not_confirmed"}))
                .into(),
        );
    }
    if user.disabled != 0 {
        return Err(ApiError::from_code(ErrorCode::AccountDisabled).into());
    }
    let keys = keys::load(env, cfg).await?;
    if user.mfa_enabled != 0 {
        if let Some(code) = &body.mfa_token {
            mfa::check_second_factor(env, &keys, &user, code.expose(), client).await?;
            audit::record(env, Some(&user.id), "login", client, Some("mfa")).await?;
            return Ok(LoginOutcome::Tokens(
                tokens::issue(env, &keys, &user, None).await?,
            ));
        }
        return Ok(LoginOutcome::Challenge(
            challenge(env, cfg, &user, CHALLENGE_SOFTWARE_TOKEN).await?,
        ));
    }
    if mfa_required(env) {
        return Ok(LoginOutcome::Challenge(
            challenge(env, cfg, &user, CHALLENGE_MFA_SETUP).await?,
        ));
    }
    audit::record(env, Some(&user.id), "login", client, None).await?;
    Ok(LoginOutcome::Tokens(
        tokens::issue(env, &keys, &user, None).await?,
    ))
}

pub fn mfa_required(env: &Env) -> bool {
    env.var("MFA_REQUIRED")
        .map(|v| v.to_string() != "false")
        .unwrap_or(true)
}

/// A fresh one-use session for the next step of sign-in.
pub async fn challenge(
    env: &Env,
    cfg: &Config,
    user: &UserRow,
    name: &str,
) -> EdgeResult<LoginChallenge> {
    let session = codes::opaque_token(&random::bytes()?);
    let lifetime_ms = cfg.challenge_session_secs * 1000;
    sessions::create_challenge(
        &store::db(env)?,
        &session,
        &user.id,
        name,
        now_ms(),
        lifetime_ms,
    )
    .await?;
    Ok(LoginChallenge {
        requires_mfa: true,
        challenge: name.into(),
        temp_token: Secret::new(session.clone()),
        session: Secret::new(session),
        mfa_methods: vec!["totp".into()],
    })
}

/// The answer for an unknown username, shaped like a known account's: failures count down
/// and then "lock" for the same time, so repeated tries do not reveal that it does not exist.
async fn unknown_user_failure(env: &Env, cfg: &Config, username: &str) -> EdgeResult<ApiError> {
    use meshfed_shared::auth::rate_limit::Rule;
    let window = u32::try_from(cfg.lockout_secs).unwrap_or(900);
    let rule = Rule {
        limit: MAX_FAILURES as u32,
        window_secs: window,
    };
    let bucket = format!("unknown-login:{}", username.trim().to_lowercase());
    let decision = crate::rate_limit::hit(env, &bucket, rule, 1).await?;
    Ok(match decision.remaining {
        0 => locked(decision.reset * 1000),
        left => bad_credentials(i64::from(left)),
    })
}

fn bad_credentials(attempts_remaining: i64) -> ApiError {
    ApiError::new(
        ErrorCode::AuthenticationFailed,
        "Invalid username or password",
    )
    .with_details(json!({"attempts_remaining": attempts_remaining.max(0), "lockout_time": null}))
}

fn locked(until_ms: i64) -> ApiError {
    ApiError::new(
        ErrorCode::AccountLocked,
        "Account temporarily locked after too many failed logins",
    )
    .with_details(json!({"attempts_remaining": 0, "lockout_time": rfc3339_from_unix_ms(until_ms)}))
}
