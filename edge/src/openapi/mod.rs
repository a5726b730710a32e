//! `GET /api/openapi.json`: an OpenAPI 3.1 description of the routes that exist. The routing
//! table below is also what the router uses to tell 405 from 404, and the end-to-end tests check
//! real responses against this document, so it cannot drift silently.

use serde_json::{json, Value};
use worker::Response;

use crate::config::Config;
use crate::error::EdgeResult;
use crate::health::VERSION;

mod admin_routes;
mod auth_routes;
mod backup_routes;
mod part_routes;
mod plan_schema;
mod routes;
mod run_routes;
mod schemas;
use schemas::schemas;

pub(crate) struct Route {
    pub(crate) method: &'static str,
    pub(crate) path: &'static str,
    pub(crate) dev_only: bool,
    pub(crate) summary: &'static str,
    /// `(status, schema)` pairs; every route may also answer the failure envelope.
    pub(crate) responses: fn() -> Vec<(u16, Value)>,
    pub(crate) request: Option<fn() -> Value>,
}

fn routes(cfg: &Config) -> impl Iterator<Item = &'static Route> + '_ {
    routes::ROUTES
        .iter()
        .chain(auth_routes::ROUTES)
        .chain(admin_routes::ROUTES)
        .chain(backup_routes::ROUTES)
        .chain(run_routes::ROUTES)
        .chain(&part_routes::WEIGHTS)
        .chain(&part_routes::GRADIENTS)
        .filter(move |r| !r.dev_only || cfg.is_development())
}

/// Upper-case methods documented for a concrete request path, e.g. `["GET", "POST"]`.
pub fn methods_for_path(path: &str, cfg: &Config) -> Vec<String> {
    routes(cfg)
        .filter(|r| template_matches(r.path, path))
        .map(|r| r.method.to_ascii_uppercase())
        .collect()
}

fn template_matches(template: &str, path: &str) -> bool {
    let t: Vec<&str> = template.trim_matches('/').split('/').collect();
    let p: Vec<&str> = path.trim_matches('/').split('/').collect();
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| (t.starts_with('{') && !p.is_empty()) || t == p)
}

pub fn get(cfg: &Config) -> EdgeResult<Response> {
    Ok(Response::from_json(&document(cfg))?)
}

fn document(cfg: &Config) -> Value {
    let mut paths = serde_json::Map::new();
    for route in routes(cfg) {
        let mut responses = serde_json::Map::new();
        for (status, schema) in (route.responses)() {
            responses.insert(status.to_string(), response(schema));
        }
        responses.insert("default".into(), response(failure()));
        let mut op = json!({
            "summary": route.summary,
            "operationId": format!("{}{}", route.method, route.path.replace(['/', '{', '}', '.'], "_")),
            "responses": responses,
        });
        let params: Vec<Value> = route
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| {
                json!({"name": name, "in": "path", "required": true,
                               "schema": {"type": "string"}})
            })
            .collect();
        if !params.is_empty() {
            op["parameters"] = Value::Array(params);
        }
        if let Some(request) = route.request {
            op["requestBody"] = json!({"required": true,
                "content": {"application/json": {"schema": request()}}});
        }
        let entry = paths.entry(route.path).or_insert_with(|| json!({}));
        entry[route.method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Meshfed API", "version": VERSION,
                 "description": "Federated MeshNet training: identity, runs and rounds."},
        "paths": paths,
        "components": {"schemas": schemas()},
    })
}

fn response(schema: Value) -> Value {
    json!({"description": "See schema", "content": {"application/json": {"schema": schema}}})
}

pub(crate) fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

pub(crate) fn success(data: Value) -> Value {
    json!({"allOf": [schema_ref("SuccessEnvelope"), {"properties": {"data": data}}]})
}

pub(crate) fn failure() -> Value {
    schema_ref("FailureEnvelope")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(env: &str) -> Config {
        Config {
            environment: env.into(),
            max_body_bytes: 1024,
            max_upload_bytes: 4096,
            rate_limit_multiplier: 1,
            lockout_secs: 900,
            challenge_session_secs: 180,
        }
    }

    #[test]
    fn templates_match_concrete_paths() {
        assert!(template_matches(
            "/api/_dev/probe/{key}",
            "/api/_dev/probe/abc"
        ));
        assert!(!template_matches(
            "/api/_dev/probe/{key}",
            "/api/_dev/probe/"
        ));
        assert!(!template_matches("/api/health", "/api/health/x"));
    }

    #[test]
    fn dev_routes_only_in_development() {
        assert_eq!(
            methods_for_path("/api/_dev/probe/k", &cfg("development")),
            ["GET", "POST"]
        );
        assert!(methods_for_path("/api/_dev/probe/k", &cfg("production")).is_empty());
        let doc = document(&cfg("production"));
        assert!(doc["paths"].get("/api/_dev/fail").is_none());
        assert!(doc["paths"]["/api/health"]["get"]["responses"]["200"].is_object());
    }
}
