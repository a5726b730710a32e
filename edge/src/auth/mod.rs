//! `/api/auth/…`: the canonical identity API, one module per flow (`routes::identity` lists
//! the routes). Every route is rate limited per client (seed 003's table) and answers with
//! `X-RateLimit-*` headers.

pub mod account;
pub mod admin;
pub mod guard;
pub mod keys;
pub mod login;
pub mod mfa;
pub mod mfa_setup;
pub mod register;
pub mod second_factor;
pub mod session;
pub mod tokens;

use meshfed_shared::auth::rate_limit::{self, Decision};
use worker::{Env, Request};

use crate::config::Config;
use crate::error::EdgeResult;
use crate::rate_limit::{exceeded, hit};

/// Counts a request against the client limit of `route` (seed 003's table), when the request
/// names its client (`CF-Connecting-IP`; IPv6 clients by their /64).
pub async fn client_limit(
    req: &Request,
    env: &Env,
    cfg: &Config,
    route: &str,
) -> EdgeResult<Option<Decision>> {
    let Some(client) = req.headers().get("cf-connecting-ip").ok().flatten() else {
        return Ok(None);
    };
    let (class, rule) = rate_limit::client_rule(route);
    let bucket = format!("client:{class}:{}", rate_limit::client_key(&client));
    Ok(Some(
        hit(env, &bucket, rule, cfg.rate_limit_multiplier).await?,
    ))
}

/// Counts a request against the per-account limit of `route`, refusing with 429 beyond it.
pub async fn limit_account(env: &Env, cfg: &Config, route: &str, account: &str) -> EdgeResult<()> {
    if let Some(rule) = rate_limit::account_rule(route) {
        let bucket = format!("account:{route}:{}", account.trim().to_lowercase());
        let decision = hit(env, &bucket, rule, cfg.rate_limit_multiplier).await?;
        if !decision.allowed {
            return Err(exceeded(&decision).into());
        }
    }
    Ok(())
}
