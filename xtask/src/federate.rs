//! `cargo xtask federate [ARGS…]`: the product's federated training (4 `meshfed join` on the
//! lab's non-IID slabs, against the real local Worker) beside centralised training at the
//! same summed steps, seeds 1–3; prints per-round figures and the gap. A benchmark of hours
//! on 2 cores, not a test: start it detached. ARGS go to the driver
//! (`tests/src/bin/federate/`): `--rounds N` (100), `--eval-every N` (10), `--seeds 1,2,3`,
//! `--sites N` (4), `--out DIR` (target/federate).

use std::path::Path;
use std::process::{Command, ExitCode};

use xtask::paths::{repo_root, tool_path};

use crate::steps::{run, step, Done};
use crate::test::NATIVE;
use crate::{build, cache, setup};

pub fn run_federate(args: &[String]) -> Result<ExitCode, String> {
    let target = cache::use_shared_target_dir()?;
    cache::forget_workspace_crates(&target);
    setup::for_test()?;
    setup::start_tools().wait()?;
    build::all(build::Mode::IfChanged, build::Lint::No)?;
    let root = repo_root();
    step("meshfed and meshfed-lab (profile native)", || {
        run(
            cargo()
                .args(["build", "--profile", "native", "-p", "meshfed-cli", "-p"])
                .args(["meshfed-lab", "--bin", "meshfed", "--bin", "meshfed-lab"]),
            "see the compiler output above",
        )
    })?;
    step("the benchmark's driver", || {
        // Linted as `cargo xtask test` builds these crates, so they are not rebuilt.
        run(
            crate::build::linted(cargo())
                .arg("build")
                .args(NATIVE)
                .args(["--bin", "federate"]),
            "see the compiler output above",
        )
    })?;
    let out = root.join("target/federate");
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let labels = out.join("brainchop-labels.nii.gz");
    let volume = root.join("shared/data/brainchop/t1_crop.nii.gz");
    step("brainchop's labels of the sample T1 (TF.js)", || {
        brainchop_labels(&root, &volume, &labels)
    })?;
    let mut driver = Command::new(target.join("debug/federate"));
    driver
        .arg("--bins")
        .arg(target.join("native"))
        .arg("--volume")
        .arg(&volume)
        .arg("--labels")
        .arg(&labels)
        .args(args)
        .env("PATH", tool_path());
    let status = crate::steps::status(&mut driver).map_err(|e| format!("the driver: {e}"))?;
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The lab's labels: brainchop's model5 in TF.js on the sample (tests/brainchop/reference.mjs).
fn brainchop_labels(root: &Path, volume: &Path, labels: &Path) -> Result<Done, String> {
    if labels.exists() {
        return Ok(Done::Skipped(format!("{} exists", labels.display())));
    }
    let partial = labels.with_file_name("brainchop-labels.partial.nii.gz");
    run(
        Command::new("node")
            .arg(root.join("tests/brainchop/reference.mjs"))
            .arg(root.join("shared/data/brainchop/model5_gw_ae"))
            .arg(volume)
            .arg(&partial)
            .current_dir(root)
            .env("PATH", tool_path()),
        "needs the npm packages (cargo xtask setup)",
    )?;
    std::fs::rename(&partial, labels).map_err(|e| e.to_string())?;
    Ok(Done::Ran)
}

fn cargo() -> Command {
    let mut cmd = Command::new("cargo");
    cmd.current_dir(repo_root()).env("PATH", tool_path());
    cmd
}
