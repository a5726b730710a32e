//! `GET /api/openapi.json`: an OpenAPI 3.1 description rendered from the route table the
//! router serves (`routes`), so no route can be served undocumented or documented unserved.
//! The end-to-end tests check real responses against this document.

use serde_json::{json, Value};
use worker::Response;

use crate::config::Config;
use crate::error::EdgeResult;
use crate::health::VERSION;
use crate::routes::{self, Access, Audience, Route};

pub(crate) mod run_schemas;
mod schemas;
pub(crate) use schemas::dto;
use schemas::schemas;

pub fn get(cfg: &Config) -> EdgeResult<Response> {
    Ok(Response::from_json(&document(cfg))?)
}

fn document(cfg: &Config) -> Value {
    let mut paths = serde_json::Map::new();
    for route in routes::served(cfg).filter(|r| r.audience != Audience::Seed) {
        let method = route.method.as_ref().to_ascii_lowercase();
        let path = routes::openapi_path(route.path);
        let entry = paths.entry(path.clone()).or_insert_with(|| json!({}));
        entry[&method] = operation(route, &method, &path);
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Meshfed API", "version": VERSION,
                 "description": "Federated MeshNet training: identity, runs and rounds."},
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    })
}

/// One route's operation: its answers, its path parameters, its body and who may call it.
fn operation(route: &Route, method: &str, path: &str) -> Value {
    let mut responses = serde_json::Map::new();
    for (status, schema) in (route.responses)() {
        responses.insert(status.to_string(), response(schema));
    }
    let access = route.access.description();
    if access.is_some() {
        responses
            .entry("401")
            .or_insert_with(|| response(failure()));
    }
    responses.insert("default".into(), response(failure()));
    let mut op = json!({
        "summary": route.summary,
        "operationId": format!("{method}{}", path.replace(['/', '{', '}', '.'], "_")),
        "responses": responses,
    });
    if let Some(access) = access {
        op["description"] = json!(format!("Needs: {access}."));
        op["security"] = match route.access {
            Access::TokenOrSession => json!([{"bearer": []}, {}]),
            _ => json!([{"bearer": []}]),
        };
    }
    let params: Vec<Value> = path
        .split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}})
        })
        .collect();
    if !params.is_empty() {
        op["parameters"] = Value::Array(params);
    }
    if let Some(request) = route.request {
        op["requestBody"] = json!({"required": true,
            "content": {"application/json": {"schema": request()}}});
    }
    op
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
        Config::for_tests(env)
    }

    #[test]
    fn the_document_follows_the_route_table() {
        let doc = document(&cfg("production"));
        assert!(doc["paths"].get("/api/_dev/fail").is_none());
        assert!(
            doc["paths"].get("/users/login").is_none(),
            "seed routes stay out"
        );
        assert!(doc["paths"]["/api/health"]["get"]["responses"]["200"].is_object());
        assert!(doc["paths"]["/api/health"]["get"].get("security").is_none());
        let run = &doc["paths"]["/api/runs/{id}"]["get"];
        assert_eq!(run["security"], json!([{"bearer": []}]));
        assert!(run["responses"]["401"].is_object());
        let object = &doc["paths"]["/api/backup/objects/{key}"]["put"];
        assert_eq!(object["parameters"][0]["name"], "key");
        let dev = document(&cfg("development"));
        assert!(dev["paths"]["/api/_dev/probe/{key}"]["post"].is_object());
    }

    /// Every `$ref` anywhere in `value`.
    fn refs(value: &Value, found: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    found.push(r.clone());
                }
                map.values().for_each(|v| refs(v, found));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
            _ => {}
        }
    }

    #[test]
    fn every_reference_resolves_to_a_derived_component() {
        let doc = document(&cfg("development"));
        let mut found = vec![];
        refs(&doc, &mut found);
        assert!(found.len() > 50, "{} references", found.len());
        for r in &found {
            let name = r.strip_prefix("#/components/schemas/").expect(r);
            assert!(
                doc["components"]["schemas"].get(name).is_some(),
                "{r} dangles"
            );
        }
        let schemas = &doc["components"]["schemas"];
        // Derived from the DTOs: the run detail's flattened header and the plan inside it.
        let detail = &schemas["RunDetail"];
        for field in ["id", "name", "model", "plan", "history", "privacy"] {
            assert!(
                detail["properties"].get(field).is_some(),
                "RunDetail.{field}"
            );
        }
        assert!(schemas["TrainingPlan"]["properties"].is_object());
        let username = &schemas["RegisterRequest"]["properties"]["username"];
        assert_eq!(username["minLength"], 3);
        assert_eq!(
            schemas["RegisterRequest"]["properties"]["password"]["writeOnly"],
            true
        );
    }
}
