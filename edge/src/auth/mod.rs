//! `/api/auth/…`: the canonical identity API. One module per flow.

mod account;
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
        (Method::Put, ["profile"]) => account::update_profile(req, env, cfg).await,
        (Method::Post, ["profile", "email", "confirm"]) => {
            account::confirm_email(req, env, cfg).await
        }
        (Method::Post, ["change-password"]) => account::change_password(req, env, cfg).await,
        (Method::Post, ["forgot-password"]) => account::forgot_password(req, env, cfg).await,
        (Method::Post, ["reset-password"]) => account::reset_password(req, env, cfg).await,
        (Method::Post, ["mnemonic", "check"]) => account::check_mnemonic(req, env, cfg).await,
        _ => return None,
    })
}
