//! The two arms of the benchmark as child processes: `meshfed join` per site against the run,
//! and `meshfed-lab distill` (centralised, the same summed steps), each logging to a file;
//! and the figures read back from their output.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use meshfed_e2e::identity::{MfaUser, PASSWORD};
use meshfed_shared::plan::TrainingPlan;
use xtask::process::Group;

/// A child process that logs to `log`.
pub struct Arm {
    pub name: String,
    pub log: PathBuf,
    group: Group,
}

impl Arm {
    fn spawn(name: String, mut cmd: Command, log: PathBuf) -> Result<Self, String> {
        let out = File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        let group = Group::spawn(cmd).map_err(|e| format!("cannot start {name}: {e}"))?;
        Ok(Self { name, log, group })
    }

    /// `Some(Ok)` once it has exited successfully, `Some(Err)` with its log's tail on failure.
    pub fn finished(&mut self) -> Option<Result<(), String>> {
        let status = self.group.try_wait()?;
        if status.success() {
            return Some(Ok(()));
        }
        Some(Err(format!(
            "{} failed ({status}); the end of {}:\n{}",
            self.name,
            self.log.display(),
            tail(&self.log, 15)
        )))
    }

    pub fn stop(&mut self) {
        self.group.stop(Duration::from_secs(5));
    }
}

/// The last `n` lines of a log (progress bars' carriage returns folded away).
pub fn tail(log: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.rsplit('\r').next().unwrap_or(l))
        .collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// One site's `meshfed join` for `rounds` rounds with its own scan and credentials.
pub fn join(
    bins: &Path,
    base: &str,
    run: i64,
    site: usize,
    files: &(PathBuf, PathBuf),
    (user, rounds, seed): (&MfaUser, u32, u64),
    log: PathBuf,
) -> Result<Arm, String> {
    let mut cmd = Command::new(bins.join("meshfed"));
    cmd.arg("join")
        .args(["--server", base, "--run", &run.to_string()])
        .arg("--volume")
        .arg(&files.0)
        .arg("--labels")
        .arg(&files.1)
        .args(["--rounds", &rounds.to_string(), "--seed", &seed.to_string()])
        .args(["--wait-secs", "7200"])
        .env("MESHFED_USERNAME", &user.username)
        .env("MESHFED_PASSWORD", PASSWORD)
        .env("MESHFED_TOTP_SECRET", &user.secret);
    Arm::spawn(format!("site {site}'s meshfed join"), cmd, log)
}

/// The centralised arm: `steps` steps on the whole training hemisphere with the plan's
/// local recipe, scored every `eval_every` steps as the lab scores it (BatchNorm statistics
/// measured on 32 training patches).
pub fn distill(
    bins: &Path,
    (volume, labels): (&Path, &Path),
    plan: &TrainingPlan,
    (steps, eval_every, seed): (u32, u32, u64),
    log: PathBuf,
) -> Result<Arm, String> {
    let mut cmd = Command::new(bins.join("meshfed-lab"));
    cmd.arg("distill")
        .arg("--volume")
        .arg(volume)
        .arg("--labels")
        .arg(labels)
        .args(["--patch", &plan.patch.to_string()])
        .args(["--batch", &plan.batch.to_string()])
        .args(["--lr", &plan.learning_rate.to_string()])
        .args(["--tissue-fraction", &plan.tissue_fraction.to_string()])
        .args(["--batch-norm", "--init", "pytorch", "--cosine"])
        .args(["--steps", &steps.to_string()])
        .args(["--eval-every", &eval_every.to_string()])
        .args(["--precise-bn", "32", "--seed", &seed.to_string()]);
    if plan.flip {
        cmd.arg("--flip");
    }
    Arm::spawn("the centralised distill".into(), cmd, log)
}

/// `distill step  400 loss … mean WM/GM 0.8123 …` → `(400, 0.8123)`, for every scored step.
pub fn distill_scores(log: &Path) -> Vec<(u32, f64)> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("distill step")?;
            let step = rest.split_whitespace().next()?.parse().ok()?;
            Some((step, mean_after(line)?))
        })
        .collect()
}

/// The figure after `mean WM/GM ` in a lab line.
pub fn mean_after(line: &str) -> Option<f64> {
    let (_, rest) = line.split_once("mean WM/GM ")?;
    rest.split_whitespace().next()?.parse().ok()
}

/// Scores saved models with `meshfed-lab score` (as `distill` scores its own); one figure each.
pub fn score(
    bins: &Path,
    (volume, labels): (&Path, &Path),
    models: &[PathBuf],
) -> Result<Vec<f64>, String> {
    let out = Command::new(bins.join("meshfed-lab"))
        .arg("score")
        .arg("--volume")
        .arg(volume)
        .arg("--labels")
        .arg(labels)
        .args(models)
        .output()
        .map_err(|e| format!("cannot run meshfed-lab score: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "meshfed-lab score failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let scores: Vec<f64> = text.lines().filter_map(mean_after).collect();
    if scores.len() != models.len() {
        return Err(format!(
            "meshfed-lab score gave {} figures for {} models:\n{text}",
            scores.len(),
            models.len()
        ));
    }
    Ok(scores)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lab_lines_give_their_figures() {
        let line = "distill step   400 loss 0.4123 test-hemisphere Dice bg/WM/GM 0.99/0.81/0.80 \
                    mean WM/GM 0.8050 (running statistics: 0.7000) (61s)";
        assert_eq!(mean_after(line), Some(0.805));
        let dir = std::env::temp_dir().join(format!("federate-arms-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("distill.log");
        std::fs::write(
            &log,
            format!("rescaled\n{line}\ndistill mean WM/GM Dice: x\n"),
        )
        .unwrap();
        assert_eq!(distill_scores(&log), vec![(400, 0.805)]);
        std::fs::write(&log, "a\nround 1\rround 2\nb\n").unwrap();
        assert_eq!(tail(&log, 2), "round 2\nb");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
