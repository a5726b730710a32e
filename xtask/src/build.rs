//! Release builds of the app (Trunk) and the Worker (worker-build), with the pinned tools.

use std::process::Command;

use xtask::paths::{node_bin, repo_root, tool_path};

use crate::steps::{run, step, Done};

pub fn app() -> Result<(), String> {
    step("build app (trunk build --release)", || {
        run(
            Command::new("trunk")
                .args(["build", "--release"])
                .current_dir(repo_root())
                .env("PATH", tool_path())
                .env("TRUNK_SKIP_VERSION_CHECK", "true")
                .env_remove("NO_COLOR"),
            "The app did not build: see the compiler output above",
        )
    })
}

pub fn worker() -> Result<(), String> {
    step("build Worker (worker-build --release)", || {
        let bin = node_bin();
        run(
            Command::new("worker-build")
                .arg("--release")
                .current_dir(repo_root().join("edge"))
                .env("PATH", tool_path())
                .env("WASM_BINDGEN_BIN", "wasm-bindgen")
                .env("ESBUILD_BIN", bin.join("esbuild"))
                .env("WASM_OPT_BIN", bin.join("wasm-opt")),
            "The Worker did not build: see the compiler output above",
        )
    })
}

/// Both artifacts `wrangler dev` serves.
pub fn all() -> Result<(), String> {
    app()?;
    worker()
}

/// Applies D1 migrations to the local state under `persist_to`.
pub fn migrations(persist_to: &std::path::Path) -> Result<(), String> {
    step("apply D1 migrations (local)", || {
        xtask::wrangler::apply_migrations(persist_to).map(|_| Done::Ran)
    })
}
