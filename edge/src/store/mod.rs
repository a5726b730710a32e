//! D1 access, one module per table group. Handlers call these; SQL lives nowhere else.

pub mod accounts;
pub mod audit_log;
pub mod codes;
pub mod dev_outbox;
pub mod meta;
pub mod mfa;
pub mod part_uploads;
pub mod plans;
pub mod rate_limits;
pub mod rounds;
pub mod runs;
pub mod secure;
pub mod secure_shares;
pub mod sessions;
pub mod signing_keys;
pub mod sweep;
pub mod tokens;
pub mod users;

use worker::{D1Database, D1PreparedStatement, Env};

use crate::error::EdgeResult;

pub fn db(env: &Env) -> EdgeResult<D1Database> {
    Ok(env.d1("DB")?)
}

/// Runs a write and returns how many rows it changed (0 when a condition did not hold:
/// the basis of every "use once" check).
pub async fn changed_rows(statement: D1PreparedStatement) -> EdgeResult<usize> {
    Ok(statement
        .run()
        .await?
        .meta()?
        .and_then(|m| m.changes)
        .unwrap_or(0))
}
