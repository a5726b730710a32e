//! Child processes in their own process groups. wrangler starts node, esbuild and two workerd
//! processes: killing only the top PID leaves workerd serving the port, so a [`Group`] is
//! always stopped as a whole, and every live group is stopped on Ctrl-C or SIGTERM.

use std::process::{Child, Command};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

static LIVE_GROUPS: Mutex<Vec<i32>> = Mutex::new(Vec::new());
static HANDLER: Once = Once::new();

/// Stops every live group when the process gets SIGINT or SIGTERM, then exits
/// (130 for SIGINT-style interruption). Safe to call more than once.
pub fn stop_groups_on_signal() {
    HANDLER.call_once(|| {
        let installed = ctrlc::set_handler(|| {
            let groups: Vec<i32> = LIVE_GROUPS.lock().map(|g| g.clone()).unwrap_or_default();
            for pgid in groups {
                stop_pgid(pgid, Duration::from_secs(10));
            }
            eprintln!("interrupted: stopped every child process");
            std::process::exit(130);
        });
        if let Err(e) = installed {
            eprintln!("warning: cannot install the Ctrl-C handler: {e}");
        }
    });
}

/// Also stops every live group when the process panics (after the panic's message): for
/// programs whose panic ends them (the benchmarks, built with `panic = "abort"`), never for a
/// test harness that catches its tests' panics.
pub fn stop_groups_on_panic() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        report(info);
        let groups: Vec<i32> = LIVE_GROUPS.lock().map(|g| g.clone()).unwrap_or_default();
        for pgid in groups {
            stop_pgid(pgid, Duration::from_secs(10));
        }
    }));
}

/// A child that leads its own process group.
pub struct Group {
    child: Child,
    pgid: i32,
}

impl Group {
    /// Spawns `cmd` as the leader of a new process group and registers it for cleanup.
    pub fn spawn(mut cmd: Command) -> std::io::Result<Self> {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
        let child = cmd.spawn()?;
        let pgid = child.id() as i32;
        if let Ok(mut groups) = LIVE_GROUPS.lock() {
            groups.push(pgid);
        }
        Ok(Self { child, pgid })
    }

    pub fn pgid(&self) -> i32 {
        self.pgid
    }

    /// `Some(status)` once the leader has exited.
    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGTERM to the whole group, SIGKILL after `grace`, then waits until no member is left.
    /// Returns true when the group is gone.
    pub fn stop(&mut self, grace: Duration) -> bool {
        let gone = stop_pgid(self.pgid, grace);
        let _ = self.child.wait();
        if let Ok(mut groups) = LIVE_GROUPS.lock() {
            groups.retain(|&g| g != self.pgid);
        }
        gone
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if group_alive(self.pgid) {
            self.stop(Duration::from_secs(10));
        }
    }
}

/// Whether any process of the group is still alive (`kill(-pgid, 0)` succeeds).
pub fn group_alive(pgid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks for existence and permission.
    unsafe { libc::kill(-pgid, 0) == 0 }
}

fn stop_pgid(pgid: i32, grace: Duration) -> bool {
    // SAFETY: signalling a process group we created; errors (already gone) are fine.
    unsafe { libc::kill(-pgid, libc::SIGTERM) };
    let deadline = Instant::now() + grace;
    while group_alive(pgid) && Instant::now() < deadline {
        reap_leader(pgid);
        std::thread::sleep(Duration::from_millis(50));
    }
    !group_alive(pgid) || kill_group(pgid)
}

/// SIGKILL to every process of the group at once, as a crash would end them (no chance to
/// flush or answer), then waits up to 5 s until none is left. True when the group is gone.
/// The [`Group`] still owns the leader: stop it afterwards to reap it.
pub fn kill_group(pgid: i32) -> bool {
    // SAFETY: signalling a process group this process created.
    unsafe { libc::kill(-pgid, libc::SIGKILL) };
    let deadline = Instant::now() + Duration::from_secs(5);
    while group_alive(pgid) && Instant::now() < deadline {
        reap_leader(pgid);
        std::thread::sleep(Duration::from_millis(10));
    }
    !group_alive(pgid)
}

/// Reaps the group's leader once it has exited, so its zombie does not keep the group
/// looking alive. Only the leader (pid == pgid) is touched: other children keep their status.
fn reap_leader(pgid: i32) {
    let mut status = 0;
    // SAFETY: non-blocking waitpid on one specific child pid; the status is discarded.
    unsafe { libc::waitpid(pgid, &mut status, libc::WNOHANG) };
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("can bind an ephemeral port on 127.0.0.1")
}
