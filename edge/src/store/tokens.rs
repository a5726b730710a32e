//! What makes a token void: refresh tokens (`refresh_tokens`: SHA-256 digests, rotated,
//! grouped in families, one per sign-in), access tokens denied at logout (`denied_jtis`) and
//! per-user cutoffs before which every token is revoked (`session_cutoffs`, whole seconds).

use meshfed_shared::auth::codes::digest_hex;
use serde::Deserialize;
use worker::query;
use worker::D1Database;

use crate::error::EdgeResult;

pub const REFRESH_LIFETIME_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// A refresh token's row, found by the digest of the token.
#[derive(Debug, Deserialize)]
pub struct RefreshRow {
    pub family_id: String,
    pub user_id: String,
    pub expires_at: i64,
    pub rotated_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

pub async fn insert_refresh(
    db: &D1Database,
    token: &str,
    family: &str,
    user_id: &str,
    now: i64,
) -> EdgeResult<()> {
    query!(
        &db,
        "INSERT INTO refresh_tokens (token_hash, family_id, user_id, created_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        digest_hex(token),
        family,
        user_id,
        now,
        now + REFRESH_LIFETIME_MS
    )?
    .run()
    .await?;
    Ok(())
}

pub async fn find_refresh(db: &D1Database, token_hash: &str) -> EdgeResult<Option<RefreshRow>> {
    Ok(query!(
        &db,
        "SELECT family_id, user_id, expires_at, rotated_at, revoked_at FROM refresh_tokens \
         WHERE token_hash = ?1",
        token_hash
    )?
    .first(None)
    .await?)
}

/// Marks the token used; `false` when it was already rotated or revoked (a concurrent use).
pub async fn mark_rotated(db: &D1Database, token_hash: &str, now: i64) -> EdgeResult<bool> {
    let changed = super::changed_rows(query!(
        &db,
        "UPDATE refresh_tokens SET rotated_at = ?2 \
         WHERE token_hash = ?1 AND rotated_at IS NULL AND revoked_at IS NULL",
        token_hash,
        now
    )?)
    .await?;
    Ok(changed == 1)
}

/// Revokes a sign-in's family of refresh tokens (and with it the tokens issued in it).
pub async fn revoke_family(db: &D1Database, family: &str, now: i64) -> EdgeResult<()> {
    query!(
        &db,
        "UPDATE refresh_tokens SET revoked_at = ?2 WHERE family_id = ?1 AND revoked_at IS NULL",
        family,
        now
    )?
    .run()
    .await?;
    Ok(())
}

/// Revokes the family of `user_id`'s sign-in `family`, or of the refresh token with digest
/// `token_hash` (logout): someone else's family is left alone.
pub async fn revoke_own_family(
    db: &D1Database,
    user_id: &str,
    family: Option<&str>,
    token_hash: Option<&str>,
    now: i64,
) -> EdgeResult<()> {
    query!(
        &db,
        "UPDATE refresh_tokens SET revoked_at = ?4 WHERE revoked_at IS NULL AND user_id = ?1 \
         AND (family_id = ?2 OR family_id = \
           (SELECT family_id FROM refresh_tokens WHERE token_hash = ?3 AND user_id = ?1))",
        user_id,
        family,
        token_hash,
        now
    )?
    .run()
    .await?;
    Ok(())
}

/// Refuses the access token `jti` until it expires (`expires_at`, ms).
pub async fn deny(db: &D1Database, jti: &str, expires_at: i64) -> EdgeResult<()> {
    query!(
        &db,
        "INSERT OR IGNORE INTO denied_jtis (jti, expires_at) VALUES (?1, ?2)",
        jti,
        expires_at
    )?
    .run()
    .await?;
    Ok(())
}

/// Revokes every refresh token of the user and every token issued up to this second.
pub async fn revoke_all(db: &D1Database, user_id: &str, now: i64) -> EdgeResult<()> {
    db.batch(vec![
        query!(
            &db,
            "UPDATE refresh_tokens SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL",
            user_id,
            now
        )?,
        // Tokens carry whole seconds: everything issued up to this second is revoked.
        query!(
            &db,
            "INSERT INTO session_cutoffs (user_id, not_before) VALUES (?1, ?2) \
             ON CONFLICT(user_id) DO UPDATE SET not_before = excluded.not_before",
            user_id,
            now / 1000 + 1
        )?,
    ])
    .await?;
    Ok(())
}

/// The second before which the user's tokens are revoked, if any.
pub async fn cutoff(db: &D1Database, user_id: &str) -> EdgeResult<Option<i64>> {
    Ok(query!(
        &db,
        "SELECT not_before FROM session_cutoffs WHERE user_id = ?1",
        user_id
    )?
    .first(Some("not_before"))
    .await?)
}

/// Whether a token (`jti`, issued at `iat` in sign-in `sid`) of `user_id` was revoked:
/// denied at logout, issued before the user's cutoff, or of a revoked sign-in.
pub async fn is_revoked(
    db: &D1Database,
    jti: &str,
    user_id: &str,
    iat: i64,
    sid: Option<&str>,
) -> EdgeResult<bool> {
    let revoked: Option<i64> = query!(
        &db,
        "SELECT 1 AS revoked FROM denied_jtis WHERE jti = ?1 \
         UNION SELECT 1 FROM session_cutoffs WHERE user_id = ?2 AND not_before > ?3 \
         UNION SELECT 1 FROM refresh_tokens WHERE family_id = ?4 AND user_id = ?2 \
         AND revoked_at IS NOT NULL LIMIT 1",
        jti,
        user_id,
        iat,
        sid
    )?
    .first(Some("revoked"))
    .await?;
    Ok(revoked.is_some())
}
