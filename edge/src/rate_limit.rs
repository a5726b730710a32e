//! Rate limiting with fixed-window counters in D1 (one atomic upsert per check).
//!
//! Clients are told apart by `CF-Connecting-IP`, which Cloudflare sets on every request at the
//! edge (and overwrites if a client sends it). Without it (local development) no client limit
//! applies; per-account limits always do.

use meshfed_shared::auth::rate_limit::{decide, window_start, Decision, Rule};
use meshfed_shared::{ApiError, ErrorCode};
use worker::{Env, Response};

use crate::error::EdgeResult;
use crate::http::now_ms;
use crate::store::{self, rate_limits};

/// Counts one request against `bucket` under `rule` (scaled by `multiplier`).
pub async fn hit(env: &Env, bucket: &str, rule: Rule, multiplier: u32) -> EdgeResult<Decision> {
    let rule = Rule {
        limit: rule.limit.saturating_mul(multiplier),
        ..rule
    };
    let now = now_ms() / 1000;
    let start = window_start(rule, now);
    let row = rate_limits::hit(&store::db(env)?, bucket, start).await?;
    Ok(decide(rule, row.window_start, row.count, now))
}

/// Takes back one request counted by `hit` in the window starting at `start` (a success that
/// should not count against a failure limit). Nothing when that window has ended.
pub async fn take_back(env: &Env, bucket: &str, start: i64) -> EdgeResult<()> {
    rate_limits::take_back(&store::db(env)?, bucket, start).await
}

/// Counts a request of `user_id` against the per-user limit of `class`; beyond it, the 429.
pub async fn limit_user(env: &Env, class: &str, user_id: &str) -> EdgeResult<()> {
    let Some(rule) = meshfed_shared::auth::rate_limit::user_rule(class) else {
        return Ok(());
    };
    let multiplier = crate::config::Config::from_env(env).rate_limit_multiplier;
    let decision = hit(env, &format!("user:{class}:{user_id}"), rule, multiplier).await?;
    if decision.allowed {
        Ok(())
    } else {
        Err(exceeded(&decision).into())
    }
}

/// 429 `RATE_LIMIT_EXCEEDED` for a refused decision.
pub fn exceeded(decision: &Decision) -> ApiError {
    ApiError::new(
        ErrorCode::RateLimitExceeded,
        "Too many requests: try again later",
    )
    .with_details(serde_json::json!({"retry_after": decision.retry_after, "limit": decision.limit}))
}

/// Adds `X-RateLimit-*` (and `Retry-After` when refused) to a response.
pub fn annotate(mut resp: Response, decision: &Decision) -> worker::Result<Response> {
    let headers = resp.headers_mut();
    headers.set("x-ratelimit-limit", &decision.limit.to_string())?;
    headers.set("x-ratelimit-remaining", &decision.remaining.to_string())?;
    headers.set("x-ratelimit-reset", &decision.reset.to_string())?;
    if !decision.allowed {
        headers.set("retry-after", &decision.retry_after.to_string())?;
    }
    Ok(resp)
}
