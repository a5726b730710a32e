//! The route table's access column against the real Worker: every documented operation that
//! needs a bearer token is refused without one (401 `TOKEN_INVALID`) before its handler runs,
//! whatever its path parameters and body.

use meshfed_e2e::Ctx;
use reqwest::Method;
use serde_json::{json, Value};

use crate::errors::expect_failure;

/// A concrete path for a documented template.
fn concrete(template: &str) -> String {
    template
        .replace("{id}", "1")
        .replace("{round}", "1")
        .replace("{upload_id}", "u")
        .replace("{part}", "1")
        .replace("{key}", "k")
}

pub fn every_operation_behind_a_token_refuses_a_request_without_one(ctx: &Ctx) {
    ctx.block_on(async {
        let doc: Value = ctx.get("/api/openapi.json").send().await.json();
        let mut refused = vec![];
        for (template, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("operations") {
                if op.get("security") != Some(&json!([{"bearer": []}])) {
                    continue;
                }
                let verb = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
                let mut call = ctx.call(verb, &concrete(template));
                if method != "get" && method != "delete" {
                    call = call.json(&json!({}));
                }
                let what = format!("{method} {template}");
                let body = expect_failure(call.send().await, 401, "TOKEN_INVALID");
                assert!(
                    body["error"]["message"]
                        .as_str()
                        .unwrap()
                        .starts_with("Missing"),
                    "{what}: {body}"
                );
                refused.push(what);
            }
        }
        // 9 identity, 6 administration, 4 backup, 15 run and 6 upload-in-parts operations.
        assert_eq!(refused.len(), 40, "{refused:#?}");
        // And the operations open to anyone stay open: no token needed to read the health.
        assert_eq!(ctx.get("/api/health").send().await.status, 200);
    });
}
