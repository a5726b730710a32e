//! `cargo xtask bench [--patch N] [--steps N] [--rounds N]`: MeshNet's training-step time in
//! burn (flex CPU, `bench-step` in `bench/`) beside JAX on CPU (bench/reference/meshnet_step_jax.py)
//! with the same layers, loss and optimizer, alternating on this machine, then the ratios.
//! JAX comes from PyPI into a virtual environment under target/.

use std::collections::BTreeMap;
use std::process::Command;

use xtask::paths::repo_root;

use crate::steps::{run, step, Done};

/// The JAX the figures in the notes were taken with.
const JAX: &str = "jax==0.10.2";

pub struct BenchArgs {
    patch: usize,
    steps: usize,
    rounds: usize,
}

pub fn parse(args: &[String]) -> Result<BenchArgs, String> {
    let mut out = BenchArgs {
        patch: 64,
        steps: 3,
        rounds: 2,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|&v| v > 0)
            .ok_or_else(|| format!("{flag} needs a positive number"))?;
        match flag.as_str() {
            "--patch" => out.patch = value,
            "--steps" => out.steps = value,
            "--rounds" => out.rounds = value,
            _ => return Err(format!("unknown bench option {flag}")),
        }
    }
    Ok(out)
}

pub fn run_bench(args: BenchArgs) -> Result<std::process::ExitCode, String> {
    let root = repo_root();
    let venv = root.join("target/bench-venv");
    let python = venv.join("bin/python");
    step(&format!("{JAX} in target/bench-venv"), || {
        if python.exists() && run(Command::new(&python).args(["-c", "import jax"]), "").is_ok() {
            return Ok(Done::Skipped("already installed".into()));
        }
        run(
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
            "install python3-venv (apt-get install python3-venv)",
        )?;
        run(
            Command::new(&python).args(["-m", "pip", "install", "-q", JAX]),
            "pip could not install JAX from PyPI",
        )
    })?;
    step("bench-step (profile native)", || {
        run(
            Command::new("cargo").current_dir(&root).args([
                "build",
                "--profile",
                "native",
                "-p",
                "meshfed-bench",
                "--bin",
                "bench-step",
            ]),
            "see the compiler output above",
        )
    })?;
    let (patch, steps) = (args.patch.to_string(), args.steps.to_string());
    let mut times: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    for round in 1..=args.rounds {
        println!("[xtask] bench round {round}/{}", args.rounds);
        let mut burn = Command::new(root.join("target/native/bench-step"));
        burn.args(["--patch", &patch, "--steps", &steps]);
        let mut jax = Command::new(&python);
        jax.arg(root.join("bench/reference/meshnet_step_jax.py"))
            .args(["--patch", &patch, "--steps", &steps]);
        for mut cmd in [burn, jax] {
            for line in captured(&mut cmd)?.lines() {
                println!("  {line}");
                if let Some((engine, model, secs)) = parse_line(line) {
                    times.entry((model, engine)).or_default().push(secs);
                }
            }
        }
    }
    println!(
        "[xtask] training step on {patch}³, best of {} rounds:",
        args.rounds
    );
    let best = |model: &str, engine: &str| {
        times
            .get(&(model.to_string(), engine.to_string()))
            .and_then(|t| t.iter().copied().reduce(f64::min))
    };
    let models: Vec<String> = times.keys().map(|(m, _)| m.clone()).collect();
    let mut models = models;
    models.dedup();
    for model in models {
        match (best(&model, "bench"), best(&model, "jax")) {
            (Some(b), Some(j)) => println!(
                "  {model}: burn {b:.3}s, jax {j:.3}s, burn/jax {:.2}×",
                b / j
            ),
            _ => println!("  {model}: missing a figure"),
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

fn captured(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))?;
    if !out.status.success() {
        return Err(format!(
            "{:?} failed: {}",
            cmd.get_program(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `bench 5 ch 9 layers: training step on 64³ batch 1 0.785s (Cpu)` or
/// `jax 5 ch 9 layers: training step on 64^3 0.512s (...)` → (engine, "5 ch 9 layers", secs).
fn parse_line(line: &str) -> Option<(String, String, f64)> {
    let (head, tail) = line.split_once(": training step on ")?;
    let (engine, model) = head.split_once(' ')?;
    let secs = tail
        .split_whitespace()
        .find_map(|word| word.strip_suffix('s')?.parse().ok())?;
    Some((engine.to_string(), model.to_string(), secs))
}

#[cfg(test)]
mod tests {
    use super::parse_line;

    #[test]
    fn both_engines_lines_parse() {
        assert_eq!(
            parse_line("bench 5 ch 9 layers: training step on 64³ batch 1 0.785s (Cpu)"),
            Some(("bench".into(), "5 ch 9 layers".into(), 0.785))
        );
        assert_eq!(
            parse_line(
                "jax 21 ch 7 layers: training step on 64^3 1.5s (loss 1.2, jax 0.10.2, cpu)"
            ),
            Some(("jax".into(), "21 ch 7 layers".into(), 1.5))
        );
        assert_eq!(parse_line("[xtask] ok"), None);
    }
}
