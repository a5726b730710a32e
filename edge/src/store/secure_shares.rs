//! The `secure_shares` and `secure_reveals` tables: the sealed shares members send each other
//! (opaque to the server) and the shares survivors reveal for unmasking.

use meshfed_shared::secagg::{Reveal, SealedShare, Secret};
use serde::Deserialize;
use worker::query;
use worker::D1Database;

use super::secure::mark;
use crate::error::{EdgeError, EdgeResult};

#[derive(Debug, Clone, Deserialize)]
struct ShareRow {
    from_x: i64,
    to_x: i64,
    ciphertext: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RevealRow {
    pub from_x: i64,
    pub about_x: i64,
    pub secret: String,
    pub share: String,
}

/// Stores one member's sealed shares and marks it as having shared; one transaction.
pub async fn insert_shares(
    db: &D1Database,
    run_id: i64,
    round: u32,
    user_id: &str,
    shares: &[SealedShare],
) -> EdgeResult<()> {
    let mut writes = vec![];
    for s in shares {
        writes.push(query!(
            &db,
            "INSERT INTO secure_shares (run_id, round, from_x, to_x, ciphertext) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            run_id,
            round,
            s.from,
            s.to,
            hex::encode(&s.ciphertext)
        )?);
    }
    writes.push(mark(db, run_id, round, user_id, "shared = 1")?);
    db.batch(writes).await?;
    Ok(())
}

/// The sealed shares member `from` sent.
pub async fn shares_from(
    db: &D1Database,
    run_id: i64,
    round: u32,
    from: u8,
) -> EdgeResult<Vec<SealedShare>> {
    shares(db, run_id, round, "from_x = ?3 ORDER BY to_x", from).await
}

/// The sealed shares addressed to member `to`.
pub async fn shares_to(
    db: &D1Database,
    run_id: i64,
    round: u32,
    to: u8,
) -> EdgeResult<Vec<SealedShare>> {
    shares(db, run_id, round, "to_x = ?3 ORDER BY from_x", to).await
}

/// The round's sealed shares that meet `condition` (on member `x`, `?3`).
async fn shares(
    db: &D1Database,
    run_id: i64,
    round: u32,
    condition: &str,
    x: u8,
) -> EdgeResult<Vec<SealedShare>> {
    let rows: Vec<ShareRow> = query!(
        &db,
        format!(
            "SELECT from_x, to_x, ciphertext FROM secure_shares \
             WHERE run_id = ?1 AND round = ?2 AND {condition}"
        ),
        run_id,
        round,
        x
    )?
    .all()
    .await?
    .results()?;
    rows.into_iter().map(sealed).collect()
}

fn sealed(r: ShareRow) -> EdgeResult<SealedShare> {
    Ok(SealedShare {
        from: r.from_x as u8,
        to: r.to_x as u8,
        ciphertext: hex::decode(&r.ciphertext)
            .map_err(|e| EdgeError::Internal(format!("stored share: {e}")))?,
    })
}

/// Stores one survivor's reveals and marks it as having revealed; one transaction.
pub async fn insert_reveals(
    db: &D1Database,
    run_id: i64,
    round: u32,
    user_id: &str,
    from: u8,
    reveals: &[Reveal],
) -> EdgeResult<()> {
    let mut writes = vec![];
    for r in reveals {
        let secret = match r.secret {
            Secret::SelfMask => "self_mask",
            Secret::MaskKey => "mask_key",
        };
        writes.push(query!(
            &db,
            "INSERT INTO secure_reveals (run_id, round, from_x, about_x, secret, share) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            run_id,
            round,
            from,
            r.about,
            secret,
            hex::encode(r.share)
        )?);
    }
    writes.push(mark(db, run_id, round, user_id, "revealed = 1")?);
    db.batch(writes).await?;
    Ok(())
}

pub async fn reveals(db: &D1Database, run_id: i64, round: u32) -> EdgeResult<Vec<(u8, Reveal)>> {
    let rows: Vec<RevealRow> = query!(
        &db,
        "SELECT from_x, about_x, secret, share FROM secure_reveals \
             WHERE run_id = ?1 AND round = ?2",
        run_id,
        round
    )?
    .all()
    .await?
    .results()?;
    rows.into_iter()
        .map(|r| {
            let share: [u8; 32] = hex::decode(&r.share)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| EdgeError::Internal("a stored share is not 32 bytes".into()))?;
            let secret = match r.secret.as_str() {
                "self_mask" => Secret::SelfMask,
                _ => Secret::MaskKey,
            };
            let about = r.about_x as u8;
            Ok((
                r.from_x as u8,
                Reveal {
                    about,
                    secret,
                    share,
                },
            ))
        })
        .collect()
}
