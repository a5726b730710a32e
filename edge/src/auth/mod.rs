//! `/api/auth/…`: the canonical identity API. One module per flow; every route is rate
//! limited per client (seed 003's table) and answers with `X-RateLimit-*` headers.

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
use worker::{Env, Method, Request, Response};

use crate::config::Config;
use crate::error::EdgeResult;
use crate::rate_limit::{exceeded, hit};

#[derive(Debug, Clone, Copy)]
enum Route {
    Register,
    Confirm,
    ResendConfirmation,
    Login,
    MfaSetup,
    MfaVerify,
    MfaChallenge,
    MfaDisable,
    Refresh,
    Logout,
    LogoutAll,
    Me,
    UpdateProfile,
    ConfirmEmail,
    ChangePassword,
    ForgotPassword,
    ResetPassword,
    CheckMnemonic,
    BackupCredentials,
}

fn route(method: &Method, rest: &[&str]) -> Option<Route> {
    use Route::*;
    Some(match (method, rest) {
        (Method::Post, ["register"]) => Register,
        (Method::Post, ["confirm"]) => Confirm,
        (Method::Post, ["confirm", "resend"]) => ResendConfirmation,
        (Method::Post, ["login"]) => Login,
        (Method::Post, ["mfa", "setup"]) => MfaSetup,
        (Method::Post, ["mfa", "verify"]) => MfaVerify,
        (Method::Post, ["mfa", "challenge"]) => MfaChallenge,
        (Method::Post, ["mfa", "disable"]) => MfaDisable,
        (Method::Post, ["refresh"]) => Refresh,
        (Method::Post, ["logout"]) => Logout,
        (Method::Post, ["logout-all"]) => LogoutAll,
        (Method::Get, ["me"]) => Me,
        (Method::Put, ["profile"]) => UpdateProfile,
        (Method::Post, ["profile", "email", "confirm"]) => ConfirmEmail,
        (Method::Post, ["change-password"]) => ChangePassword,
        (Method::Post, ["forgot-password"]) => ForgotPassword,
        (Method::Post, ["reset-password"]) => ResetPassword,
        (Method::Post, ["mnemonic", "check"]) => CheckMnemonic,
        (Method::Post, ["backup-credentials"]) => BackupCredentials,
        _ => return None,
    })
}

/// `Some((result, rate decision))` when `rest` (the path after `/api/auth/`) is an identity
/// route; the router adds the decision's headers to whatever the result becomes.
pub async fn dispatch(
    req: Request,
    env: &Env,
    cfg: &Config,
    rest: &[&str],
) -> Option<(EdgeResult<Response>, Option<Decision>)> {
    let route = route(&req.method(), rest)?;
    let decision = match client_limit(&req, env, cfg, &rest.join("/")).await {
        Ok(d) => d,
        Err(e) => return Some((Err(e), None)),
    };
    if let Some(refused) = decision.filter(|d| !d.allowed) {
        return Some((Err(exceeded(&refused).into()), decision));
    }
    Some((handle(route, req, env, cfg).await, decision))
}

async fn handle(route: Route, req: Request, env: &Env, cfg: &Config) -> EdgeResult<Response> {
    use Route::*;
    match route {
        Register => register::register(req, env, cfg).await,
        Confirm => register::confirm(req, env, cfg).await,
        ResendConfirmation => register::resend(req, env, cfg).await,
        Login => login::login(req, env, cfg).await,
        MfaSetup => mfa::setup(req, env, cfg).await,
        MfaVerify => mfa::verify(req, env, cfg).await,
        MfaChallenge => mfa::challenge(req, env, cfg).await,
        MfaDisable => mfa::disable(req, env, cfg).await,
        Refresh => session::refresh(req, env, cfg).await,
        Logout => session::logout(req, env, cfg).await,
        LogoutAll => session::logout_all(req, env, cfg).await,
        Me => session::me(req, env, cfg).await,
        UpdateProfile => account::update_profile(req, env, cfg).await,
        ConfirmEmail => account::confirm_email(req, env, cfg).await,
        ChangePassword => account::change_password(req, env, cfg).await,
        ForgotPassword => account::forgot_password(req, env, cfg).await,
        ResetPassword => account::reset_password(req, env, cfg).await,
        CheckMnemonic => account::check_mnemonic(req, env, cfg).await,
        BackupCredentials => crate::backup::credentials(req, env, cfg).await,
    }
}

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
