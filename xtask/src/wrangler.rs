//! `wrangler dev` as a managed server: its own port, inspector port and state directory, in its
//! own process group, ready once `GET /api/health` answers 200.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::paths::{dist_dir, node_bin, repo_root, tool_path, worker_module};
use crate::process::{free_port, Group};

/// How long a cold `wrangler dev` may take to answer its health route.
pub const START_TIMEOUT: Duration = Duration::from_secs(120);

/// A `wrangler` command in the repository root with telemetry and network look-ups off.
pub fn wrangler_command() -> Command {
    let mut cmd = Command::new(node_bin().join("wrangler"));
    cmd.current_dir(repo_root())
        .env("PATH", tool_path())
        .env("WRANGLER_SEND_METRICS", "false")
        .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    cmd
}

/// Applies the D1 migrations in `edge/migrations` to the local database under `persist_to`.
pub fn apply_migrations(persist_to: &Path) -> Result<(), String> {
    let out = wrangler_command()
        .args(["d1", "migrations", "apply", "DB", "--local", "--persist-to"])
        .arg(persist_to)
        .output()
        .map_err(|e| format!("cannot run wrangler ({e}); run `npm ci` in the repository root"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "wrangler d1 migrations apply failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

pub struct ServerOptions {
    pub port: u16,
    pub persist_to: PathBuf,
    /// Where wrangler's output goes; `None` shares this process's terminal.
    pub log: Option<PathBuf>,
    /// Worker variables overriding `wrangler.toml` (`--var NAME:VALUE`). `ENVIRONMENT` is
    /// `development` unless given here: `wrangler.toml` as committed is production.
    pub vars: Vec<(String, String)>,
    /// When the server counts as started.
    pub ready: Ready,
}

/// What [`Server::start`] waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ready {
    /// `GET /api/health` answers 200.
    Healthy,
    /// `GET /api/health` answers at all (a server expected to refuse, e.g. unconfigured).
    Answering,
}

/// A running `wrangler dev`. Dropping it stops the whole process group.
pub struct Server {
    group: Group,
    pub port: u16,
    pub persist_to: PathBuf,
    pub log: Option<PathBuf>,
}

impl Server {
    /// Starts wrangler dev on the built Worker and app and waits until it is healthy.
    pub fn start(opts: ServerOptions) -> Result<Server, String> {
        for (what, path) in [("the Worker", worker_module()), ("the app", dist_dir())] {
            if !path.exists() {
                return Err(format!(
                    "{} is missing: {what} has not been built (`cargo xtask dev` or \
                     `cargo xtask test` build it)",
                    path.display()
                ));
            }
        }
        let mut cmd = wrangler_command();
        cmd.args([
            "dev",
            "--ip",
            "127.0.0.1",
            "--show-interactive-dev-session=false",
        ])
        .args(["--port", &opts.port.to_string()])
        .args(["--inspector-port", &free_port().to_string()])
        .arg("--persist-to")
        .arg(&opts.persist_to);
        if !opts.vars.iter().any(|(name, _)| name == "ENVIRONMENT") {
            cmd.args(["--var", "ENVIRONMENT:development"]);
        }
        for (name, value) in &opts.vars {
            cmd.args(["--var", &format!("{name}:{value}")]);
        }
        if let Some(log) = &opts.log {
            let file = std::fs::File::create(log)
                .map_err(|e| format!("cannot create {}: {e}", log.display()))?;
            let err = file.try_clone().map_err(|e| e.to_string())?;
            cmd.stdout(file).stderr(err);
        }
        let group = Group::spawn(cmd).map_err(|e| format!("cannot start wrangler dev: {e}"))?;
        let mut server = Server {
            group,
            port: opts.port,
            persist_to: opts.persist_to,
            log: opts.log,
        };
        server.wait_ready(opts.ready, START_TIMEOUT)?;
        Ok(server)
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn pgid(&self) -> i32 {
        self.group.pgid()
    }

    fn wait_ready(&mut self, ready: Ready, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            match (ready, health_status(self.port)) {
                (Ready::Healthy, Some(200)) | (Ready::Answering, Some(_)) => return Ok(()),
                _ => {}
            }
            if let Some(status) = self.group.try_wait() {
                return Err(format!(
                    "wrangler dev exited early ({status}){}",
                    self.log_tail()
                ));
            }
            if Instant::now() > deadline {
                self.group.stop(Duration::from_secs(10));
                return Err(format!(
                    "wrangler dev did not answer /api/health within {}s{}",
                    timeout.as_secs(),
                    self.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn log_tail(&self) -> String {
        let Some(log) = &self.log else {
            return String::new();
        };
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(30).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!("; last lines of {}:\n{}", log.display(), tail.join("\n"))
    }

    /// Stops the whole process group; true when nothing of it is left.
    pub fn stop(&mut self) -> bool {
        self.group.stop(Duration::from_secs(15))
    }

    /// `Some(status)` once wrangler itself has exited.
    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.group.try_wait()
    }
}

/// The HTTP status of `GET /api/health` on 127.0.0.1:`port`, or `None` if nothing answers.
pub fn health_status(port: u16) -> Option<u16> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let request =
        format!("GET /api/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut head = [0u8; 32];
    let n = stream.read(&mut head).ok()?;
    let line = std::str::from_utf8(&head[..n]).ok()?;
    line.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}
