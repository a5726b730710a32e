//! Locations inside the repository, independent of the current directory.

use std::path::{Path, PathBuf};

/// The workspace root (the parent of `xtask/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .into()
}

/// `node_modules/.bin` of the workspace, where npm ci puts wrangler, wasm-opt and esbuild.
pub fn node_bin() -> PathBuf {
    repo_root().join("node_modules/.bin")
}

/// `~/.cargo/bin`, where the pinned cargo tools are installed.
pub fn cargo_bin() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from(".cargo"))
        .join("bin")
}

/// PATH with `node_modules/.bin` and `~/.cargo/bin` first, so the pinned tools win over any
/// system copies (Debian's binaryen 108 breaks the app).
pub fn tool_path() -> std::ffi::OsString {
    let mut dirs = vec![node_bin(), cargo_bin()];
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(dirs).expect("PATH entries contain no separator")
}

/// The built app (Trunk output) served as static assets.
pub fn dist_dir() -> PathBuf {
    repo_root().join("dist")
}

/// The built Worker module (worker-build output).
pub fn worker_module() -> PathBuf {
    repo_root().join("edge/build/index.js")
}
