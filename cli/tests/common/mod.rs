//! Running the real `meshfed` binary on files in a scratch directory.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn model5_dir() -> PathBuf {
    repo().join("shared/data/brainchop/model5_gw_ae")
}

pub fn t1() -> PathBuf {
    repo().join("shared/data/brainchop/t1_crop.nii.gz")
}

/// A fresh scratch directory under the target dir, named for the test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn meshfed(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meshfed"))
        .args(args)
        .output()
        .expect("run meshfed")
}

pub fn ok(args: &[&str]) -> String {
    let out = meshfed(args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "meshfed {args:?} failed:\n{text}");
    text
}

/// Runs a command expected to fail; returns its stderr.
pub fn fails(args: &[&str]) -> String {
    let out = meshfed(args);
    assert!(!out.status.success(), "meshfed {args:?} should have failed");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}
