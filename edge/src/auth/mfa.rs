//! TOTP MFA: setup (secret, otpauth URI, QR code, backup codes), verify (enables it; in the
//! sign-in flow returns tokens), the sign-in challenge, and disable. A TOTP step or backup
//! code once accepted is refused again; the check-and-mark is one conditional UPDATE.

use meshfed_shared::api::auth::MfaSetup;
use meshfed_shared::auth::{codes, qr, seal, totp};
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
use crate::random;
use crate::store::sessions::{self, SessionProblem};
use crate::store::{self, users, users::UserRow};

pub const ISSUER: &str = "Meshfed";
pub const SETUP_VERIFY: &str = "MFA_SETUP_VERIFY";
const BACKUP_CODES: usize = 10;

#[derive(Debug, Default, Deserialize)]
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

/// A new pending TOTP secret and 10 backup codes for `user` (replacing earlier ones).
/// Returns the secret in base32 and the backup codes, both shown once.
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
    let db = store::db(env)?;
    let mut batch = vec![
        db.prepare("UPDATE users SET mfa_pending_enc = ?2 WHERE id = ?1")
            .bind(&[user.id.as_str().into(), sealed.into()])?,
        db.prepare("DELETE FROM backup_codes WHERE user_id = ?1")
            .bind(&[user.id.as_str().into()])?,
    ];
    for code in &backup {
        batch.push(
            db.prepare("INSERT OR IGNORE INTO backup_codes (user_id, code_hash) VALUES (?1, ?2)")
                .bind(&[user.id.as_str().into(), codes::digest_hex(code).into()])?,
        );
    }
    db.batch(batch).await?;
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
    store::db(env)?
        .prepare(
            "UPDATE users SET mfa_secret_enc = mfa_pending_enc, mfa_pending_enc = NULL, mfa_enabled = 1, \
             mfa_last_step = ?2 WHERE id = ?1",
        )
        .bind(&[user.id.as_str().into(), (step as f64).into()])?
        .run()
        .await?;
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
        let retry = login::challenge(
            env,
            cfg,
            &user,
            meshfed_shared::api::auth::CHALLENGE_SOFTWARE_TOKEN,
        )
        .await?
        .session;
        let api = e.into_api_error("mfa challenge");
        return Err(api.with_details(json!({"session": retry})).into());
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
    let db = store::db(env)?;
    db.batch(vec![
        db.prepare(
            "UPDATE users SET mfa_enabled = 0, mfa_secret_enc = NULL, mfa_pending_enc = NULL, \
             mfa_last_step = NULL WHERE id = ?1",
        )
        .bind(&[user_id.into()])?,
        db.prepare("DELETE FROM backup_codes WHERE user_id = ?1")
            .bind(&[user_id.into()])?,
    ])
    .await?;
    Ok(())
}

/// Accepts a current TOTP code (once per step) or an unused backup code (once).
pub async fn check_second_factor(
    env: &Env,
    keys: &ServerKeys,
    user: &UserRow,
    code: &str,
    client: &str,
) -> EdgeResult<()> {
    let db = store::db(env)?;
    let code = code.trim();
    let invalid = || ApiError::new(ErrorCode::MfaInvalid, "Invalid MFA code");
    let accepted = if code.len() == 8 {
        let result = store::changed_rows(db
            .prepare("UPDATE backup_codes SET used_at = ?3 WHERE user_id = ?1 AND code_hash = ?2 AND used_at IS NULL")
            .bind(&[user.id.as_str().into(), codes::digest_hex(code).into(), (now_ms() as f64).into()])?).await?;
        result == 1
    } else {
        let secret = user
            .mfa_secret_enc
            .as_ref()
            .and_then(|s| seal::open(&keys.totp_seal_key(), s.expose()))
            .and_then(|b32| totp::base32_decode(&String::from_utf8_lossy(&b32)))
            .ok_or_else(invalid)?;
        match totp::verify(&secret, code, (now_ms() / 1000) as u64, None) {
            Some(step) => {
                let result = store::changed_rows(
                    db.prepare(
                        "UPDATE users SET mfa_last_step = ?2 WHERE id = ?1 \
                         AND (mfa_last_step IS NULL OR mfa_last_step < ?2)",
                    )
                    .bind(&[user.id.as_str().into(), (step as f64).into()])?,
                )
                .await?;
                result == 1
            }
            None => false,
        }
    };
    if !accepted {
        audit::record(env, Some(&user.id), "mfa_failed", client, None).await?;
        return Err(invalid().into());
    }
    Ok(())
}
