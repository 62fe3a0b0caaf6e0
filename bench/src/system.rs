//! Child processes and what Linux says about them: CPU time and peak resident memory.

use std::process::Child;
use std::time::Duration;

/// A child process that is killed and reaped when dropped, so a failed run leaves nothing behind.
pub struct ChildGuard {
    pub child: Child,
    pub name: &'static str,
}

impl ChildGuard {
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// `Some(status)` if the process has already ended.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Clock ticks per second of `/proc/*/stat` times; 100 on every Linux this runs on.
const TICKS_PER_SEC: f64 = 100.0;

/// User + system CPU time of a process (all its threads), `pid` or `"self"`.
pub fn cpu_time(pid: &str) -> Option<Duration> {
    let (user, system) = cpu_times(pid)?;
    Some(user + system)
}

/// User and system CPU time of a process (all its threads), apart: system time is the
/// kernel's work for it (system calls, wake-ups), user time its own code.
pub fn cpu_times(pid: &str) -> Option<(Duration, Duration)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces; the fields after it are fixed.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // Fields 14 and 15 of stat(5) (utime, stime), counted from the state, field 3.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((
        Duration::from_secs_f64(utime / TICKS_PER_SEC),
        Duration::from_secs_f64(stime / TICKS_PER_SEC),
    ))
}

/// A line of `/proc/{pid}/status` in kB, e.g. `VmHWM` (peak resident set) or `VmRSS`.
pub fn status_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse().ok())
}

/// The 1-, 5- and 15-minute load averages, as `/proc/loadavg` gives them.
pub fn load_average() -> String {
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    loadavg
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A free TCP port on the loopback interface (free when asked; the gateway binds it next).
pub fn free_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Sends SIGTERM and waits (up to 10 s) for the process to end on its own (a gateway drains
/// and flushes its log before exiting).
pub fn stop_gently(server: &mut ChildGuard) -> anyhow::Result<()> {
    use anyhow::Context;
    std::process::Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .context("stopping the gateway")?;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while server.exited().is_none() {
        if std::time::Instant::now() > deadline {
            anyhow::bail!("the gateway did not stop within 10 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}
