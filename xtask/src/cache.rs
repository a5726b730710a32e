//! Compiled dependencies reused across clones: one cargo target directory per `Cargo.lock` and
//! compiler under `~/.cache/meshfed/`. A changed lockfile or toolchain simply gets a new
//! directory (a cold build); the two most recently used are kept. The cache only ever saves
//! time: everything it holds is rebuilt when it is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use xtask::paths::repo_root;

use crate::digest::fnv1a;
use crate::steps::output;

/// The workspace's own crates: never taken from the cache by `cargo xtask test`.
const WORKSPACE_PREFIXES: [&str; 3] = ["meshfed-", "meshfed_", "xtask-"];

/// `~/.cache/meshfed` (or `$XDG_CACHE_HOME/meshfed`).
pub fn root() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| repo_root().join("target"))
        .join("meshfed")
}

/// Points every cargo, trunk and worker-build run of this process at the shared target
/// directory for this lockfile, unless the user chose one (`CARGO_TARGET_DIR`) or opted out
/// (`MESHFED_NO_CACHE=1`: the clone's own `target/`). Returns the directory used.
pub fn use_shared_target_dir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return Ok(PathBuf::from(dir));
    }
    if std::env::var_os("MESHFED_NO_CACHE").is_some_and(|v| v != "0") {
        return Ok(repo_root().join("target"));
    }
    let lock = std::fs::read(repo_root().join("Cargo.lock"))
        .map_err(|e| format!("cannot read Cargo.lock: {e}"))?;
    let rustc = output(Command::new("rustc").arg("-vV")).unwrap_or_default();
    let mut key = lock;
    key.extend_from_slice(rustc.as_bytes());
    let dir = root().join(format!("target-{:016x}", fnv1a(&key)));
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("cannot create the build cache {}: {e}", dir.display()))?;
    // The newest `last-used` decides which directories survive pruning.
    let _ = std::fs::write(dir.join("last-used"), b"");
    prune(&root(), &dir, 2);
    // Single-threaded here (before any step starts): children inherit it.
    std::env::set_var("CARGO_TARGET_DIR", &dir);
    Ok(dir)
}

/// Removes all but the `keep` most recently used `target-*` directories (never `current`).
fn prune(root: &Path, current: &Path, keep: usize) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    let mut dirs: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p != current && is_target_dir(p))
        .map(|p| {
            let used = std::fs::metadata(p.join("last-used"))
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            (used, p)
        })
        .collect();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.0));
    for (_, old) in dirs.into_iter().skip(keep.saturating_sub(1)) {
        println!("[xtask] removing an old build cache: {}", old.display());
        let _ = std::fs::remove_dir_all(old);
    }
}

fn is_target_dir(path: &Path) -> bool {
    path.is_dir()
        && path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("target-"))
}

/// Deletes the fingerprints of the workspace's own crates in `target_dir`, so that they
/// compile from this clone's sources whatever the cache holds. Returns how many it removed.
pub fn forget_workspace_crates(target_dir: &Path) -> usize {
    let mut removed = 0;
    for fingerprints in fingerprint_dirs(target_dir) {
        let Ok(entries) = std::fs::read_dir(&fingerprints) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if WORKSPACE_PREFIXES.iter().any(|p| name.starts_with(p))
                && std::fs::remove_dir_all(entry.path()).is_ok()
            {
                removed += 1;
            }
        }
    }
    removed
}

/// `<dir>/<profile>/.fingerprint` and `<dir>/<triple>/<profile>/.fingerprint`.
fn fingerprint_dirs(target_dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut level = vec![target_dir.to_path_buf()];
    for _ in 0..2 {
        let mut next = Vec::new();
        for dir in &level {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            for path in entries.filter_map(Result::ok).map(|e| e.path()) {
                if path.join(".fingerprint").is_dir() {
                    found.push(path.join(".fingerprint"));
                } else if path.is_dir() {
                    next.push(path);
                }
            }
        }
        level = next;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::{forget_workspace_crates, prune};
    use std::path::Path;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-cache-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"").unwrap();
    }

    #[test]
    fn forgets_only_workspace_fingerprints_in_every_profile() {
        let dir = scratch("forget");
        for fp in [
            "debug/.fingerprint",
            "wasm32-unknown-unknown/release/.fingerprint",
        ] {
            touch(&dir.join(fp).join("meshfed-shared-0123/lib"));
            touch(&dir.join(fp).join("xtask-4567/bin"));
            touch(&dir.join(fp).join("serde-89ab/lib"));
        }
        assert_eq!(forget_workspace_crates(&dir), 4);
        assert!(dir.join("debug/.fingerprint/serde-89ab").exists());
        assert!(!dir
            .join("wasm32-unknown-unknown/release/.fingerprint/meshfed-shared-0123")
            .exists());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn prune_keeps_the_current_and_the_most_recent_other() {
        let root = scratch("prune");
        for (name, age) in [("target-a", 30), ("target-b", 20), ("target-c", 10)] {
            let stamp = root.join(name).join("last-used");
            touch(&stamp);
            let when = std::time::SystemTime::now() - std::time::Duration::from_secs(age);
            std::fs::File::options()
                .write(true)
                .open(&stamp)
                .unwrap()
                .set_modified(when)
                .unwrap();
        }
        touch(&root.join("unrelated/file"));
        prune(&root, &root.join("target-a"), 2);
        assert!(root.join("target-a").exists(), "the current one stays");
        assert!(
            root.join("target-c").exists(),
            "the most recent other stays"
        );
        assert!(!root.join("target-b").exists());
        assert!(root.join("unrelated").exists());
        std::fs::remove_dir_all(root).unwrap();
    }
}
