//! `/api/auth/…`: the canonical identity API. One module per flow.

pub mod guard;
pub mod keys;
mod login;
mod mfa;
mod register;
pub mod session;
mod tokens;

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
        (Method::Post, ["login"]) => login::login(req, env, cfg).await,
        (Method::Post, ["mfa", "setup"]) => mfa::setup(req, env, cfg).await,
        (Method::Post, ["mfa", "verify"]) => mfa::verify(req, env, cfg).await,
        (Method::Post, ["mfa", "challenge"]) => mfa::challenge(req, env, cfg).await,
        (Method::Post, ["mfa", "disable"]) => mfa::disable(req, env, cfg).await,
        (Method::Post, ["refresh"]) => session::refresh(req, env, cfg).await,
        (Method::Post, ["logout"]) => session::logout(req, env, cfg).await,
        (Method::Post, ["logout-all"]) => session::logout_all(req, env, cfg).await,
        (Method::Get, ["me"]) => session::me(req, env, cfg).await,
        _ => return None,
    })
}
