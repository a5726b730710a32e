//! The Worker's one route table. Each [`Route`] says, once, its method and path, who may call
//! it ([`Access`]), its per-client rate-limit class, the handler, and how the OpenAPI document
//! describes it. The router matches requests against this list, answers 405 with `Allow` from
//! it, counts the rate limit and refuses missing tokens by it; `openapi` renders it.

use std::future::Future;
use std::pin::Pin;

use meshfed_shared::{ApiError, ErrorCode};
use serde_json::Value;
use worker::{Env, Method, Request, Response};

use crate::config::Config;
use crate::error::EdgeResult;

mod account;
mod admin;
mod backup;
mod identity;
mod parts;
mod platform;
mod runs;
mod seeds;

/// A handler's answer, still to be awaited.
pub(crate) type Pending<'a> = Pin<Box<dyn Future<Output = EdgeResult<Response>> + 'a>>;
/// What serves a route: the request, the bindings, the configuration, the path's parameters.
pub(crate) type Handler = for<'a> fn(Request, &'a Env, &'a Config, Params) -> Pending<'a>;

/// `handle!(module::function)` for a handler of `(req, env, cfg)`, or
/// `handle!(|req, env, cfg, p| expression)` for anything else (the expression may use `?`).
macro_rules! handle {
    ($f:path) => {{
        fn serve<'a>(
            req: worker::Request,
            env: &'a worker::Env,
            cfg: &'a crate::config::Config,
            _: crate::routes::Params,
        ) -> crate::routes::Pending<'a> {
            Box::pin($f(req, env, cfg))
        }
        serve
    }};
    (|$req:pat_param, $env:pat_param, $cfg:pat_param, $p:pat_param| $body:expr) => {{
        fn serve<'a>(
            $req: worker::Request,
            $env: &'a worker::Env,
            $cfg: &'a crate::config::Config,
            $p: crate::routes::Params,
        ) -> crate::routes::Pending<'a> {
            Box::pin(async move { $body })
        }
        serve
    }};
}
pub(crate) use handle;

/// Who may call a route. The router refuses a request without a bearer token (401
/// `TOKEN_INVALID`) on every route but [`Access::Public`], [`Access::TokenOrSession`] and
/// [`Access::SeedToken`]; the handler then verifies the token and what it allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Anyone.
    Public,
    /// An access token (the run routes also take the ID token the seeds send).
    Token,
    /// An access token whose permissions include this one.
    Permission(&'static str),
    /// An access token of a participant of the run in the path.
    Member,
    /// A backup capability (`POST /api/auth/backup-credentials`).
    Capability,
    /// An access token, or a one-use sign-in session in the body (MFA during sign-in).
    TokenOrSession,
    /// A seed's token in `Authorization`, refused in the seed's own envelope by its handler.
    SeedToken,
}

impl Access {
    /// Whether the router refuses a request to this route that carries no bearer token.
    fn needs_bearer(self) -> bool {
        !matches!(
            self,
            Access::Public | Access::TokenOrSession | Access::SeedToken
        )
    }

    pub(crate) fn description(self) -> Option<String> {
        Some(match self {
            Access::Public | Access::SeedToken => return None,
            Access::Token => "Bearer access token".into(),
            Access::Permission(p) => format!("Bearer access token with {p}"),
            Access::Member => "Bearer access token of a participant of the run".into(),
            Access::Capability => "Bearer backup capability".into(),
            Access::TokenOrSession => "Bearer access token, or a sign-in session".into(),
        })
    }
}

/// Where a route is served and documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Audience {
    /// The canonical API: always served, in the OpenAPI document.
    Api,
    /// Development only (`ENVIRONMENT=development`): served and documented only there.
    Dev,
    /// A seed document's own route: served, described by that document rather than OpenAPI.
    Seed,
}

pub(crate) struct Route {
    pub(crate) method: Method,
    /// A template: `{name}` matches one segment, `{name..}` the non-empty rest of the path.
    pub(crate) path: &'static str,
    pub(crate) audience: Audience,
    pub(crate) access: Access,
    /// The per-client rate-limit rule (`shared::auth::rate_limit::client_rule`), if any.
    pub(crate) rate: Option<&'static str>,
    pub(crate) handler: Handler,
    pub(crate) summary: &'static str,
    /// `(status, schema)` pairs; every route may also answer the failure envelope.
    pub(crate) responses: fn() -> Vec<(u16, Value)>,
    pub(crate) request: Option<fn() -> Value>,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} ({:?})", self.method, self.path, self.access)
    }
}

/// The path parameters of a matched request, by the names in its route's template.
#[derive(Debug)]
pub(crate) struct Params {
    pairs: Vec<(&'static str, String)>,
}

impl Params {
    /// The parameter `name` (empty when the template has none: a programming error that the
    /// unit tests rule out).
    pub(crate) fn get(&self, name: &str) -> &str {
        self.pairs
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The run id in `{id}`: a positive integer, else 400.
    pub(crate) fn run(&self) -> EdgeResult<i64> {
        crate::runs::parse_id(self.get("id"), "run id")
    }

    /// The round in `{round}`: a positive integer, else 400.
    pub(crate) fn round(&self) -> EdgeResult<u32> {
        let round = crate::runs::parse_id(self.get("round"), "round")?;
        u32::try_from(round)
            .map_err(|_| ApiError::invalid_field("round", "round is too large").into())
    }
}

/// Every route, in the order the OpenAPI document lists them.
fn table() -> impl Iterator<Item = &'static Route> {
    platform::ROUTES
        .iter()
        .chain(identity::ROUTES)
        .chain(account::ROUTES)
        .chain(admin::ROUTES)
        .chain(backup::ROUTES)
        .chain(runs::ROUTES)
        .chain(&parts::WEIGHTS)
        .chain(&parts::GRADIENTS)
        .chain(seeds::ROUTES)
}

/// The routes served under `cfg` (development routes only in development).
pub(crate) fn served(cfg: &Config) -> impl Iterator<Item = &'static Route> + '_ {
    table().filter(move |r| r.audience != Audience::Dev || cfg.is_development())
}

/// The route for `method path` and its parameters; else 405 with `Allow` when the path is
/// served under other methods, else 404.
pub(crate) fn find(
    method: &Method,
    path: &str,
    cfg: &Config,
) -> Result<(&'static Route, Params), ApiError> {
    let mut allowed = vec![];
    for route in served(cfg) {
        if let Some(params) = matches(route.path, path) {
            if route.method == *method {
                return Ok((route, params));
            }
            allowed.push(route.method.to_string());
        }
    }
    if allowed.is_empty() {
        return Err(
            ApiError::new(ErrorCode::NotFound, format!("No route for {method} {path}"))
                .with_details(serde_json::json!({ "path": path })),
        );
    }
    let allow = allowed.join(", ");
    Err(ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!("{method} is not allowed on {path}"),
    )
    .with_details(serde_json::json!({ "path": path, "allow": allow })))
}

/// 401 for a route that needs a bearer token when the request carries none.
pub(crate) fn refuse_missing_token(route: &Route, req: &Request) -> Result<(), ApiError> {
    if !route.access.needs_bearer() || crate::auth::guard::bearer(req).is_some() {
        return Ok(());
    }
    let what = match route.access {
        Access::Capability => "Missing backup capability",
        _ => "Missing access token",
    };
    Err(ApiError::new(ErrorCode::TokenInvalid, what))
}

/// The parameters when `path` fits `template`.
fn matches(template: &'static str, path: &str) -> Option<Params> {
    let t: Vec<&'static str> = template.trim_matches('/').split('/').collect();
    let p: Vec<&str> = path.trim_matches('/').split('/').collect();
    let mut pairs = vec![];
    for (i, segment) in t.iter().enumerate() {
        match segment.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
            Some(name) if name.ends_with("..") => {
                let rest = p.get(i..)?.join("/");
                if rest.is_empty() {
                    return None;
                }
                pairs.push((name.trim_end_matches('.'), rest));
                return Some(Params { pairs });
            }
            Some(name) => {
                let value = p.get(i).filter(|v| !v.is_empty())?;
                pairs.push((name, value.to_string()));
            }
            None if p.get(i) == Some(segment) => {}
            None => return None,
        }
    }
    (t.len() == p.len()).then_some(Params { pairs })
}

/// The OpenAPI form of a template: `{key..}` is written `{key}`.
pub(crate) fn openapi_path(template: &str) -> String {
    template.replace("..}", "}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(env: &str) -> Config {
        Config::for_tests(env)
    }

    #[test]
    fn templates_match_concrete_paths() {
        let found = matches("/api/_dev/probe/{key}", "/api/_dev/probe/abc").unwrap();
        assert_eq!(found.get("key"), "abc");
        assert!(matches("/api/_dev/probe/{key}", "/api/_dev/probe/").is_none());
        assert!(matches("/api/health", "/api/health/x").is_none());
        assert!(matches("/api/health/x", "/api/health").is_none());
        let rest = matches("/api/backup/objects/{key..}", "/api/backup/objects/a/b.bin").unwrap();
        assert_eq!(rest.get("key"), "a/b.bin");
        assert!(matches("/api/backup/objects/{key..}", "/api/backup/objects/").is_none());
        let run = matches(
            "/api/runs/{id}/rounds/{round}/model",
            "/api/runs/7/rounds/2/model",
        );
        let run = run.unwrap();
        assert_eq!((run.run().unwrap(), run.round().unwrap()), (7, 2));
    }

    #[test]
    fn unmatched_requests_are_404_or_405_with_allow() {
        let dev = cfg("development");
        let (route, _) = find(&Method::Post, "/api/_dev/probe/k", &dev).unwrap();
        assert_eq!(route.path, "/api/_dev/probe/{key}");
        let refused = find(&Method::Delete, "/api/_dev/probe/k", &dev).unwrap_err();
        assert_eq!(refused.code, ErrorCode::MethodNotAllowed);
        assert_eq!(refused.details.unwrap()["allow"], "GET, POST");
        let hidden = find(&Method::Get, "/api/_dev/probe/k", &cfg("production")).unwrap_err();
        assert_eq!(hidden.code, ErrorCode::NotFound);
        let seed = find(&Method::Get, "/users/login", &dev).unwrap_err();
        assert_eq!(seed.details.unwrap()["allow"], "POST");
    }

    #[test]
    fn each_method_and_path_is_served_once() {
        let all: Vec<&Route> = table().collect();
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                let same = a.method == b.method && openapi_path(a.path) == openapi_path(b.path);
                assert!(!same, "{} {} is in the table twice", a.method, a.path);
            }
        }
    }

    #[test]
    fn every_rate_class_is_one_of_seed_003s() {
        for route in table() {
            if let Some(rule) = route.rate {
                let (class, _) = meshfed_shared::auth::rate_limit::client_rule(rule);
                assert_eq!(class, rule, "{} {}", route.method, route.path);
            }
        }
    }

    #[test]
    fn documented_routes_say_what_they_do_and_run_routes_who_may() {
        for route in table() {
            let documented = route.audience != Audience::Seed;
            assert_eq!(!route.summary.is_empty(), documented, "{}", route.path);
            if route.path.starts_with("/api/runs/{id}") {
                assert_eq!(
                    route.access,
                    Access::Member,
                    "{} {}",
                    route.method,
                    route.path
                );
            }
            if route.path.starts_with("/api/admin/") {
                assert!(
                    matches!(route.access, Access::Permission(_)),
                    "{}",
                    route.path
                );
            }
        }
    }
}
