//! The signed-in person's account: profile (an email change is confirmed by a code sent to the
//! new address and needs the password), change password, forgotten password, mnemonic check.

use meshfed_shared::auth::{password, validation};
use meshfed_shared::secret::{constant_time_eq, Secret};
use meshfed_shared::{ApiError, ErrorCode};
use serde::Deserialize;
use serde_json::json;
use worker::{Env, Request, Response};

use super::register::fresh_code;
use super::{guard, keys, session, tokens};
use crate::audit::{self, client_of};
use crate::config::Config;
use crate::error::EdgeResult;
use crate::http::{json_ok, now_ms, read_json};
use crate::mail::{self, Message};
use crate::random;
use crate::store::codes::{self, CodeCheck};
use crate::store::{self, users};

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct ProfileUpdate {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub organization: Option<String>,
    pub email: Option<String>,
    pub password: Option<Secret>,
}

pub async fn update_profile(mut req: Request, env: &Env, cfg: &Config) -> EdgeResult<Response> {
    let keys = keys::load(env, cfg).await?;
    let user = guard::require(&req, env, &keys).await?.user;
    let body: ProfileUpdate = read_json(&mut req, cfg.max_body_bytes).await?;
    let first = body
        .first_name
        .as_deref()
        .map(str::trim)
        .unwrap_or(&user.first_name)
        .to_string();
    let last = body
        .last_name
        .as_deref()
        .map(str::trim)
        .unwrap_or(&user.last_name)
        .to_string();
    let org = match body.organization.as_deref().map(str::trim) {
        Some("") => None,
        Some(o) => Some(o.to_string()),
        None => user.organization.clone(),
    };
    for (field, check) in [
        ("first_name", validation::name("First name", &first)),
        ("last_name", validation::name("Last name", &last)),
        (
            "organization",
            org.as_deref().map_or(Ok(()), validation::organization),
        ),
    ] {
        check.map_err(|reason| ApiError::invalid_field(field, reason))?;
    }
    let changes_email = body
        .email
        .as_deref()
        .is_some_and(|e| !e.trim().eq_ignore_ascii_case(&user.email));
    if changes_email {
        // Before anything is written: no half-applied profile when the code cannot go out.
        mail::ensure_configured(env, cfg)?;
    }
    let db = store::db(env)?;
    let now = now_ms();
    let profile = store::accounts::Profile {
        first_name: &first,
        last_name: &last,
        organization: org.as_deref(),
    };
    store::accounts::update_profile(&db, &user.id, &profile, now).await?;
    let mut message = "Profile updated successfully";
    if let Some(email) = body
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.eq_ignore_ascii_case(&user.email))
    {
        validation::email(email).map_err(|reason| ApiError::invalid_field("email", reason))?;
        let pw = body
            .password
            .as_ref()
            .map(Secret::expose)
            .unwrap_or_default();
        if !password::verify(pw, user.password_hash.expose()) {
            return Err(ApiError::new(
                ErrorCode::AuthenticationFailed,
                "Changing the email needs the current password",
            )
            .into());
        }
        if users::taken_fields(&db, "", email)
            .await?
            .contains(&"email")
        {
            return Err(ApiError::new(ErrorCode::UserExists, "Email already exists")
                .with_details(json!({"field": "email", "reason": "Email already exists"}))
                .into());
        }
        let code = fresh_code()?;
        codes::issue(&db, &user.id, "email_change", &code, Some(email), now).await?;
        let text = format!(
            "Your Meshfed code to confirm this address is {code}. It is valid for 15 minutes."
        );
        mail::send(
            env,
            cfg,
            &Message {
                to: email.into(),
                subject: "Confirm your new Meshfed email".into(),
                text,
            },
        )
        .await?;
        message = "Profile updated; confirm the new email with the code sent to it";
    }
    let updated = users::find_by_id(&db, &user.id)
        .await?
        .ok_or_else(ApiError::internal)?;
    json_ok(&updated.profile(), message, 200)
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CodeOnly {
    pub code: Secret,
}

/// `POST /api/auth/profile/email/confirm`: the code sent to the new address.
pub async fn confirm_email(mut req: Request, env: &Env, cfg: &Config) -> EdgeResult<Response> {
    let keys = keys::load(env, cfg).await?;
    let user = guard::require(&req, env, &keys).await?.user;
    let body: CodeOnly = read_json(&mut req, cfg.max_body_bytes).await?;
    let db = store::db(env)?;
    let (check, email) =
        codes::consume(&db, &user.id, "email_change", body.code.expose(), now_ms()).await?;
    let (CodeCheck::Accepted, Some(email)) = (check, email) else {
        return Err(
            ApiError::new(ErrorCode::AuthenticationFailed, "Invalid or expired code").into(),
        );
    };
    if !store::accounts::change_email(&db, &user.id, &email, now_ms()).await? {
        return Err(ApiError::new(ErrorCode::UserExists, "Email already exists").into());
    }
    audit::record(env, Some(&user.id), "email_changed", &client_of(&req), None).await?;
    let updated = users::find_by_id(&db, &user.id)
        .await?
        .ok_or_else(ApiError::internal)?;
    json_ok(&updated.profile(), "Email changed", 200)
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ChangePassword {
    pub current_password: Secret,
    pub new_password: Secret,
    pub confirm_password: Secret,
}

/// Changes the password, revokes every other session and returns fresh tokens for this one.
pub async fn change_password(mut req: Request, env: &Env, cfg: &Config) -> EdgeResult<Response> {
    let keys = keys::load(env, cfg).await?;
    let user = guard::require(&req, env, &keys).await?.user;
    let body: ChangePassword = read_json(&mut req, cfg.max_body_bytes).await?;
    if !password::verify(body.current_password.expose(), user.password_hash.expose()) {
        return Err(
            ApiError::new(ErrorCode::AuthenticationFailed, "Current password is wrong").into(),
        );
    }
    check_new_password(&user, &body.new_password, &body.confirm_password)?;
    store_password(env, &user, &body.new_password).await?;
    audit::record(
        env,
        Some(&user.id),
        "password_changed",
        &client_of(&req),
        None,
    )
    .await?;
    let tokens = tokens::issue(env, &keys, &user, None).await?;
    json_ok(
        &tokens,
        "Password changed successfully; other sessions were signed out",
        200,
    )
}

/// The policy for a new password: both fields equal, and seed 003's rules.
fn check_new_password(
    user: &users::UserRow,
    new: &Secret,
    confirm: &Secret,
) -> Result<(), ApiError> {
    check_new_password_alone(new, confirm)?;
    check_password_for(user, new)
}

/// The password rules about `user` (not containing its username or email).
fn check_password_for(user: &users::UserRow, new: &Secret) -> Result<(), ApiError> {
    validation::password(new.expose(), &user.username, &user.email)
        .map_err(|reason| ApiError::invalid_field("new_password", reason))
}

/// The password rules that do not depend on the account (the same answer for any username).
fn check_new_password_alone(new: &Secret, confirm: &Secret) -> Result<(), ApiError> {
    if new != confirm {
        return Err(ApiError::invalid_field(
            "confirm_password",
            "Passwords do not match",
        ));
    }
    validation::password(new.expose(), "", "")
        .map_err(|reason| ApiError::invalid_field("new_password", reason))
}

/// Stores the hash of an already checked password, clears any lockout and revokes every
/// session.
async fn store_password(env: &Env, user: &users::UserRow, new: &Secret) -> EdgeResult<()> {
    let hash = password::hash(new.expose(), &random::bytes()?);
    store::accounts::set_password(&store::db(env)?, &user.id, &hash, now_ms()).await?;
    session::revoke_all_sessions(env, &user.id).await
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ForgotPassword {
    #[serde(alias = "username")]
    pub email: String,
}

/// Sends a reset code; the answer is the same whether or not the account exists.
pub async fn forgot_password(mut req: Request, env: &Env, cfg: &Config) -> EdgeResult<Response> {
    let body: ForgotPassword = read_json(&mut req, cfg.max_body_bytes).await?;
    super::limit_account(env, cfg, "forgot-password", &body.email).await?;
    send_reset_code(env, cfg, body.email.trim()).await?;
    json_ok(
        &json!({}),
        "If the account exists, a password reset code was sent by email",
        200,
    )
}

pub async fn send_reset_code(env: &Env, cfg: &Config, login: &str) -> EdgeResult<()> {
    // Before the lookup: known and unknown accounts get the same 503.
    mail::ensure_configured(env, cfg)?;
    let db = store::db(env)?;
    if let Some(user) = users::find_by_login(&db, login)
        .await?
        .filter(|u| u.confirmed != 0)
    {
        let code = fresh_code()?;
        codes::issue(&db, &user.id, "reset", &code, None, now_ms()).await?;
        let text = format!("Your Meshfed password reset code is {code}. It is valid for 15 minutes and can be used once.");
        mail::send(
            env,
            cfg,
            &Message {
                to: user.email,
                subject: "Reset your Meshfed password".into(),
                text,
            },
        )
        .await?;
    }
    Ok(())
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ResetPassword {
    pub username: String,
    #[serde(alias = "token")]
    pub code: Secret,
    pub new_password: Secret,
    pub confirm_password: Secret,
}

pub async fn reset_password(mut req: Request, env: &Env, cfg: &Config) -> EdgeResult<Response> {
    let body: ResetPassword = read_json(&mut req, cfg.max_body_bytes).await?;
    reset_with_code(env, &body, &client_of(&req)).await?;
    json_ok(
        &json!({}),
        "Password reset successfully; sign in with the new password",
        200,
    )
}

/// Resets the password with an emailed code: every session is revoked, MFA stays on.
pub async fn reset_with_code(env: &Env, body: &ResetPassword, client: &str) -> EdgeResult<()> {
    let db = store::db(env)?;
    let invalid = || {
        ApiError::new(
            ErrorCode::AuthenticationFailed,
            "Invalid or expired reset code",
        )
    };
    // The rules that are the same for every account first (told to anyone), then the code,
    // then the rules about this account (told only to the code's holder), so no answer says
    // whether an account exists; a refused password does not burn the code.
    let (new, confirm) = (&body.new_password, &body.confirm_password);
    check_new_password_alone(new, confirm)?;
    let user = users::find_by_login(&db, body.username.trim())
        .await?
        .ok_or_else(invalid)?;
    let now = now_ms();
    let code = codes::check(&db, &user.id, "reset", body.code.expose(), now)
        .await?
        .map_err(|_| invalid())?;
    check_password_for(&user, new)?;
    if !codes::take(&db, &code, now).await? {
        return Err(invalid().into());
    }
    store_password(env, &user, &body.new_password).await?;
    audit::record(env, Some(&user.id), "password_reset", client, None).await
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct MnemonicCheck {
    /// sha3-256 hex of the mnemonic as issued.
    #[serde(alias = "hash", alias = "sha3_256")]
    pub mnemonic_hash: Secret,
}

pub async fn check_mnemonic(mut req: Request, env: &Env, cfg: &Config) -> EdgeResult<Response> {
    let keys = keys::load(env, cfg).await?;
    let user = guard::require(&req, env, &keys).await?.user;
    let body: MnemonicCheck = read_json(&mut req, cfg.max_body_bytes).await?;
    let matches = mnemonic_matches(env, &user.id, body.mnemonic_hash.expose()).await?;
    json_ok(
        &json!({"matches": matches}),
        if matches {
            "Mnemonic matches"
        } else {
            "Mnemonic does not match"
        },
        200,
    )
}

/// Whether `sha3_256_hex` is the digest of the user's mnemonic (constant-time compare).
pub async fn mnemonic_matches(env: &Env, user_id: &str, sha3_256_hex: &str) -> EdgeResult<bool> {
    let stored = store::accounts::mnemonic_digest(&store::db(env)?, user_id).await?;
    let given = sha3_256_hex.trim().to_ascii_lowercase();
    Ok(stored.is_some_and(|s| constant_time_eq(s.as_bytes(), given.as_bytes())))
}
