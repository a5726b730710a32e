//! The hourly sweep of expired rows ([`store::sweep`]), run after a request's response
//! (`waitUntil`) by the first request an isolate serves each hour: no cron trigger needed, and
//! a Worker nobody calls has nothing new to sweep.

use std::sync::atomic::{AtomicI64, Ordering};

use worker::{Context, Env};

use crate::config::Config;
use crate::error::EdgeResult;
use crate::http::now_ms;
use crate::store::{self, sweep::TableRows};

/// When this isolate last started a sweep (Unix ms).
static LAST_SWEEP_MS: AtomicI64 = AtomicI64::new(0);

const EVERY_MS: i64 = 3_600_000;

/// Starts a sweep in the background if this isolate has not run one for an hour.
pub fn maybe_sweep(env: &Env, ctx: &Context) {
    let now = now_ms();
    if now - LAST_SWEEP_MS.load(Ordering::Relaxed) < EVERY_MS {
        return;
    }
    LAST_SWEEP_MS.store(now, Ordering::Relaxed);
    let env = env.clone();
    ctx.wait_until(async move {
        match sweep(&env, now).await {
            Ok(rows) => worker::console_log!("sweep: deleted {rows:?}"),
            Err(e) => worker::console_error!("sweep failed: {e}"),
        }
    });
}

/// Deletes what expired before `now` (Unix ms).
pub async fn sweep(env: &Env, now: i64) -> EdgeResult<TableRows> {
    // Longer than any rate-limit window: twice an hour, or the MFA lockout where longer.
    let horizon = Config::from_env(env).lockout_secs.max(3600) * 2;
    let mut swept = store::sweep::expired(&store::db(env)?, now, horizon).await?;
    swept.push((
        "part_uploads",
        crate::runs::sweep_abandoned(env, now).await?,
    ));
    Ok(swept)
}
