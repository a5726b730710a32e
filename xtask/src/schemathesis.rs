//! schemathesis (PyPI), pinned, in a virtual environment under the build cache: the
//! end-to-end suite runs it against `/api/openapi.json` (`openapi::schemathesis_…`).

use std::path::PathBuf;
use std::process::Command;

use crate::steps::{run, Done};

pub const PACKAGE: &str = "schemathesis==4.32.5";

/// The `st` command of the pinned schemathesis.
pub fn st() -> PathBuf {
    crate::cache::root().join("schemathesis-4.32.5/bin/st")
}

/// Installs it unless present; Debian's `python3-venv` comes first where `venv` is missing.
pub fn install() -> Result<Done, String> {
    let st = st();
    if st.exists() {
        return Ok(Done::Skipped(format!("{} present", st.display())));
    }
    let venv = st
        .parent()
        .and_then(|bin| bin.parent())
        .ok_or("the schemathesis path has no parent")?
        .to_path_buf();
    let _ = std::fs::remove_dir_all(&venv);
    if run(Command::new("python3").args(["-m", "venv"]).arg(&venv), "").is_err() {
        crate::setup::apt_packages(&[], &["python3-venv"])?;
        run(
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
            "python3 -m venv failed: install python3 and python3-venv",
        )?;
    }
    run(
        Command::new(venv.join("bin/pip")).args(["install", "-q", PACKAGE]),
        "pip could not install schemathesis from PyPI",
    )
}
