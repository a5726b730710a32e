//! The pinned cargo tools (wasm-bindgen-cli, worker-build, trunk), installed into ~/.cargo/bin
//! on a background thread while the foreground compiles the workspace.
//!
//! All three build in one shared target directory (their common dependencies compile once)
//! and with a build profile made for a one-off install, not for their authors' releases:
//! trunk's own `lto = "fat"` and one codegen unit took 984 s of a 2-core machine, with no
//! difference in what the tools do for us. Only the crates that do a tool's real work (the
//! wasm rewriting in wasm-bindgen, file hashing in trunk) are optimised; the rest (HTTP
//! servers, CLI parsing, CSS and image minifiers Meshfed does not use) compile at opt-level 0,
//! which halved the installs' CPU time (1,142 s → 530 s on a 2-core machine) and slowed
//! `trunk build` by a few seconds. `cargo install` output goes to a log file (shown when an
//! install fails), so it does not interleave with the foreground's.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread::JoinHandle;
use std::time::Instant;

use xtask::paths::cargo_bin;

use crate::cache;
use crate::setup::CargoTool;
use crate::steps::{output, status, Timer};

/// Profile overrides for `cargo install` (config beats a package's own `[profile.release]`).
const INSTALL_PROFILE: [(&str, &str); 5] = [
    ("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0"),
    ("CARGO_PROFILE_RELEASE_LTO", "false"),
    ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16"),
    ("CARGO_PROFILE_RELEASE_DEBUG", "false"),
    ("CARGO_PROFILE_RELEASE_INCREMENTAL", "false"),
];

pub struct Installing {
    thread: Option<JoinHandle<Result<(), String>>>,
}

impl Installing {
    /// Starts installing every tool not already present at its version; returns at once.
    pub fn start(tools: &'static [CargoTool]) -> Self {
        let (present, missing): (Vec<&'static CargoTool>, Vec<_>) =
            tools.iter().partition(|t| is_present(t));
        for tool in present {
            println!(
                "[xtask] skipped {} {}: {} present",
                tool.krate,
                tool.version,
                cargo_bin().join(tool.bin).display()
            );
        }
        if missing.is_empty() {
            return Self { thread: None };
        }
        let log = cache::root().join("tool-install.log");
        let names: Vec<String> = missing
            .iter()
            .map(|t| format!("{} {}", t.krate, t.version))
            .collect();
        println!(
            "[xtask] installing {} in the background (log: {})",
            names.join(", "),
            log.display()
        );
        let thread = std::thread::spawn(move || install_all(&missing, &log));
        Self {
            thread: Some(thread),
        }
    }

    /// Waits for the installs; the error names the tool and shows the end of its log.
    pub fn wait(mut self) -> Result<(), String> {
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        let start = Instant::now();
        let result = thread
            .join()
            .unwrap_or_else(|_| Err("the tool installer thread panicked".into()));
        let waited = start.elapsed().as_secs_f64();
        if waited >= 1.0 {
            println!("[xtask] waited {waited:.1}s for the tool installs");
        }
        result
    }
}

fn is_present(tool: &CargoTool) -> bool {
    output(Command::new(cargo_bin().join(tool.bin)).arg("--version"))
        .is_some_and(|v| v.split_whitespace().any(|w| w == tool.version))
}

fn install_all(tools: &[&CargoTool], log_path: &PathBuf) -> Result<(), String> {
    let shared_target = cache::root().join("tools-target");
    std::fs::create_dir_all(&shared_target).map_err(|e| e.to_string())?;
    let mut log = std::fs::File::create(log_path)
        .map_err(|e| format!("cannot write {}: {e}", log_path.display()))?;
    for tool in tools {
        let timer = Timer::start();
        let name = format!("{} {} (background)", tool.krate, tool.version);
        let _ = writeln!(log, "== cargo install {} {}", tool.krate, tool.version);
        let err_log = log.try_clone().map_err(|e| e.to_string())?;
        let out_log = log.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = Command::new("cargo");
        cmd.args(["install", tool.krate, "--version", tool.version])
            .args(tool.args)
            .args(tool.hot.iter().flat_map(|krate| {
                [
                    "--config".to_string(),
                    format!("profile.release.package.{krate}.opt-level=1"),
                ]
            }))
            .env("CARGO_TARGET_DIR", &shared_target)
            .envs(INSTALL_PROFILE)
            // Outside the workspace, so none of its .cargo/config.toml applies.
            .current_dir(cache::root())
            .stdout(Stdio::from(out_log))
            .stderr(Stdio::from(err_log));
        if tool.locked {
            cmd.arg("--locked");
        }
        let ok = status(&mut cmd).map(|s| s.success()).unwrap_or(false);
        let secs = timer.finish(&name, if ok { "ok" } else { "FAILED" });
        if !ok {
            println!("[xtask] FAILED  {name} ({secs:.1}s)");
            return Err(format!(
                "cargo install {} --version {}{} {} failed (needs crates.io). The end of {}:\n{}",
                tool.krate,
                tool.version,
                if tool.locked { " --locked" } else { "" },
                tool.args.join(" "),
                log_path.display(),
                log_tail(log_path, 30)
            ));
        }
        println!("[xtask] ok      {name} ({secs:.1}s)");
    }
    // Nothing else uses it; the next tool version compiles afresh anyway.
    let _ = std::fs::remove_dir_all(&shared_target);
    Ok(())
}

fn log_tail(path: &PathBuf, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
