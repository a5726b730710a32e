//! One line per step with its duration, and commands that fail with a useful message.

use std::process::Command;
use std::time::Instant;

/// What a successful step did.
pub enum Done {
    Ran,
    Skipped(String),
}

/// Runs a named step and prints one line with its outcome and duration.
pub fn step(name: &str, f: impl FnOnce() -> Result<Done, String>) -> Result<(), String> {
    let start = Instant::now();
    let outcome = f();
    let secs = start.elapsed().as_secs_f64();
    match &outcome {
        Ok(Done::Ran) => println!("[xtask] ok      {name} ({secs:.1}s)"),
        Ok(Done::Skipped(why)) => println!("[xtask] skipped {name}: {why} ({secs:.1}s)"),
        Err(_) => println!("[xtask] FAILED  {name} ({secs:.1}s)"),
    }
    outcome.map(|_| ()).map_err(|e| format!("{name}: {e}"))
}

/// Runs `cmd` with inherited output; a non-zero exit becomes `hint`.
pub fn run(cmd: &mut Command, hint: &str) -> Result<Done, String> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {program}: {e}. {hint}"))?;
    if status.success() {
        Ok(Done::Ran)
    } else {
        Err(format!("{program} failed ({status}). {hint}"))
    }
}

/// The trimmed stdout of `cmd`, or `None` if it cannot run or fails.
pub fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}
