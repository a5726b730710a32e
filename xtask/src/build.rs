//! Release builds of the app (Trunk) and the Worker (worker-build), with the pinned tools.
//!
//! `cargo xtask dev` skips a build whose inputs are unchanged since the last one it made
//! (a fingerprint of the sources, lockfiles and build settings in `target/xtask-stamps/`);
//! `cargo xtask test` always builds.

use std::path::{Path, PathBuf};
use std::process::Command;

use xtask::paths::{dist_dir, node_bin, repo_root, tool_path, worker_module};

use crate::digest::fnv1a;
use crate::steps::{run, step, Done};

/// Always rebuild, or skip what is up to date.
#[derive(Clone, Copy, PartialEq)]
pub enum Mode {
    Always,
    IfChanged,
}

/// What each artifact is built from, relative to the repository root.
const APP_INPUTS: [&str; 9] = [
    "app",
    "trainer",
    "shared",
    "public",
    "Cargo.toml",
    "Cargo.lock",
    "Trunk.toml",
    "package-lock.json",
    ".cargo/config.toml",
];
const WORKER_INPUTS: [&str; 6] = [
    "edge",
    "shared",
    "Cargo.toml",
    "Cargo.lock",
    "package-lock.json",
    ".cargo/config.toml",
];

/// Compiles the two browser crates exactly as trunk will (same arguments, so trunk finds
/// them fresh): this needs no tools, so it runs while they install.
pub fn wasm_crates() -> Result<(), String> {
    step("compile app wasm (release)", || {
        cargo_wasm(&[
            "--manifest-path",
            "app/Cargo.toml",
            "--release",
            "--bin",
            "meshfed-app",
        ])
    })?;
    step(
        "compile training worker wasm (wasm-trainer profile)",
        || {
            cargo_wasm(&[
                "--manifest-path",
                "trainer/Cargo.toml",
                "--profile",
                "wasm-trainer",
                "--bin",
                "meshfed-trainer",
            ])
        },
    )
}

fn cargo_wasm(args: &[&str]) -> Result<Done, String> {
    run(
        Command::new("cargo")
            .args(["build", "--target=wasm32-unknown-unknown"])
            .args(args)
            .arg("--offline")
            .current_dir(repo_root())
            .env("PATH", tool_path()),
        "The browser crates did not compile: see the compiler output above",
    )
}

/// Whether `dist/` holds a build of the app's current inputs.
pub fn app_is_current() -> bool {
    app_stamp().is_current()
}

fn app_stamp() -> Stamp {
    Stamp::new("app", &APP_INPUTS, dist_dir().join("index.html"))
}

pub fn app(mode: Mode) -> Result<(), String> {
    let mut trunk = Command::new("trunk");
    trunk
        .args(["build", "--release"])
        .current_dir(repo_root())
        .env("PATH", tool_path())
        .env("TRUNK_SKIP_VERSION_CHECK", "true")
        .env_remove("NO_COLOR");
    let hint = "The app did not build: see the compiler output above";
    stamped_step(
        "build app (trunk build --release)",
        app_stamp(),
        mode,
        trunk,
        hint,
    )?;
    crate::csp::write_headers(&dist_dir())
}

/// Whether the workspace's crates compile through clippy (`cargo xtask test`; see [`linted`]).
#[derive(Clone, Copy, PartialEq)]
pub enum Lint {
    Yes,
    No,
}

/// `cmd` compiling the workspace's own crates through clippy with warnings denied, as
/// `cargo clippy -- -D warnings` does (`RUSTC_WORKSPACE_WRAPPER`, `CLIPPY_ARGS`), but as a
/// real build: dependencies compile once, for the build itself, instead of a second time in
/// `check` mode. Every command that builds the same crates must be linted alike, or cargo
/// rebuilds them.
pub fn linted(mut cmd: Command) -> Command {
    cmd.env("RUSTC_WORKSPACE_WRAPPER", "clippy-driver").env(
        "CLIPPY_ARGS",
        "-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__",
    );
    cmd
}

/// The Worker (worker-build: cargo, wasm-bindgen, wasm-opt, esbuild). With [`Lint::Yes`] its
/// release build is also the wasm32 clippy check of `edge/` and `shared/`.
pub fn worker(mode: Mode, lint: Lint) -> Result<(), String> {
    let bin = node_bin();
    let mut worker_build = Command::new("worker-build");
    if lint == Lint::Yes {
        worker_build = linted(worker_build);
    }
    worker_build
        .arg("--release")
        .current_dir(repo_root().join("edge"))
        .env("PATH", tool_path())
        .env("WASM_BINDGEN_BIN", "wasm-bindgen")
        .env("ESBUILD_BIN", bin.join("esbuild"))
        .env("WASM_OPT_BIN", bin.join("wasm-opt"));
    let stamp = Stamp::new("worker", &WORKER_INPUTS, worker_module());
    let hint = "The Worker did not build: see the compiler output above";
    let name = match lint {
        Lint::Yes => "build Worker (worker-build --release, clippy warnings denied)",
        Lint::No => "build Worker (worker-build --release)",
    };
    stamped_step(name, stamp, mode, worker_build, hint)
}

/// Runs `cmd` as a step, skipped (in `IfChanged` mode) when `stamp` is current; the stamp is
/// written only after a successful build.
fn stamped_step(
    name: &str,
    stamp: Stamp,
    mode: Mode,
    mut cmd: Command,
    hint: &str,
) -> Result<(), String> {
    step(name, || {
        if mode == Mode::IfChanged && stamp.is_current() {
            return Ok(Done::Skipped(
                "its inputs are unchanged since the last build".into(),
            ));
        }
        stamp.clear();
        run(&mut cmd, hint)?;
        stamp.write();
        Ok(Done::Ran)
    })
}

/// Both artifacts `wrangler dev` serves, built side by side: trunk spends most of its time in
/// one single-threaded `wasm-opt` over the training worker, which leaves a core for the
/// Worker's release build.
pub fn all(mode: Mode, lint: Lint) -> Result<(), String> {
    std::thread::scope(|s| {
        let worker = s.spawn(|| worker(mode, lint));
        let app = app(mode);
        let worker = worker
            .join()
            .unwrap_or_else(|_| Err("the Worker build panicked".into()));
        match (app, worker) {
            (Ok(()), Ok(())) => Ok(()),
            (Err(e), Ok(())) | (Ok(()), Err(e)) => Err(e),
            (Err(a), Err(w)) => Err(format!("{a}; {w}")),
        }
    })
}

/// Applies D1 migrations to the local state under `persist_to`.
pub fn migrations(persist_to: &std::path::Path) -> Result<(), String> {
    step("apply D1 migrations (local)", || {
        xtask::wrangler::apply_migrations(persist_to).map(|_| Done::Ran)
    })
}

/// The fingerprint of an artifact's inputs when it was last built.
struct Stamp {
    path: PathBuf,
    fingerprint: String,
    /// What the build makes: without it the stamp is never current.
    output: PathBuf,
}

impl Stamp {
    fn new(name: &str, inputs: &[&str], output: PathBuf) -> Self {
        let root = repo_root();
        Self {
            path: root.join("target/xtask-stamps").join(name),
            fingerprint: fingerprint(&root, inputs),
            output,
        }
    }

    fn is_current(&self) -> bool {
        self.output.exists()
            && std::fs::read_to_string(&self.path).ok().as_deref() == Some(&self.fingerprint)
    }

    fn clear(&self) {
        let _ = std::fs::remove_file(&self.path);
    }

    fn write(&self) {
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = std::fs::write(&self.path, &self.fingerprint);
    }
}

/// The fingerprint of `inputs` (paths under `root`) and the build cache in use.
fn fingerprint(root: &Path, inputs: &[&str]) -> String {
    let mut bytes = Vec::new();
    // The build cache's name carries the lockfile and compiler; the tools are pinned.
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        bytes.extend_from_slice(dir.to_string_lossy().as_bytes());
    }
    for input in inputs {
        hash_tree(root, &root.join(input), &mut bytes);
    }
    format!("{:016x}", fnv1a(&bytes))
}

/// Appends every file's relative path and contents under `path` (sorted; skipping build
/// outputs) to `out`.
fn hash_tree(root: &Path, path: &Path, out: &mut Vec<u8>) {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if matches!(name, "build" | "target" | "node_modules" | "dist") {
        return;
    }
    if path.is_dir() {
        let Ok(entries) = std::fs::read_dir(path) else {
            return;
        };
        let mut children: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        children.sort();
        for child in children {
            hash_tree(root, &child, out);
        }
    } else if let Ok(contents) = std::fs::read(path) {
        out.extend_from_slice(
            path.strip_prefix(root)
                .unwrap_or(path)
                .as_os_str()
                .as_encoded_bytes(),
        );
        out.push(0);
        out.extend_from_slice(&(contents.len() as u64).to_le_bytes());
        out.extend_from_slice(&contents);
    }
}

#[cfg(test)]
mod tests {
    use super::fingerprint;

    #[test]
    fn fingerprint_follows_sources_and_ignores_build_outputs() {
        let root = std::env::temp_dir().join(format!("xtask-stamp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("app/src")).unwrap();
        std::fs::create_dir_all(root.join("app/target")).unwrap();
        std::fs::write(root.join("app/src/main.rs"), "fn main() {}").unwrap();
        let before = fingerprint(&root, &["app", "Cargo.lock"]);
        assert_eq!(before, fingerprint(&root, &["app", "Cargo.lock"]), "stable");
        std::fs::write(root.join("app/target/out.wasm"), "built").unwrap();
        assert_eq!(
            before,
            fingerprint(&root, &["app", "Cargo.lock"]),
            "outputs ignored"
        );
        std::fs::write(root.join("app/src/main.rs"), "fn main() { }").unwrap();
        let edited = fingerprint(&root, &["app", "Cargo.lock"]);
        assert_ne!(before, edited, "an edit changes it");
        std::fs::write(root.join("Cargo.lock"), "lock").unwrap();
        assert_ne!(
            edited,
            fingerprint(&root, &["app", "Cargo.lock"]),
            "a new input file"
        );
        std::fs::remove_dir_all(root).unwrap();
    }
}
