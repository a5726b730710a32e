//! The served OpenAPI document must describe what the Worker really does: every documented
//! GET route is called and its real answer validated against the documented schema, and so
//! are the error answers other tests provoke.

use meshfed_e2e::http::Call;
use meshfed_e2e::runs::{create_run, participants, token};
use meshfed_e2e::Ctx;
use serde_json::{json, Value};

async fn document(ctx: &Ctx) -> Value {
    let resp = ctx.get("/api/openapi.json").send().await;
    assert_eq!(resp.status, 200);
    resp.json()
}

pub fn document_is_openapi_3_1_with_routes(ctx: &Ctx) {
    ctx.block_on(async {
        let doc = document(ctx).await;
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
        for path in ["/api/health", "/api/openapi.json", "/api/_dev/probe/{key}"] {
            assert!(doc["paths"].get(path).is_some(), "{path} is documented");
        }
        // The document itself is a valid JSON Schema root for its components.
        jsonschema::draft202012::new(&with_ref(&doc, "#/components/schemas/FailureEnvelope"))
            .expect("components compile as JSON Schema 2020-12");
    });
}

/// The documented schema for `method path` answering `status` (or the `default` answer).
fn response_schema(doc: &Value, path: &str, method: &str, status: u16) -> Value {
    let responses = &doc["paths"][path][method]["responses"];
    let key = if responses.get(status.to_string()).is_some() {
        status.to_string()
    } else {
        assert!(
            responses.get("default").is_some(),
            "{method} {path} documents no {status}"
        );
        "default".to_string()
    };
    let pointer = format!(
        "#/paths/{}/{method}/responses/{key}/content/application~1json/schema",
        path.replace('~', "~0")
            .replace('/', "~1")
            .replace('{', "%7B")
            .replace('}', "%7D")
    );
    with_ref(doc, &pointer)
}

/// The whole document as a schema root whose top-level `$ref` points into it.
fn with_ref(doc: &Value, pointer: &str) -> Value {
    let mut root = doc.clone();
    root["$ref"] = json!(pointer);
    root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    root
}

fn assert_valid(doc: &Value, path: &str, method: &str, status: u16, body: &Value) {
    let schema = response_schema(doc, path, method, status);
    let validator = jsonschema::draft202012::new(&schema).expect("schema compiles");
    let errors: Vec<String> = validator.iter_errors(body).map(|e| e.to_string()).collect();
    assert!(
        errors.is_empty(),
        "{method} {path} {status} breaks its schema: {errors:?}\n{body}"
    );
}

pub fn real_responses_match_the_document(ctx: &Ctx) {
    ctx.block_on(async {
        let doc = document(ctx).await;
        // Every documented GET route, with path parameters filled in.
        let mut checked = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            if item.get("get").is_none() {
                continue;
            }
            let concrete = path.replace("{key}", "openapi");
            let resp = ctx.get(&concrete).send().await;
            let status = resp.status;
            let body: Value = resp.json();
            assert_valid(&doc, path, "get", status, &body);
            checked += 1;
        }
        assert!(checked >= 3, "only {checked} GET routes checked");

        // POST with a body, and the error answers, against their documented responses.
        let probe = "/api/_dev/probe/{key}";
        let url = "/api/_dev/probe/openapi";
        let cases: Vec<(Call, &str, &str)> = vec![
            (ctx.post(url).json(&json!({"note": "n"})), probe, "post"),
            (ctx.post(url).body("{"), probe, "post"),
            (
                ctx.post(url).body(vec![b' '; 1024 * 1024 + 1]),
                probe,
                "post",
            ),
            (ctx.get("/api/_dev/probe/bad%20key"), probe, "get"),
        ];
        let mut statuses = vec![];
        for (req, path, method) in cases {
            let resp = req.send().await;
            let status = resp.status;
            let body: Value = resp.json();
            assert_valid(&doc, path, method, status, &body);
            statuses.push(status);
        }
        assert_eq!(statuses, [201, 400, 413, 400]);

        // An answer that breaks the schema is caught (the check can fail).
        let wrong = json!({"success": true, "data": {"status": "fine"}, "message": "m",
                           "timestamp": "t"});
        let schema = response_schema(&doc, "/api/health", "get", 200);
        assert!(!jsonschema::draft202012::new(&schema)
            .unwrap()
            .is_valid(&wrong));
    });
}

pub fn auth_responses_match_the_document(ctx: &Ctx) {
    use meshfed_e2e::identity::{latest_code, registration, unique_user};
    ctx.block_on(async {
        let doc = document(ctx).await;
        let (username, email) = unique_user("oas");
        let post = |path: &str, body: Value| ctx.post(path).json(&body).send();
        let mut seen = vec![];
        let mut check = |path: &'static str, status: u16, body: Value| {
            assert_valid(&doc, path, "post", status, &body);
            seen.push((path, status));
        };
        let register = "/api/auth/register";
        let resp = post(register, registration(&username, &email)).await;
        check(register, resp.status, resp.json());
        let resp = post(register, registration(&username, &email)).await;
        check(register, resp.status, resp.json());
        let resp = post(register, json!({"username": "x"})).await;
        check(register, resp.status, resp.json());
        let confirm = "/api/auth/confirm";
        let code = latest_code(ctx, &email).await;
        let wrong = if code == "999999" { "999998" } else { "999999" };
        let resp = post(confirm, json!({"username": username, "code": wrong})).await;
        check(confirm, resp.status, resp.json());
        let resp = post(confirm, json!({"username": username, "code": code})).await;
        check(confirm, resp.status, resp.json());
        let resend = "/api/auth/confirm/resend";
        let resp = post(resend, json!({"username": username})).await;
        check(resend, resp.status, resp.json());
        assert_eq!(
            seen,
            [
                (register, 201),
                (register, 409),
                (register, 400),
                (confirm, 401),
                (confirm, 200),
                (resend, 200)
            ]
        );
    });
}

/// Runs schemathesis against `schema` (5 examples an operation, seed 1, no 5xx and every
/// answer as documented) but the paths matching `exclude`, with `extra` arguments, in `dir`.
fn schemathesis(
    st: &str,
    dir: &std::path::Path,
    schema: &str,
    exclude: &str,
    extra: &[&str],
) -> std::process::Output {
    // In the server's fresh state directory: schemathesis keeps a cache of past failures
    // where it runs, which would replay them and leave files in the clone.
    std::process::Command::new(st)
        .current_dir(dir)
        .args([
            "run",
            schema,
            "--max-examples",
            "5",
            "--seed",
            "1",
            "--no-color",
        ])
        .args(["--checks", "not_a_server_error,response_schema_conformance"])
        .args(["--exclude-path-regex", exclude, "--warnings", "off"])
        .args(extra)
        .output()
        .unwrap_or_else(|e| panic!("{st}: {e} (cargo xtask test installs it)"))
}

/// schemathesis (PyPI, installed by `cargo xtask test`) generates requests for every
/// documented operation from the document itself, on a server of its own (its requests would
/// otherwise mix with the other tests' accounts): no answer may be a 5xx and none may break
/// the document's response schemas. The development routes are left out (`/api/_dev/fail`
/// is a 500 on purpose; the sweep would empty the server). Twice: anonymous, then signed in.
pub fn schemathesis_finds_no_server_error_or_schema_break(ctx: &Ctx) {
    let st = std::env::var("MESHFED_SCHEMATHESIS")
        .expect("MESHFED_SCHEMATHESIS: run the suite through `cargo xtask test` or `e2e`");
    let state = meshfed_e2e::server::fresh_state_dir("schemathesis");
    let vars = [("RATE_LIMIT_MULTIPLIER", "1000")];
    let mut own = meshfed_e2e::server::start_with(&state, None, &vars).expect("server starts");
    let schema = format!("{}/api/openapi.json", own.base_url());
    let out = schemathesis(&st, &state, &schema, "^/api/_dev/", &[]);
    let report = String::from_utf8_lossy(&out.stdout);
    let summary: Vec<&str> = report.lines().rev().take(12).collect();
    println!(
        "schemathesis: {}",
        summary.into_iter().rev().collect::<Vec<_>>().join(" | ")
    );
    assert!(
        out.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        report.contains("Tested:"),
        "schemathesis ran no operation: {report}"
    );
    // Again as a signed-in participant of two runs (one secure), so the operations behind
    // sign-in see their own inputs rather than 401. Signing out (everywhere) is left out: it
    // would end the session for the operations after it.
    let here = ctx.with_base(own.base_url());
    let bearer = here.block_on(async {
        let users = participants(&here, "st", 2).await;
        for secure in [false, true] {
            let body = json!({"name": "fuzzed", "secure_aggregation": secure});
            create_run(&here, &users[0], &[&users[1]], body).await;
        }
        format!("Authorization: Bearer {}", token(&users[0]))
    });
    let exclude = "^/api/_dev/|^/api/auth/(logout|mfa/)";
    let out = schemathesis(&st, &state, &schema, exclude, &["-H", &bearer]);
    let report = String::from_utf8_lossy(&out.stdout);
    let summary: Vec<&str> = report.lines().rev().take(12).collect();
    println!(
        "schemathesis, signed in: {}",
        summary.into_iter().rev().collect::<Vec<_>>().join(" | ")
    );
    assert!(
        out.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(own.stop());
}
