//! The audit log (`audit_log`): security events with time, user and client. Never a secret.

use meshfed_shared::api::auth::AuditEntry;
use worker::query;
use worker::D1Database;

use crate::error::EdgeResult;

/// One event to record.
pub struct Event<'a> {
    pub at: i64,
    pub user_id: Option<&'a str>,
    pub event: &'a str,
    pub client: &'a str,
    pub detail: Option<&'a str>,
}

pub async fn insert(db: &D1Database, e: &Event<'_>) -> EdgeResult<()> {
    query!(
        &db,
        "INSERT INTO audit_log (at, user_id, event, client, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
        e.at,
        e.user_id,
        e.event,
        e.client,
        e.detail
    )?
    .run()
    .await?;
    Ok(())
}

/// The latest `limit` events, newest first; only `user_id`'s when it is not empty.
pub async fn latest(db: &D1Database, user_id: &str, limit: u32) -> EdgeResult<Vec<AuditEntry>> {
    Ok(query!(
        &db,
        "SELECT id, at, user_id, event, client, detail FROM audit_log \
         WHERE (?1 = '' OR user_id = ?1) ORDER BY id DESC LIMIT ?2",
        user_id,
        limit
    )?
    .all()
    .await?
    .results()?)
}
