//! `wrangler.toml` as committed is production: the dry-run bundle says so, and a Worker run
//! with it serves nothing without its signing key, has no development routes, and mails
//! through the configured provider (or refuses before anything is written).

use std::time::Duration;

use meshfed_e2e::identity::{registration, six_digits, unique_user};
use meshfed_e2e::mail_sink::MailSink;
use meshfed_e2e::{server, Ctx};
use serde_json::{json, Value};
use xtask::wrangler::wrangler_command;

/// A test key (an Ed25519 seed in hex), not a secret of any deployment.
const SIGNING_KEY: &str = "5f3c0a9e8d7b6a5948372615f4e3d2c1b0a99887766554433221100ffeeddccb";
const MAIL_KEY: &str = "mail-provider-test-key";

pub fn the_committed_configuration_bundles_as_production(_ctx: &Ctx) {
    let outdir = server::fresh_state_dir("deploy-dry-run");
    let out = wrangler_command()
        .args(["deploy", "--dry-run", "--outdir"])
        .arg(&outdir)
        .output()
        .expect("wrangler runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "wrangler deploy --dry-run failed:\n{text}"
    );
    let vars: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("Environment Variable"))
        .collect();
    let environment = vars
        .iter()
        .find(|l| l.contains("ENVIRONMENT"))
        .unwrap_or_else(|| panic!("no ENVIRONMENT among the bundle's vars:\n{text}"));
    assert!(environment.contains("\"production\""), "{environment}");
    assert!(
        !vars.iter().any(|l| l.contains("JWT_SIGNING_KEY")),
        "a signing key must never be a committed var: {vars:?}"
    );
    assert!(
        outdir.join("index.js").exists(),
        "the bundle has no index.js in {}",
        outdir.display()
    );
}

pub fn production_serves_nothing_until_configured_and_mails_through_the_provider(ctx: &Ctx) {
    let state = server::fresh_state_dir("production");
    let (username, email) = unique_user("prod");

    // 1. No signing key: every API request is refused, and says what the operator must do.
    let mut bare = server::start_production(&state, &[]).expect("production server starts");
    let local = ctx_for(ctx, &bare.base_url());
    local.block_on(async {
        for (method, path) in [
            ("GET", "/api/health"),
            ("GET", "/.well-known/jwks.json"),
            ("POST", "/api/auth/register"),
            ("GET", "/api/_dev/outbox?to=x@example.org"),
            ("GET", "/dev/user_runs"),
        ] {
            let (status, body) = call(&local, method, path, registration(&username, &email)).await;
            assert_eq!(status, 503, "{method} {path}: {body}");
            assert_eq!(body["error"]["code"], "SERVICE_UNAVAILABLE", "{path}");
            let message = body["error"]["message"].as_str().unwrap_or_default();
            assert!(message.contains("JWT_SIGNING_KEY"), "{path}: {message}");
        }
    });
    assert!(bare.stop());

    // 2. A key but no mail provider: no development routes; mail-sending requests refuse
    //    with 503 before writing anything, for known and unknown accounts alike.
    let keyed = [("JWT_SIGNING_KEY", SIGNING_KEY)];
    let mut no_mail = server::start_production(&state, &keyed).expect("keyed server starts");
    let local = ctx_for(ctx, &no_mail.base_url());
    local.block_on(async {
        let (status, body) = call(&local, "GET", "/api/health", Value::Null).await;
        assert_eq!(
            (status, &body["data"]["environment"]),
            (200, &json!("production"))
        );
        for path in [
            "/api/_dev/outbox?to=x@example.org",
            "/api/_dev/probe/k",
            "/api/_dev/fail",
        ] {
            let (status, body) = call(&local, "GET", path, Value::Null).await;
            assert_eq!(
                (status, &body["error"]["code"]),
                (404, &json!("NOT_FOUND")),
                "{path}"
            );
        }
        let (_, doc) = call(&local, "GET", "/api/openapi.json", Value::Null).await;
        let paths = doc["paths"].as_object().expect("the document has paths");
        assert!(!paths.is_empty() && !paths.keys().any(|p| p.contains("_dev")));
        let (status, body) = call(
            &local,
            "POST",
            "/api/auth/register",
            registration(&username, &email),
        )
        .await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (503, &json!("SERVICE_UNAVAILABLE")),
            "{body}"
        );
        assert!(
            body["error"]["message"].as_str().unwrap().contains("email"),
            "{body}"
        );
        for login in [email.as_str(), "nobody@clinic.example.org"] {
            let (status, _) = call(
                &local,
                "POST",
                "/api/auth/forgot-password",
                json!({"email": login}),
            )
            .await;
            assert_eq!(status, 503, "{login}");
        }
    });
    assert!(no_mail.stop());

    // 3. With a provider: the same username registers (step 2 left nothing behind), the
    //    provider gets the code with its key, and the code confirms the account.
    let sink = MailSink::start();
    let mail = [
        ("JWT_SIGNING_KEY", SIGNING_KEY),
        ("MAIL_API_URL", sink.url.as_str()),
        ("MAIL_FROM", "noreply@meshfed.example.org"),
        ("MAIL_API_KEY", MAIL_KEY),
    ];
    let mut mailing = server::start_production(&state, &mail).expect("mailing server starts");
    let local = ctx_for(ctx, &mailing.base_url());
    local.block_on(async {
        let (status, body) = call(
            &local,
            "POST",
            "/api/auth/register",
            registration(&username, &email),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        let posted = sink
            .next(Duration::from_secs(20))
            .expect("the provider got the mail");
        assert_eq!(posted.path, "/send");
        assert_eq!(posted.authorization, Some(format!("Bearer {MAIL_KEY}")));
        assert_eq!(posted.body["to"], json!(email));
        assert_eq!(posted.body["from"], "noreply@meshfed.example.org");
        let code = six_digits(posted.body["text"].as_str().unwrap()).expect("a code in the mail");
        let confirm = json!({"username": username, "code": code});
        let (status, body) = call(&local, "POST", "/api/auth/confirm", confirm).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["data"]["mnemonic"]
                .as_str()
                .unwrap()
                .split(' ')
                .count(),
            12
        );
    });
    assert!(mailing.stop());
}

/// `ctx` for a production server of this test's own: a client that never sends a request
/// twice (the shared one asks again after a 503, which here is the answer under test and
/// a second try would count against the production rate limits).
fn ctx_for(ctx: &Ctx, base: &str) -> Ctx {
    Ctx {
        base: base.to_string(),
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .retry(reqwest::retry::never())
            .build()
            .expect("an HTTP client"),
        rt: ctx.rt.clone(),
        webdriver: ctx.webdriver.clone(),
    }
}

async fn call(ctx: &Ctx, method: &str, path: &str, body: Value) -> (u16, Value) {
    let call = match method {
        "POST" => ctx.post(path).json(&body),
        _ => ctx.get(path),
    };
    call.send().await.status_json()
}
