//! Meshfed's Cloudflare Worker. One origin serves the API (`/api/…`, seed routes) from here and
//! the Leptos app from Workers static assets (see `wrangler.toml`).

mod audit;
mod auth;
mod backup;
mod blobs;
mod config;
mod dev;
mod error;
mod health;
mod http;
mod mail;
mod openapi;
mod random;
mod rate_limit;
mod router;
mod run_object;
mod runs;
mod security_headers;
mod seeds;
mod store;

pub use run_object::RunCoordinator;

use worker::{event, Context, Env, Request, Response, ScheduleContext, ScheduledEvent};

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    router::handle(req, env).await
}

/// The hourly sweep (`[triggers]` in `wrangler.toml`): expired rows leave D1.
#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let cfg = config::Config::from_env(&env);
    // Longer than any rate-limit window: an hour, or the MFA lockout where it is longer.
    let horizon = cfg.lockout_secs.max(3600) * 2;
    let swept = match store::db(&env) {
        Ok(db) => store::sweep::expired(&db, event.schedule() as i64, horizon).await,
        Err(e) => Err(e),
    };
    match swept {
        Ok(rows) => worker::console_log!("sweep at {}: deleted {rows:?}", event.schedule()),
        Err(e) => worker::console_error!("sweep failed: {e}"),
    }
}
