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
mod housekeeping;
mod http;
mod mail;
mod openapi;
mod random;
mod rate_limit;
mod router;
mod routes;
mod run_object;
mod runs;
mod security_headers;
mod seeds;
mod store;

pub use run_object::RunCoordinator;

use worker::{event, Context, Env, Request, Response};

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    housekeeping::maybe_sweep(&env, &ctx);
    router::handle(req, env).await
}
