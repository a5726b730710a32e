//! The `secure_rounds` and `secure_members` tables: each secure round's phase, its members,
//! their keys and what they have sent (the sealed shares and reveals themselves are in
//! [`super::secure_shares`]).

use meshfed_shared::api::runs::SecurePhase;
use meshfed_shared::secagg::identity::SignedKeys;
use meshfed_shared::secagg::KeyAdvert;
use serde::Deserialize;
use worker::query;
use worker::{D1Database, D1PreparedStatement};

use crate::error::{EdgeError, EdgeResult};

#[derive(Debug, Clone, Deserialize)]
pub struct SecureRoundRow {
    pub phase: String,
    pub phase_deadline_at: i64,
    pub threshold: Option<i64>,
    pub attempt: i64,
}

impl SecureRoundRow {
    pub fn phase(&self) -> EdgeResult<SecurePhase> {
        SecurePhase::parse(&self.phase)
            .ok_or_else(|| EdgeError::Internal(format!("unknown secure phase {}", self.phase)))
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct MemberRow {
    pub user_id: String,
    pub x: Option<i64>,
    pub c_pk: String,
    pub s_pk: String,
    pub shared: i64,
    pub input_key: Option<String>,
    pub revealed: i64,
    /// The member's signature of its keys (hex), and the public key it verifies against.
    pub signature: Option<String>,
    pub public_key: Option<String>,
    pub username: String,
}

impl MemberRow {
    pub fn keys(&self) -> EdgeResult<KeyAdvert> {
        let json = serde_json::json!({"c_pk": self.c_pk, "s_pk": self.s_pk});
        Ok(serde_json::from_value(json)?)
    }
}

pub async fn round(db: &D1Database, run_id: i64, round: u32) -> EdgeResult<Option<SecureRoundRow>> {
    Ok(query!(
        &db,
        "SELECT phase, phase_deadline_at, threshold, attempt FROM secure_rounds \
             WHERE run_id = ?1 AND round = ?2",
        run_id,
        round
    )?
    .first(None)
    .await?)
}

/// Opens the round's key phase (nothing if it is open already).
pub async fn start(db: &D1Database, run_id: i64, round: u32, deadline: i64) -> EdgeResult<()> {
    query!(
        &db,
        "INSERT OR IGNORE INTO secure_rounds (run_id, round, phase, phase_deadline_at) \
         VALUES (?1, ?2, 'keys', ?3)",
        run_id,
        round,
        deadline
    )?
    .run()
    .await?;
    Ok(())
}

pub async fn members(db: &D1Database, run_id: i64, round: u32) -> EdgeResult<Vec<MemberRow>> {
    Ok(query!(
        &db,
        "SELECT m.user_id, m.x, m.c_pk, m.s_pk, m.shared, m.input_key, m.revealed, \
             m.signature, u.public_key, u.username FROM secure_members m \
             JOIN users u ON u.id = m.user_id \
             WHERE m.run_id = ?1 AND m.round = ?2 ORDER BY m.user_id",
        run_id,
        round
    )?
    .all()
    .await?
    .results()?)
}

pub async fn advertise(
    db: &D1Database,
    run_id: i64,
    round: u32,
    user_id: &str,
    signed: &SignedKeys,
) -> EdgeResult<()> {
    let json = serde_json::to_value(signed)?;
    let text = |field: &str| json[field].as_str().unwrap_or_default();
    let (c_pk, s_pk, signature) = (text("c_pk"), text("s_pk"), text("signature"));
    query!(
        &db,
        "INSERT INTO secure_members (run_id, round, user_id, c_pk, s_pk, signature) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        run_id,
        round,
        user_id,
        c_pk,
        s_pk,
        signature
    )?
    .run()
    .await?;
    Ok(())
}

/// The Ed25519 public key (hex) a user's recovery phrase derives, stored at confirmation.
pub async fn public_key(db: &D1Database, user_id: &str) -> EdgeResult<Option<String>> {
    #[derive(Deserialize)]
    struct Row {
        public_key: Option<String>,
    }
    let row: Option<Row> = query!(&db, "SELECT public_key FROM users WHERE id = ?1", user_id)?
        .first(None)
        .await?;
    Ok(row.and_then(|r| r.public_key))
}

fn set_phase_statement(
    db: &D1Database,
    run_id: i64,
    round: u32,
    phase: SecurePhase,
    deadline: i64,
) -> EdgeResult<D1PreparedStatement> {
    Ok(query!(
        &db,
        "UPDATE secure_rounds SET phase = ?3, phase_deadline_at = ?4 \
             WHERE run_id = ?1 AND round = ?2",
        run_id,
        round,
        phase.as_str(),
        deadline
    )?)
}

/// Fixes the members' indices and the threshold, and moves on to the shares; one transaction.
pub async fn fix_keys(
    db: &D1Database,
    run_id: i64,
    round: u32,
    indices: &[(String, u8)],
    threshold: usize,
    deadline: i64,
) -> EdgeResult<()> {
    let mut writes = vec![query!(
        &db,
        "UPDATE secure_rounds SET threshold = ?3 WHERE run_id = ?1 AND round = ?2",
        run_id,
        round,
        threshold
    )?];
    for (user, x) in indices {
        writes.push(query!(
            &db,
            "UPDATE secure_members SET x = ?4 WHERE run_id = ?1 AND round = ?2 \
                 AND user_id = ?3",
            run_id,
            round,
            user.as_str(),
            *x
        )?);
    }
    writes.push(set_phase_statement(
        db,
        run_id,
        round,
        SecurePhase::Shares,
        deadline,
    )?);
    db.batch(writes).await?;
    Ok(())
}

pub async fn set_phase(
    db: &D1Database,
    run_id: i64,
    round: u32,
    phase: SecurePhase,
    deadline: i64,
) -> EdgeResult<()> {
    set_phase_statement(db, run_id, round, phase, deadline)?
        .run()
        .await?;
    Ok(())
}

pub(super) fn mark(
    db: &D1Database,
    run_id: i64,
    round: u32,
    user_id: &str,
    set: &str,
) -> EdgeResult<D1PreparedStatement> {
    Ok(query!(
        &db,
        format!(
            "UPDATE secure_members SET {set} WHERE run_id = ?1 AND round = ?2 AND user_id = ?3"
        ),
        run_id,
        round,
        user_id
    )?)
}

pub async fn set_input(
    db: &D1Database,
    run_id: i64,
    round: u32,
    user_id: &str,
    r2_key: &str,
) -> EdgeResult<()> {
    query!(
        &db,
        "UPDATE secure_members SET input_key = ?4 WHERE run_id = ?1 AND round = ?2 \
         AND user_id = ?3",
        run_id,
        round,
        user_id,
        r2_key
    )?
    .run()
    .await?;
    Ok(())
}

/// Starts the round's secure phases over (too few stayed) as its next attempt: everything
/// sent is dropped (the caller deletes the masked inputs from R2 first).
pub async fn restart(db: &D1Database, run_id: i64, round: u32, deadline: i64) -> EdgeResult<()> {
    let mut writes = vec![];
    for table in ["secure_members", "secure_shares", "secure_reveals"] {
        writes.push(query!(
            &db,
            format!("DELETE FROM {table} WHERE run_id = ?1 AND round = ?2"),
            run_id,
            round
        )?);
    }
    writes.push(query!(
        &db,
        "UPDATE secure_rounds SET phase = 'keys', phase_deadline_at = ?3, threshold = NULL, \
             attempt = attempt + 1 WHERE run_id = ?1 AND round = ?2",
        run_id,
        round,
        deadline
    )?);
    db.batch(writes).await?;
    Ok(())
}
