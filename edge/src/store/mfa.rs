//! A user's second factor: the sealed TOTP secret and its backup codes (`backup_codes`, SHA-256
//! digests). Setting up stages a pending secret and pending codes; enabling swaps them in.

use worker::query;
use worker::D1Database;

use crate::error::EdgeResult;

/// Stages a new sealed secret and the digests of its backup codes (pending until enabled),
/// replacing any earlier staged ones.
pub async fn stage(
    db: &D1Database,
    user_id: &str,
    sealed_secret: &str,
    code_digests: &[String],
) -> EdgeResult<()> {
    let mut batch = vec![
        query!(
            &db,
            "UPDATE users SET mfa_pending_enc = ?2 WHERE id = ?1",
            user_id,
            sealed_secret
        )?,
        query!(
            &db,
            "DELETE FROM backup_codes WHERE user_id = ?1 AND pending = 1",
            user_id
        )?,
    ];
    for digest in code_digests {
        batch.push(query!(
            &db,
            "INSERT OR IGNORE INTO backup_codes (user_id, code_hash, pending) VALUES (?1, ?2, 1)",
            user_id,
            digest
        )?);
    }
    db.batch(batch).await?;
    Ok(())
}

/// Makes the staged secret and codes the user's own, together; `step` is the TOTP step the
/// user confirmed with (not accepted again).
pub async fn enable(db: &D1Database, user_id: &str, step: u64) -> EdgeResult<()> {
    db.batch(vec![
        query!(
            &db,
            "UPDATE users SET mfa_secret_enc = mfa_pending_enc, mfa_pending_enc = NULL, \
             mfa_enabled = 1, mfa_last_step = ?2 WHERE id = ?1",
            user_id,
            step
        )?,
        query!(
            &db,
            "DELETE FROM backup_codes WHERE user_id = ?1 AND pending = 0",
            user_id
        )?,
        query!(
            &db,
            "UPDATE backup_codes SET pending = 0 WHERE user_id = ?1",
            user_id
        )?,
    ])
    .await?;
    Ok(())
}

/// Removes the user's secret (active and staged) and every backup code.
pub async fn clear(db: &D1Database, user_id: &str) -> EdgeResult<()> {
    db.batch(vec![
        query!(
            &db,
            "UPDATE users SET mfa_enabled = 0, mfa_secret_enc = NULL, mfa_pending_enc = NULL, \
             mfa_last_step = NULL WHERE id = ?1",
            user_id
        )?,
        query!(&db, "DELETE FROM backup_codes WHERE user_id = ?1", user_id)?,
    ])
    .await?;
    Ok(())
}

/// Uses up the active backup code with this digest; `false` when there is none (wrong, used
/// or still pending). Two concurrent uses cannot both succeed.
pub async fn use_backup_code(
    db: &D1Database,
    user_id: &str,
    code_digest: &str,
    now: i64,
) -> EdgeResult<bool> {
    let changed = super::changed_rows(query!(
        &db,
        "UPDATE backup_codes SET used_at = ?3 WHERE user_id = ?1 AND code_hash = ?2 \
         AND used_at IS NULL AND pending = 0",
        user_id,
        code_digest,
        now
    )?)
    .await?;
    Ok(changed == 1)
}

/// Records `step` as the last TOTP step used; `false` when it is not later than the last
/// one (a replayed code).
pub async fn advance_step(db: &D1Database, user_id: &str, step: u64) -> EdgeResult<bool> {
    let changed = super::changed_rows(query!(
        &db,
        "UPDATE users SET mfa_last_step = ?2 WHERE id = ?1 \
         AND (mfa_last_step IS NULL OR mfa_last_step < ?2)",
        user_id,
        step
    )?)
    .await?;
    Ok(changed == 1)
}
