//! Request routing: one `match` on method and path segments, so every route is visible in one
//! place. Handlers return [`EdgeResult`]; this module turns failures into the error envelope.

use meshfed_shared::{ApiError, ErrorCode};
use worker::{Env, Method, Request, Response};

use crate::config::Config;
use crate::error::EdgeError;
use crate::error::{error_response, EdgeResult};
use crate::{auth, backup, dev, health, openapi, rate_limit, runs, security_headers, seeds};
use meshfed_shared::auth::rate_limit::Decision;

pub async fn handle(req: Request, env: Env) -> worker::Result<Response> {
    security_headers::apply(respond(req, env).await?)
}

/// The methods the Worker knows. workers-rs reads any other (`QUERY`, `FOO`) as GET, which
/// would run GET routes for it: those are refused before routing.
const KNOWN_METHODS: [&str; 10] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE", "REPORT",
];

async fn respond(req: Request, env: Env) -> worker::Result<Response> {
    let cfg = Config::from_env(&env);
    let raw_method = req.inner().method();
    if !KNOWN_METHODS.contains(&raw_method.to_ascii_uppercase().as_str()) {
        let message = format!("Method {raw_method} is not supported");
        let refused = ApiError::new(ErrorCode::MethodNotAllowed, message);
        return error_response(&refused);
    }
    let method = req.method();
    let path = req.path();
    if let Err(refused) = auth::keys::refuse_unconfigured(&env, &cfg) {
        return error_response(&refused);
    }
    let (result, rate) = dispatch(req, &env, &cfg, &path).await;
    let resp = match result {
        Ok(resp) => resp,
        Err(err) => error_response(&err.into_api_error(&format!("{method} {path}")))?,
    };
    match rate {
        Some(decision) => rate_limit::annotate(resp, &decision),
        None => Ok(resp),
    }
}

type Routed = (EdgeResult<Response>, Option<Decision>);

async fn dispatch(req: Request, env: &Env, cfg: &Config, path: &str) -> Routed {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let method = req.method();
    let result = match (&method, segments.as_slice()) {
        (Method::Get, ["api", "health"]) => health::get(env, cfg).await,
        (Method::Get, ["api", "openapi.json"]) => openapi::get(cfg),
        (Method::Get, [".well-known", "jwks.json"]) => auth::session::jwks(env, cfg).await,
        (_, ["api", "auth", rest @ ..]) => match auth::dispatch(req, env, cfg, rest).await {
            Some(routed) => return routed,
            None => Err(unmatched(&method, path, cfg).into()),
        },
        (Method::Get, ["api", "users"]) => auth::admin::directory(req, env, cfg).await,
        (_, ["api", "admin", rest @ ..]) => {
            match auth::admin::dispatch(req, env, cfg, rest).await {
                Some(result) => result,
                None => Err(unmatched(&method, path, cfg).into()),
            }
        }
        (_, ["api", "backup", "objects", ..]) => backup::objects(req, env, cfg).await,
        (_, ["api", "runs", rest @ ..]) => match runs::dispatch(req, env, cfg, rest).await {
            Some(result) => result,
            None => Err(unmatched(&method, path, cfg).into()),
        },
        (_, ["dev", rest @ ..]) => {
            let decision = match seed_limit(&req, env, cfg, rest).await {
                Ok(d) => d,
                Err(refused) => return refused,
            };
            let done = match rest {
                ["login" | "identityadd"] => {
                    seeds::immunetworks::dispatch(req, env, cfg, rest).await
                }
                _ => seeds::immunetworks_runs::dispatch(req, env, cfg, rest).await,
            };
            match done {
                Some(done) => return (done.map_err(EdgeError::from), decision),
                None => Err(unmatched(&method, path, cfg).into()),
            }
        }
        (_, ["users" | "mnemonics", rest @ ..]) => {
            let decision = match seed_limit(&req, env, cfg, rest).await {
                Ok(d) => d,
                Err(refused) => return refused,
            };
            match seeds::datapod::dispatch(req, env, cfg, &segments).await {
                Some(done) => return (done.map_err(EdgeError::from), decision),
                None => Err(unmatched(&method, path, cfg).into()),
            }
        }
        (_, ["api", "_dev", rest @ ..]) if cfg.is_development() => {
            dev::dispatch(req, env, cfg, rest).await
        }
        _ => Err(unmatched(&method, path, cfg).into()),
    };
    (result, None)
}

/// The seeds' identity routes share the canonical routes' client limits (else they would be a
/// way around them). `Err` carries the finished refusal.
async fn seed_limit(
    req: &Request,
    env: &Env,
    cfg: &Config,
    rest: &[&str],
) -> Result<Option<Decision>, Routed> {
    let class = match rest {
        ["login"] => "login",
        ["signup" | "identityadd"] => "register",
        ["forgot-password"] => "forgot-password",
        // The seeds' run routes are token-authenticated like `/api/runs`, which has no
        // per-client limit: a round of uploads must not be throttled.
        [route] if crate::seeds::immunetworks_runs::ROUTES.contains(route) => return Ok(None),
        _ => "auth",
    };
    match auth::client_limit(req, env, cfg, class).await {
        Ok(Some(d)) if !d.allowed => Err((Err(rate_limit::exceeded(&d).into()), Some(d))),
        Ok(d) => Ok(d),
        Err(e) => Err((Err(e), None)),
    }
}

/// 405 with `Allow` when the path is a documented route under another method, else 404.
fn unmatched(method: &Method, path: &str, cfg: &Config) -> ApiError {
    let allowed = openapi::methods_for_path(path, cfg);
    if allowed.is_empty() {
        return ApiError::new(ErrorCode::NotFound, format!("No route for {method} {path}"))
            .with_details(serde_json::json!({ "path": path }));
    }
    let allow = allowed.join(", ");
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!("{method} is not allowed on {path}"),
    )
    .with_details(serde_json::json!({ "path": path, "allow": allow }))
}
