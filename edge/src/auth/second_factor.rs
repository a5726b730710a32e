//! The second factor of a sign-in (and of MFA changes): a current TOTP code, once per step, or
//! an unused backup code, once. Wrong codes count per account across sign-in sessions, clients
//! and routes; beyond `MFA_FAILURES` in a lockout window every code is refused (423) until the
//! window ends, so a guesser who knows the password gets 5 tries per 15 minutes, not one per
//! fresh session. Every code is counted before it is checked (parallel guesses cannot slip in
//! under the limit) and a right one is taken back.

use meshfed_shared::auth::rate_limit::{mfa_failure_rule, Decision};
use meshfed_shared::auth::{codes, seal, totp};
use meshfed_shared::time::rfc3339_from_unix_ms;
use meshfed_shared::{ApiError, ErrorCode};
use serde_json::json;
use worker::Env;

use super::keys::ServerKeys;
use crate::audit;
use crate::config::Config;
use crate::error::EdgeResult;
use crate::http::now_ms;
use crate::rate_limit;
use crate::store::{self, users::UserRow};

/// Accepts a current TOTP code (once per step) or an unused backup code (once).
pub async fn check_second_factor(
    env: &Env,
    keys: &ServerKeys,
    user: &UserRow,
    code: &str,
    client: &str,
) -> EdgeResult<()> {
    let cfg = Config::from_env(env);
    let rule = mfa_failure_rule(cfg.lockout_secs);
    let bucket = format!("mfa-failures:{}", user.id);
    // Counted before the code is looked at, so parallel guesses cannot all slip in under the
    // limit; a right code takes its count back.
    let d = rate_limit::hit(env, &bucket, rule, 1).await?;
    if !d.allowed {
        audit::record(env, Some(&user.id), "mfa_refused_locked", client, None).await?;
        return Err(locked(&d).into());
    }
    let db = store::db(env)?;
    let code = code.trim();
    let invalid = || ApiError::new(ErrorCode::MfaInvalid, "Invalid MFA code");
    let accepted = if code.len() == 8 {
        let digest = codes::digest_hex(code);
        store::mfa::use_backup_code(&db, &user.id, &digest, now_ms()).await?
    } else {
        let secret = user
            .mfa_secret_enc
            .as_ref()
            .and_then(|s| seal::open(&keys.totp_seal_key(), s.expose()))
            .and_then(|b32| totp::base32_decode(&String::from_utf8_lossy(&b32)))
            .ok_or_else(invalid)?;
        match totp::verify(&secret, code, (now_ms() / 1000) as u64, None) {
            Some(step) => store::mfa::advance_step(&db, &user.id, step).await?,
            None => false,
        }
    };
    if !accepted {
        audit::record(env, Some(&user.id), "mfa_failed", client, None).await?;
        if d.remaining == 0 {
            audit::record(env, Some(&user.id), "mfa_locked", client, None).await?;
            return Err(locked(&d).into());
        }
        return Err(invalid()
            .with_details(json!({"attempts_remaining": d.remaining}))
            .into());
    }
    rate_limit::take_back(env, &bucket, d.reset - i64::from(rule.window_secs)).await?;
    Ok(())
}

/// 423: too many wrong codes; says when codes are taken again.
fn locked(d: &Decision) -> ApiError {
    ApiError::new(
        ErrorCode::AccountLocked,
        "Too many wrong codes: the second factor is locked for a while",
    )
    .with_details(json!({
        "attempts_remaining": 0,
        "lockout_time": rfc3339_from_unix_ms(d.reset * 1000),
        "retry_after": d.retry_after,
    }))
}
