//! Debian's chromedriver in its own process group, and headless Chromium sessions on it.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use xtask::process::{free_port, Group};

pub struct Chromedriver {
    group: Group,
    pub url: String,
}

impl Chromedriver {
    pub fn start() -> Result<Self, String> {
        let port = free_port();
        let mut cmd = Command::new("/usr/bin/chromedriver");
        cmd.arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let group = Group::spawn(cmd).map_err(|e| {
            format!("cannot start /usr/bin/chromedriver ({e}): apt-get install chromium-driver")
        })?;
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err("chromedriver did not open its port within 20s".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(Self {
            group,
            url: format!("http://127.0.0.1:{port}"),
        })
    }

    pub fn stop(&mut self) -> bool {
        self.group.stop(Duration::from_secs(10))
    }
}

/// A headless Chromium session with the flags this closed network needs.
pub async fn session(webdriver: &str) -> Client {
    session_with(webdriver, &[]).await
}

/// [`session`] with `extra` Chromium flags (`--enable-unsafe-webgpu` offers a SwiftShader
/// WebGPU adapter; without it the app trains on the CPU).
pub async fn session_with(webdriver: &str, extra: &[&str]) -> Client {
    static SESSIONS: AtomicU32 = AtomicU32::new(0);
    let n = SESSIONS.fetch_add(1, Ordering::SeqCst);
    let profile = xtask::paths::repo_root().join(format!(
        "target/e2e/chromium-profile-{}-{n}",
        std::process::id()
    ));
    let mut args: Vec<String> = extra.iter().map(|a| a.to_string()).collect();
    args.extend(
        [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1280,900",
        ]
        .map(String::from),
    );
    args.push(format!("--user-data-dir={}", profile.display()));
    let caps = serde_json::json!({
        "goog:chromeOptions": { "binary": "/usr/bin/chromium", "args": args }
    });
    let serde_json::Value::Object(caps) = caps else {
        unreachable!("caps is an object")
    };
    // chromedriver speaks plain HTTP on loopback: no TLS stack needed.
    ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(webdriver)
        .await
        .expect("chromedriver accepts a new headless session")
}

/// Where browser tests keep their screenshots (test artifacts).
pub fn screenshot_dir() -> std::path::PathBuf {
    let dir = xtask::paths::repo_root().join("target/e2e/screenshots");
    std::fs::create_dir_all(&dir).expect("can create target/e2e/screenshots");
    dir
}
