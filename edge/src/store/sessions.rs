//! Login challenge sessions (one use, 3 minutes) and refresh tokens (rotated, families).
//! Only SHA-256 digests of the tokens are stored.

use meshfed_shared::auth::codes::digest_hex;
use serde::Deserialize;
use worker::D1Database;

use crate::error::EdgeResult;

pub const REFRESH_LIFETIME_MS: i64 = 7 * 24 * 60 * 60 * 1000;

pub async fn create_challenge(
    db: &D1Database,
    session: &str,
    user_id: &str,
    challenge: &str,
    now: i64,
    lifetime_ms: i64,
) -> EdgeResult<()> {
    db.prepare("INSERT INTO challenge_sessions (session_hash, user_id, challenge, expires_at) VALUES (?1, ?2, ?3, ?4)")
        .bind(&[digest_hex(session).into(), user_id.into(), challenge.into(), ((now + lifetime_ms) as f64).into()])?
        .run()
        .await?;
    Ok(())
}

/// Why a challenge session was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionProblem {
    Unknown,
    Used,
    Expired,
}

/// Uses up the session (whatever comes next) and returns its user id and challenge. Used,
/// expired and unknown sessions are told apart for the caller's message.
pub async fn take_challenge(
    db: &D1Database,
    session: &str,
    now: i64,
) -> EdgeResult<Result<(String, String), SessionProblem>> {
    #[derive(Deserialize)]
    struct Row {
        user_id: String,
        challenge: String,
        expires_at: i64,
        used_at: Option<i64>,
    }
    let hash = digest_hex(session);
    let row: Option<Row> = db
        .prepare("SELECT user_id, challenge, expires_at, used_at FROM challenge_sessions WHERE session_hash = ?1")
        .bind(&[hash.as_str().into()])?
        .first(None)
        .await?;
    let Some(row) = row else {
        return Ok(Err(SessionProblem::Unknown));
    };
    if row.used_at.is_some() {
        return Ok(Err(SessionProblem::Used));
    }
    if row.expires_at <= now {
        return Ok(Err(SessionProblem::Expired));
    }
    let changed = super::changed_rows(db
        .prepare("UPDATE challenge_sessions SET used_at = ?2 WHERE session_hash = ?1 AND used_at IS NULL")
        .bind(&[hash.as_str().into(), (now as f64).into()])?).await?;
    if changed != 1 {
        return Ok(Err(SessionProblem::Used));
    }
    Ok(Ok((row.user_id, row.challenge)))
}

pub async fn insert_refresh(
    db: &D1Database,
    token: &str,
    family: &str,
    user_id: &str,
    now: i64,
) -> EdgeResult<()> {
    db.prepare(
        "INSERT INTO refresh_tokens (token_hash, family_id, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .bind(&[digest_hex(token).into(), family.into(), user_id.into(), (now as f64).into(), ((now + REFRESH_LIFETIME_MS) as f64).into()])?
    .run()
    .await?;
    Ok(())
}
