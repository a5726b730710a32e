//! `/api/auth/…`: the canonical identity API. One module per flow.

mod register;

use worker::{Env, Method, Request, Response};

use crate::config::Config;
use crate::error::EdgeResult;

/// `Some(response)` when `rest` (the path after `/api/auth/`) is an identity route.
pub async fn dispatch(
    req: Request,
    env: &Env,
    cfg: &Config,
    rest: &[&str],
) -> Option<EdgeResult<Response>> {
    Some(match (req.method(), rest) {
        (Method::Post, ["register"]) => register::register(req, env, cfg).await,
        (Method::Post, ["confirm"]) => register::confirm(req, env, cfg).await,
        (Method::Post, ["confirm", "resend"]) => register::resend(req, env, cfg).await,
        _ => return None,
    })
}
