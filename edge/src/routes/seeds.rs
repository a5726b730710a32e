//! The seed documents' own routes: served like the others, described by their documents
//! rather than the OpenAPI document. Their identity routes share the canonical routes' client
//! limits (else they would be a way around them); their run routes are token-authenticated
//! like `/api/runs`, which has no per-client limit: a round of uploads must not be throttled.

use worker::Method;

use super::{handle, Access, Audience, Route};

/// A seed route served by `crate::seeds::$module::handle(…, $route)`.
macro_rules! seed {
    ($method:ident $path:literal, $access:ident, $rate:expr, $module:ident, $route:literal) => {
        Route {
            method: Method::$method,
            path: $path,
            audience: Audience::Seed,
            access: Access::$access,
            rate: $rate,
            handler: handle!(|req, env, cfg, _p| {
                Ok(crate::seeds::$module::handle(req, env, cfg, $route).await?)
            }),
            summary: "",
            responses: Vec::new,
            request: None,
        }
    };
}

const AUTH: Option<&str> = Some("auth");

pub(crate) const ROUTES: &[Route] = &[
    // Seeds 000 and 001 (immunetworks).
    seed!(Post "/dev/login", Public, Some("login"), immunetworks, "login"),
    seed!(Post "/dev/identityadd", Public, Some("register"), immunetworks, "identityadd"),
    seed!(Get "/dev/user_runs", SeedToken, None, immunetworks_runs, "user_runs"),
    seed!(Post "/dev/runs_update", SeedToken, None, immunetworks_runs, "runs_update"),
    seed!(Post "/dev/runs", SeedToken, None, immunetworks_runs, "runs"),
    seed!(Post "/dev/activate", SeedToken, None, immunetworks_runs, "activate"),
    seed!(Post "/dev/weights", SeedToken, None, immunetworks_runs, "weights"),
    seed!(Post "/dev/weightsavg", SeedToken, None, immunetworks_runs, "weightsavg"),
    seed!(Post "/dev/results", SeedToken, None, immunetworks_runs, "results"),
    seed!(Post "/dev/agggrad", SeedToken, None, immunetworks_runs, "agggrad"),
    // Seed 002 (datapod).
    seed!(Post "/users/signup", Public, Some("register"), datapod, "signup"),
    seed!(Post "/users/confirm-signup", Public, AUTH, datapod, "confirm-signup"),
    seed!(Post "/users/login", Public, Some("login"), datapod, "login"),
    seed!(Post "/users/associate-mfa", Public, AUTH, datapod, "associate-mfa"),
    seed!(Post "/users/verify-mfa", Public, AUTH, datapod, "verify-mfa"),
    seed!(Post "/users/post-login-mfa", Public, AUTH, datapod, "post-login-mfa"),
    seed!(Post "/users/mfa-settings", Public, AUTH, datapod, "mfa-settings"),
    seed!(Post "/users/forgot-password", Public, Some("forgot-password"), datapod, "forgot-password"),
    seed!(Post "/users/confirm-password", Public, AUTH, datapod, "confirm-password"),
    seed!(Post "/users/awstempcredentials", Public, AUTH, datapod, "awstempcredentials"),
    seed!(Post "/mnemonics/check-mnemonic", SeedToken, AUTH, datapod, "check-mnemonic"),
];
