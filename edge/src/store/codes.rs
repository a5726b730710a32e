//! Emailed one-time codes (`email_codes`): stored as SHA-256 digests, 15 minutes, single use,
//! at most `MAX_ATTEMPTS` wrong guesses before the code is void, counted across resends.

use meshfed_shared::auth::codes::digest_hex;
use meshfed_shared::secret::constant_time_eq;
use serde::Deserialize;
use worker::query;
use worker::D1Database;

use crate::error::EdgeResult;

pub const LIFETIME_MS: i64 = 15 * 60 * 1000;
pub const MAX_ATTEMPTS: i64 = 5;

/// Why a presented code was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    Accepted,
    Wrong,
    /// None outstanding: never sent, used, expired or voided by too many guesses.
    Missing,
}

/// Replaces any outstanding code of `purpose` for the user with a new one.
pub async fn issue(
    db: &D1Database,
    user_id: &str,
    purpose: &str,
    code: &str,
    payload: Option<&str>,
    now: i64,
) -> EdgeResult<()> {
    // The new code inherits the wrong guesses of the one it replaces while that one is live,
    // so asking for codes again gives a guesser no fresh attempts; they end with its lifetime.
    db.batch(vec![
        query!(
            &db,
            "INSERT INTO email_codes (user_id, purpose, code_hash, payload, expires_at, attempts) \
             SELECT ?1, ?2, ?3, ?4, ?5, COALESCE((SELECT MAX(attempts) FROM email_codes \
               WHERE user_id = ?1 AND purpose = ?2 AND used_at IS NULL AND expires_at > ?6), 0)",
            user_id,
            purpose,
            digest_hex(code),
            payload,
            now + LIFETIME_MS,
            now
        )?,
        query!(
            &db,
            "DELETE FROM email_codes WHERE user_id = ?1 AND purpose = ?2 AND used_at IS NULL \
             AND id < (SELECT MAX(id) FROM email_codes WHERE user_id = ?1 AND purpose = ?2)",
            user_id,
            purpose
        )?,
    ])
    .await?;
    Ok(())
}

/// Checks `code` against the outstanding one and consumes it when it matches. The update is
/// conditional on `used_at IS NULL`, so two concurrent uses cannot both succeed.
pub async fn consume(
    db: &D1Database,
    user_id: &str,
    purpose: &str,
    code: &str,
    now: i64,
) -> EdgeResult<(CodeCheck, Option<String>)> {
    match check(db, user_id, purpose, code, now).await? {
        Err(why) => Ok((why, None)),
        Ok(right) => Ok(match take(db, &right, now).await? {
            true => (CodeCheck::Accepted, right.payload),
            false => (CodeCheck::Missing, None),
        }),
    }
}

/// The outstanding code `code` matches, not yet consumed (`take` consumes it): a wrong code
/// counts as an attempt.
#[derive(Deserialize)]
pub struct RightCode {
    id: i64,
    code_hash: String,
    pub payload: Option<String>,
}

/// Checks `code` against the outstanding one without consuming it, so a request can still be
/// refused for reasons only the code's holder may be told (and keep the code).
pub async fn check(
    db: &D1Database,
    user_id: &str,
    purpose: &str,
    code: &str,
    now: i64,
) -> EdgeResult<Result<RightCode, CodeCheck>> {
    let row: Option<RightCode> = query!(
        &db,
        "SELECT id, code_hash, payload FROM email_codes WHERE user_id = ?1 AND purpose = ?2 \
             AND used_at IS NULL AND expires_at > ?3 AND attempts < ?4 ORDER BY id DESC LIMIT 1",
        user_id,
        purpose,
        now,
        MAX_ATTEMPTS
    )?
    .first(None)
    .await?;
    let Some(row) = row else {
        return Ok(Err(CodeCheck::Missing));
    };
    if !constant_time_eq(digest_hex(code.trim()).as_bytes(), row.code_hash.as_bytes()) {
        query!(
            &db,
            "UPDATE email_codes SET attempts = attempts + 1 WHERE id = ?1",
            row.id
        )?
        .run()
        .await?;
        return Ok(Err(CodeCheck::Wrong));
    }
    Ok(Ok(row))
}

/// Consumes a code `check` found right; `false` when a concurrent request took it first.
pub async fn take(db: &D1Database, code: &RightCode, now: i64) -> EdgeResult<bool> {
    let changed = super::changed_rows(query!(
        &db,
        "UPDATE email_codes SET used_at = ?2 WHERE id = ?1 AND used_at IS NULL",
        code.id,
        now
    )?)
    .await?;
    Ok(changed == 1)
}
