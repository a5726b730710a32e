//! Request routing by the one route table (`routes`). Handlers return [`EdgeResult`]; this
//! module turns failures into the error envelope.

use meshfed_shared::{ApiError, ErrorCode};
use worker::{Env, Request, Response};

use crate::config::Config;
use crate::error::{error_response, EdgeResult};
use crate::{auth, rate_limit, routes, security_headers};
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

/// The route table's answer: match (404/405), the route's per-client rate limit, its token
/// requirement, then its handler. The rate decision's headers go on whatever the answer is.
async fn dispatch(req: Request, env: &Env, cfg: &Config, path: &str) -> Routed {
    let (route, params) = match routes::find(&req.method(), path, cfg) {
        Ok(found) => found,
        Err(unmatched) => return (Err(unmatched.into()), None),
    };
    let decision = match route.rate {
        Some(rule) => match auth::client_limit(&req, env, cfg, rule).await {
            Ok(decision) => decision,
            Err(e) => return (Err(e), None),
        },
        None => None,
    };
    if let Some(refused) = decision.filter(|d| !d.allowed) {
        return (Err(rate_limit::exceeded(&refused).into()), decision);
    }
    if let Err(refused) = routes::refuse_missing_token(route, &req) {
        return (Err(refused.into()), decision);
    }
    ((route.handler)(req, env, cfg, params).await, decision)
}
