use meshfed_e2e::http::Answer;
use meshfed_e2e::Ctx;
use serde_json::{json, Value};

/// Asserts the failure envelope with `code` at `status` and returns it.
pub fn expect_failure(resp: Answer, status: u16, code: &str) -> Value {
    assert_eq!(resp.status, status, "status for {code}");
    let body: Value = resp.json();
    assert_eq!(body["success"], json!(false), "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(!body["error"]["message"].as_str().unwrap().is_empty());
    assert!(body["timestamp"].is_string());
    body
}

pub fn unknown_api_route_is_404_envelope(ctx: &Ctx) {
    ctx.block_on(async {
        let resp = ctx.get("/api/no-such-route").send().await;
        let body = expect_failure(resp, 404, "NOT_FOUND");
        assert_eq!(body["error"]["details"]["path"], "/api/no-such-route");
        // Seed-style prefixes reach the Worker too, never the app.
        let resp = ctx.post("/dev/unknown").send().await;
        expect_failure(resp, 404, "NOT_FOUND");
    });
}

pub fn wrong_method_is_405_with_allow(ctx: &Ctx) {
    ctx.block_on(async {
        let resp = ctx.delete("/api/health").send().await;
        assert_eq!(resp.headers["allow"], "GET");
        expect_failure(resp, 405, "METHOD_NOT_ALLOWED");
        // A method nobody defines is not read as GET (workers-rs would): schemathesis found
        // `QUERY /api/_dev/fail` answering 500 and `QUERY /api/health` answering 200.
        for path in ["/api/health", "/api/_dev/fail", "/api/runs"] {
            let query = reqwest::Method::from_bytes(b"QUERY").unwrap();
            let resp = ctx.call(query, path).send().await;
            let body = expect_failure(resp, 405, "METHOD_NOT_ALLOWED");
            assert!(body["error"]["message"].as_str().unwrap().contains("QUERY"));
        }
    });
}

pub fn malformed_json_is_400_validation_error(ctx: &Ctx) {
    ctx.block_on(async {
        let resp = ctx
            .post("/api/_dev/probe/malformed")
            .header("content-type", "application/json")
            .body(r#"{"note": "#)
            .send()
            .await;
        let body = expect_failure(resp, 400, "VALIDATION_ERROR");
        assert_eq!(body["error"]["details"]["field"], "body");
        assert!(body["error"]["details"]["reason"]
            .as_str()
            .unwrap()
            .contains("line 1"));
        // Nothing was written.
        let state: Value = ctx.get("/api/_dev/probe/malformed").send().await.json();
        assert_eq!(state["data"]["d1_note"], Value::Null);
        assert_eq!(state["data"]["counter"], json!(0));
    });
}

pub fn mistyped_json_is_400_without_echo(ctx: &Ctx) {
    ctx.block_on(async {
        let url = "/api/_dev/probe/mistyped";
        let resp = ctx.post(url).json(&json!({"note": 987654321})).send().await;
        let body = expect_failure(resp, 400, "VALIDATION_ERROR");
        assert!(
            !body.to_string().contains("987654321"),
            "value echoed: {body}"
        );
        let resp = ctx.post(url).json(&json!({})).send().await;
        let body = expect_failure(resp, 400, "VALIDATION_ERROR");
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
        let url = "/api/_dev/probe/oversized";
        let resp = ctx.post(url).json(&json!({ "note": note })).send().await;
        let body = expect_failure(resp, 413, "PAYLOAD_TOO_LARGE");
        assert_eq!(body["error"]["details"]["limit_bytes"], json!(limit));
        // Just under the limit is accepted.
        let note = "x".repeat(limit - 20);
        let resp = ctx.post(url).json(&json!({ "note": note })).send().await;
        assert_eq!(resp.status, 201);
    });
}

pub fn internal_error_is_500_without_detail(ctx: &Ctx) {
    ctx.block_on(async {
        let resp = ctx.get("/api/_dev/fail").send().await;
        let body = expect_failure(resp, 500, "INTERNAL_ERROR");
        assert_eq!(body["error"]["message"], "Internal server error");
        assert!(body["error"].get("details").is_none());
        assert!(!body.to_string().contains("secret-internal-detail"));
    });
}

/// A cross-site form (urlencoded, multipart, or text/plain carrying JSON, the classic trick)
/// reaches no JSON handler, canonical or seed: 415, and nothing is written.
pub fn form_posts_to_json_routes_are_415(ctx: &Ctx) {
    use meshfed_e2e::identity::{registration, unique_user};
    ctx.block_on(async {
        let (username, email) = unique_user("form");
        let json_text = registration(&username, &email).to_string();
        let attempts = [
            (
                "/api/auth/register",
                "text/plain;charset=UTF-8",
                json_text.clone(),
            ),
            (
                "/api/auth/login",
                "application/x-www-form-urlencoded",
                "username=a&password=b".into(),
            ),
            (
                "/api/_dev/probe/form",
                "text/plain",
                r#"{"note": "from a form"}"#.into(),
            ),
            (
                "/dev/login",
                "multipart/form-data; boundary=b",
                json_text.clone(),
            ),
            ("/users/signup", "text/plain", json_text.clone()),
        ];
        for (path, kind, body) in attempts {
            let resp = post_typed(ctx, path, kind, body).await;
            assert_eq!(resp.status, 415, "{path}");
            let body: Value = resp.json();
            // Each route family answers in its own shape.
            match path {
                p if p.starts_with("/api/") => {
                    assert_eq!(body["error"]["code"], "UNSUPPORTED_MEDIA_TYPE", "{body}");
                    assert_eq!(body["error"]["details"]["field"], "content-type");
                }
                "/dev/login" => assert_eq!(body["body"]["error"], "UNSUPPORTED_MEDIA_TYPE"),
                _ => assert_eq!(
                    (&body["error"], &body["success"]),
                    (&json!(true), &json!(false))
                ),
            }
        }
        let probe = probe_state(ctx, "form").await;
        assert_eq!(probe["data"]["d1_note"], Value::Null, "{probe}");
        // The form left nothing behind: the same registration as JSON succeeds.
        let resp = post_typed(ctx, "/api/auth/register", "application/json", json_text).await;
        assert_eq!(resp.status, 201);
    });
}

async fn post_typed(ctx: &Ctx, path: &str, content_type: &str, body: String) -> Answer {
    ctx.post(path)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
}

async fn probe_state(ctx: &Ctx, key: &str) -> Value {
    let url = format!("/api/_dev/probe/{key}");
    ctx.get(&url).send().await.json()
}

/// A chunked body has no Content-Length to refuse by: the Worker counts it as it streams and
/// answers 413 once it passes the limit, while the client is still sending (here the client
/// never finishes: a Worker that read the whole body first would never answer).
pub fn a_chunked_body_over_the_limit_is_refused_while_it_streams(ctx: &Ctx) {
    use std::io::{Read, Write};
    let addr = ctx.base.trim_start_matches("http://").to_string();
    let mut stream = std::net::TcpStream::connect(&addr).expect("the Worker listens");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    write!(
        stream,
        "POST /api/_dev/probe/chunked HTTP/1.1\r\nHost: {addr}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .unwrap();
    let chunk = vec![b' '; 64 * 1024];
    // 1.5 MiB of whitespace against the 1 MiB limit, and no final chunk. Once the Worker
    // has answered, the server may stop reading or close: a failed write ends the sending.
    stream
        .set_write_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    for _ in 0..24 {
        let framed = [
            format!("{:x}\r\n", chunk.len()).into_bytes(),
            chunk.clone(),
            b"\r\n".to_vec(),
        ]
        .concat();
        if stream.write_all(&framed).is_err() {
            break;
        }
    }
    let _ = stream.flush();
    let mut head = [0u8; 64];
    let n = stream
        .read(&mut head)
        .expect("an answer before the body ends (no read timeout)");
    let line = String::from_utf8_lossy(&head[..n]).to_string();
    assert!(line.starts_with("HTTP/1.1 413"), "{line}");
    let state = ctx.block_on(probe_state(ctx, "chunked"));
    assert_eq!(state["data"]["counter"], json!(0), "nothing was written");
}
