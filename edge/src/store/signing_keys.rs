//! The development signing key (`signing_keys`): generated once when no `JWT_SIGNING_KEY` is
//! configured, then shared by every isolate. Production keys never touch D1.

use serde::Deserialize;
use worker::query;
use worker::D1Database;

use crate::error::EdgeResult;

#[derive(Deserialize)]
pub struct SigningKeyRow {
    pub kid: String,
    /// The Ed25519 seed, hex.
    pub private_key: String,
}

/// The first key, if there is one: whichever key was stored first is the key.
pub async fn first(db: &D1Database) -> EdgeResult<Option<SigningKeyRow>> {
    let select = "SELECT kid, private_key FROM signing_keys ORDER BY created_at, kid LIMIT 1";
    Ok(db.prepare(select).first(None).await?)
}

/// Stores a key unless `kid` exists; a racing request's key may be first instead.
pub async fn insert(db: &D1Database, kid: &str, seed_hex: &str, now: i64) -> EdgeResult<()> {
    query!(
        &db,
        "INSERT OR IGNORE INTO signing_keys (kid, private_key, created_at) VALUES (?1, ?2, ?3)",
        kid,
        seed_hex,
        now
    )?
    .run()
    .await?;
    Ok(())
}
