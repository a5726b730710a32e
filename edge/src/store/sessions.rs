//! Login challenge sessions (one use, 3 minutes); refresh tokens are `tokens`. Only SHA-256
//! digests of the sessions are stored.

use meshfed_shared::auth::codes::digest_hex;
use serde::Deserialize;
use worker::query;
use worker::D1Database;

use crate::error::EdgeResult;

pub async fn create_challenge(
    db: &D1Database,
    session: &str,
    user_id: &str,
    challenge: &str,
    now: i64,
    lifetime_ms: i64,
) -> EdgeResult<()> {
    query!(
        &db,
        "INSERT INTO challenge_sessions (session_hash, user_id, challenge, expires_at) \
         VALUES (?1, ?2, ?3, ?4)",
        digest_hex(session),
        user_id,
        challenge,
        now + lifetime_ms,
    )?
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
    let row: Option<Row> = query!(
        &db,
        "SELECT user_id, challenge, expires_at, used_at FROM challenge_sessions WHERE \
         session_hash = ?1",
        hash.as_str(),
    )?
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
    let changed = super::changed_rows(query!(
        &db,
        "UPDATE challenge_sessions SET used_at = ?2 WHERE session_hash = ?1 AND used_at IS NULL",
        hash.as_str(),
        now
    )?)
    .await?;
    if changed != 1 {
        return Ok(Err(SessionProblem::Used));
    }
    Ok(Ok((row.user_id, row.challenge)))
}
