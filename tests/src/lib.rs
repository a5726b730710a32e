//! Fixtures for Meshfed's end-to-end tests: a `wrangler dev` server with its own port and
//! state, a chromedriver, and the context every test receives.

pub mod browser;
pub mod http;
pub mod identity;
pub mod mail_sink;
pub mod participant;
pub mod runs;
pub mod secure;
pub mod server;
pub mod ui;
pub mod volumes;

use std::sync::Arc;

/// What every end-to-end test gets: the shared server's address, an HTTP client, the async
/// runtime, and the chromedriver to open browser sessions with.
pub struct Ctx {
    pub base: String,
    pub http: reqwest::Client,
    pub rt: Arc<tokio::runtime::Runtime>,
    pub webdriver: String,
}

impl Ctx {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The same client and runtime against another server (a test's own `wrangler dev`).
    pub fn with_base(&self, base: String) -> Ctx {
        Ctx {
            base,
            http: self.http.clone(),
            rt: Arc::clone(&self.rt),
            webdriver: self.webdriver.clone(),
        }
    }

    /// Runs an async test body on the shared runtime.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }
}
