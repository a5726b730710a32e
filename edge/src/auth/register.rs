//! Registration, confirmation by emailed code (which issues the mnemonic once), and resending
//! the code.

use meshfed_shared::api::auth::{Confirmation, RegisterRequest};
use meshfed_shared::auth::{codes, mnemonic, password, roles};
use meshfed_shared::secret::Secret;
use meshfed_shared::{ApiError, ErrorCode};
use serde::Deserialize;
use worker::{Env, Request, Response};

use crate::config::Config;
use crate::error::EdgeResult;
use crate::http::{json_ok, now_ms, read_json};
use crate::mail::{self, Message};
use crate::random;
use crate::store::codes::CodeCheck;
use crate::store::{self, users};

pub async fn register(mut req: Request, env: &Env, cfg: &Config) -> EdgeResult<Response> {
    let body: RegisterRequest = read_json(&mut req, cfg.max_body_bytes).await?;
    let user = create_user(env, cfg, &body).await?;
    json_ok(
        &user.profile(),
        "User registered successfully; the confirmation code was sent by email",
        201,
    )
}

/// Validates, stores (unconfirmed) and emails the confirmation code; shared with the seeds.
pub async fn create_user(
    env: &Env,
    cfg: &Config,
    body: &RegisterRequest,
) -> EdgeResult<users::UserRow> {
    let valid = body.validate().map_err(|errors| {
        let first = &errors[0];
        ApiError::new(ErrorCode::ValidationError, "Invalid input parameters").with_details(
            serde_json::json!({
                "field": first.field, "reason": first.reason, "errors": errors,
            }),
        )
    })?;
    mail::ensure_configured(env, cfg)?;
    let db = store::db(env)?;
    let taken = users::taken_fields(&db, &valid.username, &valid.email).await?;
    if let Some(field) = taken.first() {
        return Err(user_exists(field).into());
    }
    let hash = password::hash(body.password.expose(), &random::bytes()?);
    let id = random::id()?;
    let now = now_ms();
    if !users::insert(&db, &id, &valid, &hash, now).await? {
        return Err(user_exists("username").into());
    }
    send_confirmation(env, cfg, &id, &valid.email, now).await?;
    Ok(users::find_by_id(&db, &id)
        .await?
        .ok_or_else(ApiError::internal)?)
}

fn user_exists(field: &str) -> ApiError {
    let reason = if field == "email" {
        "Email already exists"
    } else {
        "Username already exists"
    };
    ApiError::new(ErrorCode::UserExists, reason)
        .with_details(serde_json::json!({"field": field, "reason": reason}))
}

async fn send_confirmation(
    env: &Env,
    cfg: &Config,
    user_id: &str,
    email: &str,
    now: i64,
) -> EdgeResult<()> {
    let code = fresh_code()?;
    store::codes::issue(&store::db(env)?, user_id, "confirm", &code, None, now).await?;
    let text = format!(
        "Your Meshfed confirmation code is {code}. It is valid for 15 minutes and can be used once."
    );
    mail::send(
        env,
        cfg,
        &Message {
            to: email.into(),
            subject: "Confirm your Meshfed account".into(),
            text,
        },
    )
    .await
}

/// A uniformly random 6-digit code.
pub fn fresh_code() -> EdgeResult<String> {
    loop {
        if let Some(code) = codes::six_digit_code(random::bytes()?) {
            return Ok(code);
        }
    }
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ConfirmRequest {
    pub username: String,
    pub code: Secret,
}

pub async fn confirm(mut req: Request, env: &Env, cfg: &Config) -> EdgeResult<Response> {
    let body: ConfirmRequest = read_json(&mut req, cfg.max_body_bytes).await?;
    let confirmation = confirm_user(env, &body.username, body.code.expose()).await?;
    json_ok(
        &confirmation,
        "The user has been confirmed. Write the mnemonic down now: it is shown only this once",
        200,
    )
}

/// Confirms `username` with `code`; shared with the seed routes.
pub async fn confirm_user(env: &Env, username: &str, code: &str) -> EdgeResult<Confirmation> {
    let db = store::db(env)?;
    let invalid = || {
        ApiError::new(
            ErrorCode::AuthenticationFailed,
            "Invalid or expired confirmation code",
        )
    };
    let user = users::find_by_login(&db, username.trim())
        .await?
        .ok_or_else(invalid)?;
    if user.confirmed != 0 {
        return Err(ApiError::new(ErrorCode::ValidationError, "User is already confirmed").into());
    }
    let now = now_ms();
    match store::codes::consume(&db, &user.id, "confirm", code, now)
        .await?
        .0
    {
        CodeCheck::Accepted => {}
        CodeCheck::Wrong | CodeCheck::Missing => return Err(invalid().into()),
    }
    let admin_emails = env
        .var("ADMIN_EMAILS")
        .map(|v| v.to_string())
        .unwrap_or_default();
    let roles = roles::roles_at_confirmation(&user.email, &admin_emails);
    let issued = mnemonic::issue(&random::bytes()?);
    users::confirm(&db, &user.id, &roles, &issued, now).await?;
    Ok(Confirmation {
        username: user.username,
        email: user.email,
        mnemonic: issued.phrase,
        public_key: issued.public_key_hex,
        private_key: issued.private_key_hex,
        roles,
    })
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ResendRequest {
    /// Username or email.
    pub username: String,
}

/// Sends a new confirmation code, at most 3 per account in 15 minutes. The answer is the
/// same whether or not the account exists or is already confirmed, so it reveals nothing
/// about accounts.
pub async fn resend(mut req: Request, env: &Env, cfg: &Config) -> EdgeResult<Response> {
    let body: ResendRequest = read_json(&mut req, cfg.max_body_bytes).await?;
    mail::ensure_configured(env, cfg)?;
    let db = store::db(env)?;
    let user = users::find_by_login(&db, body.username.trim()).await?;
    // Per account whether asked by username or email; an unknown name counts alike.
    let account = user
        .as_ref()
        .map_or(body.username.as_str(), |u| u.id.as_str());
    super::limit_account(env, cfg, "resend-confirmation", account).await?;
    if let Some(user) = user {
        if user.confirmed == 0 {
            send_confirmation(env, cfg, &user.id, &user.email, now_ms()).await?;
        }
    }
    json_ok(
        &serde_json::json!({}),
        "If the account exists and is unconfirmed, a new code was sent",
        200,
    )
}
