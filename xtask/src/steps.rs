//! One line per step with its duration, commands that fail with a useful message, and the
//! table of every step's wall and CPU time that ends `cargo xtask test`.

use std::cell::Cell;
use std::process::{Child, Command, ExitStatus};
use std::sync::Mutex;
use std::time::Instant;

/// What a successful step did.
pub enum Done {
    Ran,
    Skipped(String),
}

/// One finished step: name, outcome, wall and CPU seconds (the CPU of the processes it ran).
pub struct Row {
    pub name: String,
    pub outcome: &'static str,
    pub wall: f64,
    pub cpu: f64,
}

static ROWS: Mutex<Vec<Row>> = Mutex::new(Vec::new());

thread_local! {
    /// CPU seconds of the child processes this thread has waited for.
    static CHILD_CPU: Cell<f64> = const { Cell::new(0.0) };
}

/// Measures one step on this thread: wall time and the CPU time of the children it waits for.
pub struct Timer {
    start: Instant,
    cpu: f64,
}

impl Timer {
    pub fn start() -> Self {
        Self {
            start: Instant::now(),
            cpu: CHILD_CPU.with(Cell::get),
        }
    }

    /// Records the step in the table and returns its wall seconds.
    pub fn finish(self, name: &str, outcome: &'static str) -> f64 {
        let wall = self.start.elapsed().as_secs_f64();
        let cpu = CHILD_CPU.with(Cell::get) - self.cpu;
        if let Ok(mut rows) = ROWS.lock() {
            rows.push(Row {
                name: name.to_string(),
                outcome,
                wall,
                cpu,
            });
        }
        wall
    }
}

/// Runs a named step and prints one line with its outcome and duration.
pub fn step(name: &str, f: impl FnOnce() -> Result<Done, String>) -> Result<(), String> {
    let timer = Timer::start();
    let outcome = f();
    let label = match &outcome {
        Ok(Done::Ran) => "ok",
        Ok(Done::Skipped(_)) => "skipped",
        Err(_) => "FAILED",
    };
    let secs = timer.finish(name, label);
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
    let status = status(cmd).map_err(|e| format!("cannot run {program}: {e}. {hint}"))?;
    if status.success() {
        Ok(Done::Ran)
    } else {
        Err(format!("{program} failed ({status}). {hint}"))
    }
}

/// `cmd.status()`, counting the child's CPU time for the current step.
pub fn status(cmd: &mut Command) -> std::io::Result<ExitStatus> {
    wait(cmd.spawn()?)
}

/// Waits for `child` (which must not have been waited for) and counts its CPU time, and that
/// of the descendants it waited for, for the current step.
pub fn wait(child: Child) -> std::io::Result<ExitStatus> {
    use std::os::unix::process::ExitStatusExt;
    let pid = child.id() as libc::pid_t;
    let mut raw = 0;
    // SAFETY: rusage is plain data that wait4 fills; pid is our own unwaited child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: valid pointers to locals; see above.
        let r = unsafe { libc::wait4(pid, &mut raw, 0, &mut usage) };
        if r == pid {
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    CHILD_CPU.with(|c| c.set(c.get() + secs(usage.ru_utime) + secs(usage.ru_stime)));
    Ok(ExitStatus::from_raw(raw))
}

/// The trimmed stdout of `cmd`, or `None` if it cannot run or fails.
pub fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The table of every step so far: wall and CPU seconds, in the order they finished.
pub fn table() -> String {
    let rows = ROWS
        .lock()
        .map(|r| r.iter().map(format_row).collect::<Vec<_>>());
    let mut out = format!(
        "{:<58} {:>8} {:>9} {:>8}\n",
        "step", "outcome", "wall s", "CPU s"
    );
    for line in rows.unwrap_or_default() {
        out.push_str(&line);
    }
    out
}

fn format_row(row: &Row) -> String {
    let name: String = row.name.chars().take(58).collect();
    format!(
        "{name:<58} {:>8} {:>9.1} {:>8.1}\n",
        row.outcome, row.wall, row.cpu
    )
}

#[cfg(test)]
mod tests {
    use super::{status, table, Timer};
    use std::process::Command;

    #[test]
    fn a_step_counts_the_cpu_time_of_the_children_it_waits_for() {
        let timer = Timer::start();
        let ok = status(
            Command::new("sh").args(["-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"]),
        )
        .unwrap()
        .success();
        assert!(ok);
        timer.finish("busy shell loop", "ok");
        let table = table();
        let row = table
            .lines()
            .find(|l| l.starts_with("busy shell loop"))
            .expect("the step is in the table");
        let cpu: f64 = row.split_whitespace().last().unwrap().parse().unwrap();
        assert!(cpu > 0.01, "CPU time of the loop was counted: {row}");
    }

    #[test]
    fn a_failing_command_reports_its_exit_status() {
        let exit = status(Command::new("sh").args(["-c", "exit 3"])).unwrap();
        assert_eq!(exit.code(), Some(3));
    }
}
