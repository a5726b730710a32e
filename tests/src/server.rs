//! A fresh `wrangler dev` for tests: a free port, its own state directory under
//! `target/e2e/`, migrations applied, output in a log file next to the state.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use xtask::paths::repo_root;
use xtask::process::free_port;
use xtask::wrangler::{apply_migrations, Ready, Server, ServerOptions};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A new, empty state directory for one test server.
pub fn fresh_state_dir(label: &str) -> PathBuf {
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let dir = repo_root().join(format!("target/e2e/{}-{label}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("can create a state directory under target/e2e");
    dir
}

/// Removes this process's state directories and browser profiles under `target/e2e/`
/// (screenshots stay).
pub fn remove_run_dirs() {
    let Ok(entries) = std::fs::read_dir(repo_root().join("target/e2e")) else {
        return;
    };
    let pid = std::process::id().to_string();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = name.starts_with(&format!("{pid}-"))
            || name.starts_with(&format!("chromium-profile-{pid}-"));
        if ours {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The shared end-to-end server acts as one client for every test (workerd sets
/// `CF-Connecting-IP` locally), so it runs with every rate limit scaled up; the rate-limit
/// tests start their own server with the production limits.
pub const SHARED_VARS: &[(&str, &str)] = &[
    ("RATE_LIMIT_MULTIPLIER", "1000"),
    ("ADMIN_EMAILS", ADMIN_EMAILS),
];

/// The address that becomes an administrator on the shared server.
pub const ADMIN_EMAIL: &str = "e2e_admin@clinic.example.org";
/// The administrator who uses the app's admin page.
pub const APP_ADMIN_EMAIL: &str = "e2e_app_admin@clinic.example.org";
const ADMIN_EMAILS: &str = "e2e_admin@clinic.example.org,e2e_app_admin@clinic.example.org";

/// Applies migrations to `state` and starts a server on it (a new port unless given) with
/// the settings of `wrangler.toml` (production limits) in the development environment.
pub fn start(state: &Path, port: Option<u16>) -> Result<Server, String> {
    start_with(state, port, &[])
}

/// Like [`start`], overriding Worker variables.
pub fn start_with(
    state: &Path,
    port: Option<u16>,
    vars: &[(&str, &str)],
) -> Result<Server, String> {
    launch(state, port, vars, Ready::Healthy)
}

/// Starts a server again on `state`, on the port it had, after it was stopped or killed
/// (its migrations are already applied).
pub fn resume(state: &Path, port: u16, vars: &[(&str, &str)]) -> Result<Server, String> {
    start_on(state, Some(port), vars, Ready::Healthy)
}

/// A benchmark's own server with every rate limit lifted, its process groups stopped on
/// Ctrl-C and on panic, and a context whose client waits up to `timeout` for an answer.
pub fn for_benchmark(label: &str, timeout: std::time::Duration) -> (Server, crate::Ctx) {
    xtask::process::stop_groups_on_signal();
    xtask::process::stop_groups_on_panic();
    let state = fresh_state_dir(label);
    let vars = [("RATE_LIMIT_MULTIPLIER", "1000000")];
    let srv = start_with(&state, None, &vars).expect("server starts");
    let ctx = crate::Ctx {
        base: srv.base_url(),
        http: reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .expect("an HTTP client"),
        rt: std::sync::Arc::new(tokio::runtime::Runtime::new().expect("a tokio runtime")),
        webdriver: String::new(),
    };
    (srv, ctx)
}

/// A server in the production environment (`wrangler.toml` as committed, plus `vars`),
/// counted as started once it answers at all: unconfigured, it refuses every request.
pub fn start_production(state: &Path, vars: &[(&str, &str)]) -> Result<Server, String> {
    let mut all = vec![("ENVIRONMENT", "production")];
    all.extend_from_slice(vars);
    launch(state, None, &all, Ready::Answering)
}

fn launch(
    state: &Path,
    port: Option<u16>,
    vars: &[(&str, &str)],
    ready: Ready,
) -> Result<Server, String> {
    apply_migrations(state)?;
    start_on(state, port, vars, ready)
}

fn start_on(
    state: &Path,
    port: Option<u16>,
    vars: &[(&str, &str)],
    ready: Ready,
) -> Result<Server, String> {
    let options = |port| {
        let run = NEXT.fetch_add(1, Ordering::SeqCst);
        ServerOptions {
            port,
            persist_to: state.to_path_buf(),
            log: Some(state.join(format!("wrangler-{run}.log"))),
            vars: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ready,
        }
    };
    let Some(port) = port else {
        return Server::start(options(free_port()));
    };
    // A restart on the port just released: another socket can hold it for a moment (the
    // tests run side by side), so try again a few times before calling it a failure.
    let mut attempt = 1;
    loop {
        match Server::start(options(port)) {
            Err(e) if attempt < 5 && e.contains("Address already in use") => {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_secs(2));
            }
            result => return result,
        }
    }
}
