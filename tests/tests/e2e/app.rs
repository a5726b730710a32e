//! The Leptos app as a person sees it, in headless Chromium against the real Worker.

use fantoccini::Locator;
use meshfed_e2e::browser::session;
use meshfed_e2e::http::Answer;
use meshfed_e2e::ui::{field, screenshot, wait_for};
use meshfed_e2e::Ctx;

pub fn spa_fallback_serves_the_app_for_app_routes(ctx: &Ctx) {
    ctx.block_on(async {
        for path in ["/", "/login", "/some/deep/app/route"] {
            let resp = ctx.get(path).send().await;
            assert_eq!(resp.status, 200, "{path}");
            let ctype = resp.headers["content-type"].to_str().unwrap().to_string();
            assert!(ctype.starts_with("text/html"), "{path}: {ctype}");
            let html = resp.text();
            assert!(
                html.contains("meshfed-app") && html.contains(".wasm"),
                "{path}: {html}"
            );
        }
    });
}

pub fn login_page_renders_form_and_online_status(ctx: &Ctx) {
    ctx.block_on(async {
        let client = session(&ctx.webdriver).await;
        client.goto(&ctx.url("/login")).await.unwrap();
        wait_for(&client, Locator::Css("form[aria-label='Sign in']")).await;
        assert_eq!(client.title().await.unwrap(), "Meshfed");
        let heading = client.find(Locator::Css("main h1")).await.unwrap();
        assert_eq!(heading.text().await.unwrap(), "Sign in");

        let user = field(&client, "Username or email").await;
        assert_eq!(user.attr("type").await.unwrap().as_deref(), Some("text"));
        let password = field(&client, "Password").await;
        assert_eq!(
            password.attr("type").await.unwrap().as_deref(),
            Some("password")
        );
        user.send_keys("alice").await.unwrap();
        assert_eq!(user.prop("value").await.unwrap().as_deref(), Some("alice"));
        let submit = client
            .find(Locator::XPath("//button[normalize-space(.)='Sign in']"))
            .await;
        assert!(submit.is_ok(), "a Sign in button");

        // The footer's status line comes from the real /api/health.
        let status = wait_for(&client, Locator::Css("[role=status].online")).await;
        let text = status.text().await.unwrap();
        assert!(text.contains("Server online"), "status line says {text:?}");
        assert!(
            text.contains(env!("CARGO_PKG_VERSION")),
            "status line says {text:?}"
        );
        screenshot(&client, "login.png").await;
        client.close().await.unwrap();
    });
}

pub fn unknown_page_shows_not_found(ctx: &Ctx) {
    ctx.block_on(async {
        let client = session(&ctx.webdriver).await;
        client.goto(&ctx.url("/no/such/page")).await.unwrap();
        let heading = wait_for(&client, Locator::Css("main h1")).await;
        assert_eq!(heading.text().await.unwrap(), "Page not found");
        let home = client.find(Locator::XPath("//main//a[@href='/']")).await;
        assert!(home.is_ok(), "a link back to the start page");
        screenshot(&client, "not-found.png").await;
        client.close().await.unwrap();
    });
}

/// The headers every response carries except the policy, app and API alike.
const COMMON_HEADERS: [&str; 6] = [
    "strict-transport-security",
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
    "cross-origin-opener-policy",
    "permissions-policy",
];

pub fn app_and_api_send_the_security_headers_and_inline_scripts_are_blocked(ctx: &Ctx) {
    ctx.block_on(async {
        let app = ctx.get("/login").send().await;
        let api = ctx.get("/api/health").send().await;
        let header = |resp: &Answer, name: &str| {
            resp.headers
                .get(name)
                .unwrap_or_else(|| panic!("no {name} header"))
                .to_str()
                .unwrap()
                .to_string()
        };
        for name in COMMON_HEADERS {
            assert_eq!(header(&app, name), header(&api, name), "{name}");
        }
        assert_eq!(header(&app, "x-content-type-options"), "nosniff");
        assert_eq!(header(&app, "x-frame-options"), "DENY");
        assert_eq!(
            header(&api, "content-security-policy"),
            "default-src 'none'; frame-ancestors 'none'"
        );
        let policy = header(&app, "content-security-policy");
        let script_src = policy
            .split("; ")
            .find(|d| d.starts_with("script-src "))
            .unwrap_or_else(|| panic!("no script-src in {policy}"));
        assert!(script_src.contains("'sha256-"), "{script_src}");
        assert!(!script_src.contains("unsafe-inline"), "{script_src}");
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        // The headers file is configuration, not an asset.
        let file = ctx.get("/_headers").send().await;
        assert!(!file.text().contains("Content-Security-Policy:"));

        // In the browser the app starts under that policy, and an injected inline script
        // (what a stored XSS would add) does not run.
        let client = session(&ctx.webdriver).await;
        client.goto(&ctx.url("/login")).await.unwrap();
        wait_for(&client, Locator::Css("form[aria-label='Sign in']")).await;
        let outcome = client
            .execute_async(
                "const done = arguments[0];
                 let violations = 0;
                 document.addEventListener('securitypolicyviolation', () => { violations += 1; });
                 const s = document.createElement('script');
                 s.textContent = 'window.__injected = true;';
                 document.head.appendChild(s);
                 setTimeout(() => done([window.__injected === true, violations]), 300);",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(
            outcome,
            serde_json::json!([false, 1]),
            "injected script ran or was not reported"
        );
        client.close().await.unwrap();
    });
}
