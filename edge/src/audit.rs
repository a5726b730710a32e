//! The audit log in D1: security events with time, user and client. Never holds a secret.

use worker::{Env, Request};

use crate::error::EdgeResult;
use crate::http::now_ms;
use crate::store::{self, audit_log};

/// The client address for rate limits and the audit log (`CF-Connecting-IP`, set by
/// Cloudflare at the edge; tests set it to act as distinct clients).
pub fn client_of(req: &Request) -> String {
    req.headers()
        .get("cf-connecting-ip")
        .ok()
        .flatten()
        .unwrap_or_else(|| "unknown".into())
}

pub async fn record(
    env: &Env,
    user_id: Option<&str>,
    event: &str,
    client: &str,
    detail: Option<&str>,
) -> EdgeResult<()> {
    let event = audit_log::Event {
        at: now_ms(),
        user_id,
        event,
        client,
        detail,
    };
    audit_log::insert(&store::db(env)?, &event).await
}
