//! The development outbox (`dev_outbox`): mail that a development Worker keeps instead of
//! sending, for the tests and the developer to read (`GET /api/_dev/outbox`).

use serde::{Deserialize, Serialize};
use worker::query;
use worker::D1Database;

use crate::error::EdgeResult;

/// One message in the development outbox.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OutboxMessage {
    pub to: String,
    pub subject: String,
    pub body: String,
    pub created_at: i64,
}

/// Keeps a message to `to` instead of sending it.
pub async fn insert(
    db: &D1Database,
    to: &str,
    subject: &str,
    body: &str,
    now: i64,
) -> EdgeResult<()> {
    query!(
        &db,
        "INSERT INTO dev_outbox (to_addr, subject, body, created_at) VALUES (?1, ?2, ?3, ?4)",
        to,
        subject,
        body,
        now
    )?
    .run()
    .await?;
    Ok(())
}

/// The latest 50 messages to `to`, newest first.
pub async fn to(db: &D1Database, to: &str) -> EdgeResult<Vec<OutboxMessage>> {
    Ok(query!(
        &db,
        "SELECT to_addr AS \"to\", subject, body, created_at FROM dev_outbox \
         WHERE to_addr = ?1 ORDER BY id DESC LIMIT 50",
        to
    )?
    .all()
    .await?
    .results()?)
}
