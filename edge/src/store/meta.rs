//! The `meta` table: the schema version the first migration writes, and the development
//! persistence probe's notes (`_dev/probe`).

use worker::query;
use worker::D1Database;

use crate::error::EdgeResult;

/// The schema version, `None` when D1 is not migrated.
pub async fn schema_version(db: &D1Database) -> EdgeResult<Option<String>> {
    Ok(db
        .prepare("SELECT value FROM meta WHERE key = 'schema_version'")
        .first(Some("value"))
        .await?)
}

pub async fn set(db: &D1Database, key: &str, value: &str, now: i64) -> EdgeResult<()> {
    query!(
        &db,
        "INSERT INTO meta (key, value, updated_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        key,
        value,
        now
    )?
    .run()
    .await?;
    Ok(())
}

pub async fn get(db: &D1Database, key: &str) -> EdgeResult<Option<String>> {
    Ok(query!(&db, "SELECT value FROM meta WHERE key = ?1", key)?
        .first(Some("value"))
        .await?)
}
