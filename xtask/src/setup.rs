//! Installs what Meshfed builds and tests with, skipping what is already there at the right
//! version: the wasm32 target, npm packages, Chromium, and the pinned cargo tools in
//! ~/.cargo/bin (installed by `crate::tools`).

use std::path::Path;
use std::process::Command;

use xtask::paths::repo_root;

use crate::digest::fnv1a;

use crate::steps::{output, run, step, Done};

/// A cargo-installed tool pinned to one version.
pub struct CargoTool {
    pub krate: &'static str,
    pub bin: &'static str,
    pub version: &'static str,
    /// `--locked` works for these; wasm-bindgen-cli's own lockfile wants a crate the registry
    /// lacks (see ../shared/TOOLCHAIN.md).
    pub locked: bool,
    /// More `cargo install` arguments (features).
    pub args: &'static [&'static str],
    /// The crates that do the tool's real work, compiled with optimisation; everything else
    /// in it compiles at opt-level 0 (see `crate::tools`).
    pub hot: &'static [&'static str],
}

const TOOLS: [CargoTool; 3] = [
    CargoTool {
        krate: "wasm-bindgen-cli",
        bin: "wasm-bindgen",
        version: "0.2.130",
        locked: false,
        args: &[],
        // Parsing, rewriting and writing the wasm (the training worker's is 40 MB).
        hot: &[
            "walrus",
            "wasmparser",
            "wasm-encoder",
            "wasm-bindgen-cli-support",
            "wasm-bindgen-shared",
            "leb128",
            "id-arena",
            "hashbrown",
            "indexmap",
            "gimli",
            "rustc-demangle",
        ],
    },
    CargoTool {
        krate: "worker-build",
        bin: "worker-build",
        version: "0.8.7",
        locked: true,
        args: &[],
        // It runs cargo, wasm-bindgen, wasm-opt and esbuild; its own work is small.
        hot: &[],
    },
    CargoTool {
        krate: "trunk",
        bin: "trunk",
        version: "0.21.14",
        locked: true,
        // Without its update check and TLS (rustls, ring): Meshfed builds offline.
        args: &["--no-default-features"],
        // The file hashes and subresource integrity of the 20 MB training worker.
        hot: &["sha2", "seahash"],
    },
];

/// What `cargo xtask dev` needs before it builds, except the cargo tools (see [`start_tools`]).
pub fn for_dev() -> Result<(), String> {
    step("check Node.js >= 20", check_node)?;
    step("wasm32-unknown-unknown target", wasm_target)?;
    step("crates of Cargo.lock (cargo fetch --locked)", fetch_crates)?;
    step("npm packages (npm ci)", npm_ci)
}

/// What `cargo xtask test` needs: the dev prerequisites plus Chromium, ChromeDriver,
/// lavapipe and schemathesis.
pub fn for_test() -> Result<(), String> {
    for_dev()?;
    step("chromium and chromium-driver (apt)", chromium)?;
    step("mesa-vulkan-drivers, CPU Vulkan for wgpu (apt)", lavapipe)?;
    step(
        &format!(
            "{} (PyPI, venv in the build cache)",
            crate::schemathesis::PACKAGE
        ),
        crate::schemathesis::install,
    )
}

/// Everything, the tools included, in the foreground (`cargo xtask setup`).
pub fn everything() -> Result<(), String> {
    for_test()?;
    start_tools().wait()
}

/// The pinned cargo tools being installed on a background thread, so that a fresh machine
/// compiles them while the workspace compiles (see [`crate::tools`]).
pub fn start_tools() -> crate::tools::Installing {
    crate::tools::Installing::start(&TOOLS)
}

fn check_node() -> Result<Done, String> {
    let version = output(Command::new("node").arg("--version"))
        .ok_or("Node.js is not installed: install Node 20 or newer (apt-get install nodejs npm)")?;
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if major < 20 {
        return Err(format!(
            "Node.js {version} is too old: Meshfed needs Node 20 or newer"
        ));
    }
    Ok(Done::Skipped(format!("node {version}")))
}

fn wasm_target() -> Result<Done, String> {
    let installed = output(Command::new("rustup").args(["target", "list", "--installed"]))
        .ok_or("rustup is not available: install Rust with rustup")?;
    if installed
        .lines()
        .any(|l| l.trim() == "wasm32-unknown-unknown")
    {
        return Ok(Done::Skipped("already installed".into()));
    }
    run(
        Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]),
        "Add it by hand: rustup target add wasm32-unknown-unknown",
    )
}

/// Downloads every crate the lockfile names, for every target: the browser builds run
/// `--offline` (Trunk's setting) and would otherwise fail on a machine that has none yet.
fn fetch_crates() -> Result<Done, String> {
    run(
        Command::new("cargo")
            .args(["fetch", "--locked", "--quiet"])
            .current_dir(repo_root()),
        "cargo fetch failed: check access to crates.io, and that Cargo.lock is committed and \
         current (cargo fetch --locked)",
    )
}

/// `npm ci`, skipped when node_modules was installed from this exact package-lock.json.
fn npm_ci() -> Result<Done, String> {
    let root = repo_root();
    let lock = std::fs::read(root.join("package-lock.json"))
        .map_err(|e| format!("cannot read package-lock.json: {e}"))?;
    let stamp_path = root.join("node_modules/.meshfed-lock-stamp");
    let stamp = format!("{:016x}", fnv1a(&lock));
    if std::fs::read_to_string(&stamp_path).ok().as_deref() == Some(stamp.as_str())
        && root.join("node_modules/.bin/wrangler").exists()
    {
        return Ok(Done::Skipped(
            "node_modules matches package-lock.json".into(),
        ));
    }
    run(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&root),
        "npm ci failed: check access to the npm registry and that npm is installed",
    )?;
    std::fs::write(&stamp_path, stamp).map_err(|e| e.to_string())?;
    Ok(Done::Ran)
}

fn chromium() -> Result<Done, String> {
    apt_packages(
        &["/usr/bin/chromium", "/usr/bin/chromedriver"],
        &["chromium", "chromium-driver"],
    )
}

/// Mesa's CPU Vulkan driver, lavapipe: the GPU kernels' native tests run on wgpu through it
/// on a machine without a GPU.
fn lavapipe() -> Result<Done, String> {
    apt_packages(
        &["/usr/share/vulkan/icd.d/lvp_icd.x86_64.json"],
        &["mesa-vulkan-drivers"],
    )
}

/// Installs the Debian `packages` (as root) unless every file of `present` exists.
pub fn apt_packages(present: &[&str], packages: &[&str]) -> Result<Done, String> {
    if present.iter().all(|p| Path::new(p).exists()) {
        return Ok(Done::Skipped(format!("{} present", present.join(" and "))));
    }
    let hint = format!(
        "Install them by hand: sudo apt-get update && sudo apt-get install -y {}",
        packages.join(" ")
    );
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(format!(
            "{} missing and this is not root. {hint}",
            packages.join(", ")
        ));
    }
    run(Command::new("apt-get").arg("update"), &hint)?;
    run(
        Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive"),
        &hint,
    )
}
