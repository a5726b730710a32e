//! `cargo xtask test`: formatting, lints, native unit tests, the app's wasm tests in headless
//! Chromium, release builds, then the end-to-end harness against a real `wrangler dev`.
//! Dependencies compile into the shared build cache (`crate::cache`); the cargo tools install
//! in the background meanwhile. Ends with a table of each step's wall and CPU time and one
//! line `N passed, N failed`.

use std::io::{BufRead, BufReader};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use xtask::paths::{repo_root, tool_path};

use crate::build::{linted, Lint};
use crate::steps::{self, Timer};
use crate::{build, cache, setup};

#[derive(Default)]
struct Tally {
    passed: u64,
    failed: u64,
    failures: Vec<String>,
}

impl Tally {
    fn fail(&mut self, what: String) {
        self.failed += 1;
        self.failures.push(what);
    }

    fn exit_code(&self) -> ExitCode {
        if self.failed == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }
}

/// The packages of the native unit tests and of the end-to-end run: one set, so that both
/// resolve the same features and share every compiled dependency. With burn's wgpu backend,
/// so that the GPU kernels are tested natively (on lavapipe where there is no GPU).
pub const NATIVE: [&str; 11] = [
    "--workspace",
    "--exclude",
    "meshfed-app",
    "--exclude",
    "meshfed-trainer",
    "--features",
    "meshfed-cli/wgpu",
    "--features",
    "meshfed-lab/wgpu",
    "--features",
    "meshfed-bench/wgpu",
];

pub fn run() -> Result<ExitCode, String> {
    let start = Instant::now();
    let target = cache::use_shared_target_dir()?;
    let cleared = cache::forget_workspace_crates(&target);
    println!(
        "[xtask] build cache {} (dependencies reused; {cleared} fingerprints of the workspace's \
         own crates cleared, so they compile from this clone)",
        target.display()
    );
    setup::for_test()?;
    let tools = setup::start_tools();
    let mut tally = Tally::default();

    check(
        &mut tally,
        "cargo fmt --check",
        cargo(&["fmt", "--all", "--check"]),
    );
    // Clippy lints the workspace's own crates while they compile for the tests
    // (`linted`): no separate `check` pass over every dependency.
    let mut native_build = linted(cargo(&["test", "--no-run"]));
    native_build.args(NATIVE);
    check(
        &mut tally,
        "clippy (native, warnings denied) with the native test build",
        native_build,
    );
    let mut unit = linted(cargo(&["test"]));
    unit.args(NATIVE);
    tests(&mut tally, "native unit tests", unit);
    let mut app_build = linted(cargo(&APP_WASM_TESTS));
    app_build.arg("--no-run");
    check(
        &mut tally,
        "clippy (wasm32: app, warnings denied) with its test build",
        app_build,
    );
    // Needs no tools: compiles while they may still be installing.
    let wasm_crates = build::wasm_crates();
    if let Err(e) = &wasm_crates {
        tally.fail(e.clone());
    }

    match tools.wait() {
        Err(e) => tally.fail(format!(
            "tool installs: {e} (app wasm tests, builds and end-to-end tests not run)"
        )),
        Ok(()) => {
            let mut wasm = linted(cargo(&APP_WASM_TESTS));
            wasm.env("CHROMEDRIVER", "/usr/bin/chromedriver");
            tests(&mut tally, "app wasm tests (headless Chromium)", wasm);
            match wasm_crates.and_then(|()| build::all(build::Mode::Always, Lint::Yes)) {
                Ok(()) => {
                    // The Worker's release build went through clippy: its wasm32 check.
                    tally.passed += 1;
                    tests(&mut tally, E2E, e2e(&[]))
                }
                Err(e) => tally.fail(format!("build: {e} (end-to-end tests not run)")),
            }
        }
    }

    println!("\n[xtask] where the time went (CPU: of the processes each step ran):");
    print!("{}", steps::table());
    println!(
        "[xtask] cargo xtask test took {:.1}s",
        start.elapsed().as_secs_f64()
    );
    for f in &tally.failures {
        println!("[xtask] failed: {f}");
    }
    println!("{} passed, {} failed", tally.passed, tally.failed);
    Ok(tally.exit_code())
}

/// `cargo xtask e2e [ARGS…]`: the end-to-end suite alone, after building what changed, with
/// `ARGS` passed to its harness (for example a filter: `cargo xtask e2e errors::`).
pub fn e2e_only(args: &[String]) -> Result<ExitCode, String> {
    // The harness finds wrangler through paths compiled into it: a binary another clone
    // built into the shared cache would look in that clone.
    let target = cache::use_shared_target_dir()?;
    cache::forget_workspace_crates(&target);
    setup::for_test()?;
    setup::start_tools().wait()?;
    build::all(build::Mode::IfChanged, Lint::Yes)?;
    let mut tally = Tally::default();
    tests(&mut tally, E2E, e2e(args));
    println!("{} passed, {} failed", tally.passed, tally.failed);
    Ok(tally.exit_code())
}

const E2E: &str = "end to end (wrangler dev + Chromium)";

/// The app's wasm tests (in headless Chromium through wasm-bindgen-test-runner).
const APP_WASM_TESTS: [&str; 6] = [
    "test",
    "-p",
    "meshfed-app",
    "--target",
    "wasm32-unknown-unknown",
    "--tests",
];

/// The end-to-end harness with the unit tests' package set; `args` go to the harness.
fn e2e(args: &[String]) -> Command {
    let mut cmd = linted(cargo(&["test"]));
    cmd.args(NATIVE).args(["--test", "e2e", "--"]).args(args);
    cmd.env("MESHFED_SCHEMATHESIS", crate::schemathesis::st());
    cmd
}

fn cargo(args: &[&str]) -> Command {
    let mut cmd = Command::new("cargo");
    cmd.args(args)
        .current_dir(repo_root())
        .env("PATH", tool_path());
    cmd
}

/// A pass/fail check that counts as one.
fn check(tally: &mut Tally, name: &str, mut cmd: Command) {
    let timer = Timer::start();
    let ok = steps::status(&mut cmd)
        .map(|s| s.success())
        .unwrap_or(false);
    let secs = timer.finish(name, if ok { "ok" } else { "FAILED" });
    if ok {
        tally.passed += 1;
        println!("[xtask] ok      {name} ({secs:.1}s)");
    } else {
        tally.fail(name.into());
        println!("[xtask] FAILED  {name} ({secs:.1}s)");
    }
}

/// Runs a `cargo test` command, echoing its output and counting its `test result:` lines.
/// A run that fails without reporting a failed test (a build error, a harness that could
/// not start its server) counts as one failure.
fn tests(tally: &mut Tally, name: &str, mut cmd: Command) {
    let timer = Timer::start();
    let (mut passed, mut failed) = (0, 0);
    let status = cmd.stdout(Stdio::piped()).spawn().and_then(|mut child| {
        if let Some(out) = child.stdout.take() {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                println!("{line}");
                if let Some((p, f)) = parse_result_line(&line) {
                    passed += p;
                    failed += f;
                }
            }
        }
        steps::wait(child)
    });
    let ok = status.as_ref().map(|s| s.success()).unwrap_or(false);
    tally.passed += passed;
    tally.failed += failed;
    if failed > 0 {
        tally.failures.push(format!("{name}: {failed} failed"));
    }
    if !ok && failed == 0 {
        tally.fail(format!("{name}: did not complete"));
    }
    let secs = timer.finish(name, if ok && failed == 0 { "ok" } else { "FAILED" });
    let verdict = if ok { "ok     " } else { "FAILED " };
    println!("[xtask] {verdict} {name}: {passed} passed, {failed} failed ({secs:.1}s)");
}

/// `test result: ok. 13 passed; 0 failed; …` → `(13, 0)`.
fn parse_result_line(line: &str) -> Option<(u64, u64)> {
    let rest = line.trim().strip_prefix("test result: ")?;
    let count = |label: &str| -> Option<u64> {
        rest.split([';', '.'])
            .find_map(|part| part.trim().strip_suffix(label)?.trim().parse().ok())
    };
    Some((count(" passed")?, count(" failed")?))
}

#[cfg(test)]
mod tests {
    use super::parse_result_line;

    #[test]
    fn parses_cargo_and_harness_result_lines() {
        let ok = "test result: ok. 13 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; \
                  finished in 0.01s";
        assert_eq!(parse_result_line(ok), Some((13, 0)));
        let bad = "test result: FAILED. 2 passed; 3 failed; 0 ignored; 0 measured";
        assert_eq!(parse_result_line(bad), Some((2, 3)));
        assert_eq!(parse_result_line("running 3 tests"), None);
    }
}
