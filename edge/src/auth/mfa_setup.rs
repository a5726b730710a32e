//! TOTP MFA setup: a pending secret (otpauth URI, QR code) and pending backup codes, then
//! verify, which enables them (in the sign-in flow it returns tokens). Replacing a working
//! second factor needs the password and a current code, and the old secret and backup codes
//! work until the new secret is verified.

use meshfed_shared::api::auth::MfaSetup;
use meshfed_shared::auth::{codes, qr, seal, totp};
use meshfed_shared::secret::Secret;
use meshfed_shared::{ApiError, ErrorCode};
use serde_json::json;
use worker::{Env, Request, Response};

use super::keys::{self, ServerKeys};
use super::mfa::{caller, check_second_factor, MfaRequest, ISSUER, SETUP_VERIFY};
use super::{login, tokens};
use crate::audit::{self, client_of};
use crate::config::Config;
use crate::error::EdgeResult;
use crate::http::{json_ok, now_ms, read_json};
use crate::random;
use crate::store::{self, users::UserRow};

const BACKUP_CODES: usize = 10;

/// A new pending TOTP secret and 10 pending backup codes for `user` (replacing an earlier
/// pending setup; the current secret and codes work until `enable`). Returns the secret in
/// base32 and the backup codes, both shown once.
pub async fn begin_setup(
    env: &Env,
    keys: &ServerKeys,
    user: &UserRow,
) -> EdgeResult<(String, Vec<String>)> {
    let secret = random::bytes::<{ totp::SECRET_BYTES }>()?;
    let secret_b32 = totp::base32_encode(&secret);
    let sealed = seal::seal(
        &keys.totp_seal_key(),
        &random::bytes()?,
        secret_b32.as_bytes(),
    );
    let mut backup = Vec::with_capacity(BACKUP_CODES);
    while backup.len() < BACKUP_CODES {
        if let Some(code) = codes::backup_code(random::bytes()?) {
            backup.push(code);
        }
    }
    let digests: Vec<String> = backup.iter().map(|c| codes::digest_hex(c)).collect();
    store::mfa::stage(&store::db(env)?, &user.id, &sealed, &digests).await?;
    Ok((secret_b32, backup))
}

/// Enables MFA when `code` matches the pending secret. `Ok(false)` for a wrong code.
pub async fn enable(
    env: &Env,
    keys: &ServerKeys,
    user: &UserRow,
    code: &str,
    client: &str,
) -> EdgeResult<bool> {
    let pending = user
        .mfa_pending_enc
        .as_ref()
        .and_then(|s| seal::open(&keys.totp_seal_key(), s.expose()));
    let secret = pending
        .and_then(|b32| totp::base32_decode(&String::from_utf8_lossy(&b32)))
        .ok_or_else(|| ApiError::new(ErrorCode::ValidationError, "Start MFA setup first"))?;
    let Some(step) = totp::verify(&secret, code, (now_ms() / 1000) as u64, None) else {
        return Ok(false);
    };
    // The new secret and its backup codes replace the old ones together.
    store::mfa::enable(&store::db(env)?, &user.id, step).await?;
    audit::record(env, Some(&user.id), "mfa_enabled", client, None).await?;
    Ok(true)
}

pub async fn setup(mut req: Request, env: &Env, cfg: &Config) -> EdgeResult<Response> {
    let body: MfaRequest = read_json(&mut req, cfg.max_body_bytes).await?;
    let keys = keys::load(env, cfg).await?;
    let (user, in_sign_in) = caller(
        &req,
        env,
        &keys,
        &body,
        meshfed_shared::api::auth::CHALLENGE_MFA_SETUP,
    )
    .await?;
    if !in_sign_in && user.mfa_enabled != 0 {
        confirm_reenrolment(env, &keys, &user, &body, &client_of(&req)).await?;
    }
    let (secret_b32, backup) = begin_setup(env, &keys, &user).await?;
    let uri = totp::otpauth_uri(ISSUER, &user.email, &secret_b32);
    let session = match in_sign_in {
        true => Some(
            login::challenge(env, cfg, &user, SETUP_VERIFY)
                .await?
                .session,
        ),
        false => None,
    };
    let setup = MfaSetup {
        qr_code: Secret::new(qr::svg_data_uri(&uri).ok_or_else(ApiError::internal)?),
        secret: Secret::new(secret_b32),
        otpauth_uri: Secret::new(uri),
        backup_codes: backup.into_iter().map(Secret::new).collect(),
        session,
    };
    json_ok(
        &setup,
        "MFA setup initiated: scan the QR code, then verify a code",
        200,
    )
}

/// Replacing a working second factor takes what a stolen access token does not give: the
/// password and a current code (or a backup code).
async fn confirm_reenrolment(
    env: &Env,
    keys: &ServerKeys,
    user: &UserRow,
    body: &MfaRequest,
    client: &str,
) -> EdgeResult<()> {
    let password = body
        .password
        .as_ref()
        .map(Secret::expose)
        .unwrap_or_default();
    if !meshfed_shared::auth::password::verify(password, user.password_hash.expose()) {
        return Err(ApiError::new(
            ErrorCode::AuthenticationFailed,
            "MFA is set up: replacing it needs the password and a current code",
        )
        .into());
    }
    let code = body
        .code
        .as_ref()
        .ok_or_else(|| ApiError::invalid_field("code", "a current TOTP or backup code"))?;
    check_second_factor(env, keys, user, code.expose(), client).await
}

pub async fn verify(mut req: Request, env: &Env, cfg: &Config) -> EdgeResult<Response> {
    let body: MfaRequest = read_json(&mut req, cfg.max_body_bytes).await?;
    let keys = keys::load(env, cfg).await?;
    let (user, in_sign_in) = caller(&req, env, &keys, &body, SETUP_VERIFY).await?;
    let code = body
        .code
        .as_ref()
        .ok_or_else(|| ApiError::invalid_field("code", "the 6-digit code from the app"))?;
    if !enable(env, &keys, &user, code.expose(), &client_of(&req)).await? {
        let retry = match in_sign_in {
            true => Some(
                login::challenge(env, cfg, &user, SETUP_VERIFY)
                    .await?
                    .session,
            ),
            false => None,
        };
        return Err(ApiError::new(ErrorCode::MfaInvalid, "Invalid MFA code")
            .with_details(json!({"session": retry}))
            .into());
    }
    if in_sign_in {
        let tokens = tokens::issue(env, &keys, &user, None).await?;
        return json_ok(&tokens, "MFA enabled; login successful", 200);
    }
    json_ok(
        &json!({"mfa_enabled": true}),
        "MFA enabled successfully",
        200,
    )
}
