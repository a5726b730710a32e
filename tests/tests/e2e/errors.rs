use meshfed_e2e::Ctx;
use serde_json::{json, Value};

/// Asserts the failure envelope with `code` at `status` and returns it.
pub async fn expect_failure(resp: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(resp.status(), status, "status for {code}");
    let body: Value = resp.json().await.expect("error responses are JSON");
    assert_eq!(body["success"], json!(false), "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(!body["error"]["message"].as_str().unwrap().is_empty());
    assert!(body["timestamp"].is_string());
    body
}

pub fn unknown_api_route_is_404_envelope(ctx: &Ctx) {
    ctx.block_on(async {
        let resp = ctx
            .http
            .get(ctx.url("/api/no-such-route"))
            .send()
            .await
            .unwrap();
        let body = expect_failure(resp, 404, "NOT_FOUND").await;
        assert_eq!(body["error"]["details"]["path"], "/api/no-such-route");
        // Seed-style prefixes reach the Worker too, never the app.
        let resp = ctx.http.post(ctx.url("/dev/unknown")).send().await.unwrap();
        expect_failure(resp, 404, "NOT_FOUND").await;
    });
}

pub fn wrong_method_is_405_with_allow(ctx: &Ctx) {
    ctx.block_on(async {
        let resp = ctx
            .http
            .delete(ctx.url("/api/health"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.headers()["allow"], "GET");
        expect_failure(resp, 405, "METHOD_NOT_ALLOWED").await;
    });
}

pub fn malformed_json_is_400_validation_error(ctx: &Ctx) {
    ctx.block_on(async {
        let resp = ctx
            .http
            .post(ctx.url("/api/_dev/probe/malformed"))
            .header("content-type", "application/json")
            .body(r#"{"note": "#)
            .send()
            .await
            .unwrap();
        let body = expect_failure(resp, 400, "VALIDATION_ERROR").await;
        assert_eq!(body["error"]["details"]["field"], "body");
        assert!(body["error"]["details"]["reason"]
            .as_str()
            .unwrap()
            .contains("line 1"));
        // Nothing was written.
        let state: Value = ctx
            .http
            .get(ctx.url("/api/_dev/probe/malformed"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(state["data"]["d1_note"], Value::Null);
        assert_eq!(state["data"]["counter"], json!(0));
    });
}

pub fn mistyped_json_is_400_without_echo(ctx: &Ctx) {
    ctx.block_on(async {
        let url = ctx.url("/api/_dev/probe/mistyped");
        let resp = ctx
            .http
            .post(&url)
            .json(&json!({"note": 987654321}))
            .send()
            .await
            .unwrap();
        let body = expect_failure(resp, 400, "VALIDATION_ERROR").await;
        assert!(
            !body.to_string().contains("987654321"),
            "value echoed: {body}"
        );
        let resp = ctx.http.post(&url).json(&json!({})).send().await.unwrap();
        let body = expect_failure(resp, 400, "VALIDATION_ERROR").await;
        assert!(body["error"]["details"]["reason"]
            .as_str()
            .unwrap()
            .contains("missing field"));
    });
}

pub fn oversized_body_is_413(ctx: &Ctx) {
    ctx.block_on(async {
        let limit = 1024 * 1024;
        let note = "x".repeat(limit);
        let url = ctx.url("/api/_dev/probe/oversized");
        let resp = ctx
            .http
            .post(&url)
            .json(&json!({ "note": note }))
            .send()
            .await
            .unwrap();
        let body = expect_failure(resp, 413, "PAYLOAD_TOO_LARGE").await;
        assert_eq!(body["error"]["details"]["limit_bytes"], json!(limit));
        // Just under the limit is accepted.
        let note = "x".repeat(limit - 20);
        let resp = ctx
            .http
            .post(&url)
            .json(&json!({ "note": note }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
    });
}

pub fn internal_error_is_500_without_detail(ctx: &Ctx) {
    ctx.block_on(async {
        let resp = ctx
            .http
            .get(ctx.url("/api/_dev/fail"))
            .send()
            .await
            .unwrap();
        let body = expect_failure(resp, 500, "INTERNAL_ERROR").await;
        assert_eq!(body["error"]["message"], "Internal server error");
        assert!(body["error"].get("details").is_none());
        assert!(!body.to_string().contains("secret-internal-detail"));
    });
}
