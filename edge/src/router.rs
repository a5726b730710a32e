//! Request routing: one `match` on method and path segments, so every route is visible in one
//! place. Handlers return [`EdgeResult`]; this module turns failures into the error envelope.

use meshfed_shared::{ApiError, ErrorCode};
use worker::{Env, Method, Request, Response};

use crate::config::Config;
use crate::error::{error_response, EdgeResult};
use crate::{auth, dev, health, openapi};

pub async fn handle(req: Request, env: Env) -> worker::Result<Response> {
    let cfg = Config::from_env(&env);
    let method = req.method();
    let path = req.path();
    match dispatch(req, &env, &cfg, &path).await {
        Ok(resp) => Ok(resp),
        Err(err) => error_response(&err.into_api_error(&format!("{method} {path}"))),
    }
}

async fn dispatch(req: Request, env: &Env, cfg: &Config, path: &str) -> EdgeResult<Response> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let method = req.method();
    match (&method, segments.as_slice()) {
        (Method::Get, ["api", "health"]) => return health::get(env, cfg).await,
        (Method::Get, ["api", "openapi.json"]) => return openapi::get(cfg),
        (Method::Get, [".well-known", "jwks.json"]) => return auth::session::jwks(env, cfg).await,
        (_, ["api", "auth", rest @ ..]) => {
            if let Some(result) = auth::dispatch(req, env, cfg, rest).await {
                return result;
            }
        }
        (_, ["api", "_dev", rest @ ..]) if cfg.is_development() => {
            return dev::dispatch(req, env, cfg, rest).await
        }
        _ => {}
    }
    Err(unmatched(&method, path, cfg).into())
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
