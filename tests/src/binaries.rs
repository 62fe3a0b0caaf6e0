//! Running the real `gateway` binary as a subprocess (the test command builds it first).

use std::collections::HashMap;
use std::process::{Command, Output};

use crate::target_dir;

pub fn gateway_path() -> std::path::PathBuf {
    let path = target_dir().join("gateway");
    assert!(
        path.exists(),
        "{} is missing: build the binaries first (cargo build --bins), as ./dev test does",
        path.display()
    );
    path
}

/// A `gateway` command with exactly these environment variables (plus PATH).
pub fn gateway(vars: &HashMap<String, String>) -> Command {
    let mut command = Command::new(gateway_path());
    command.env_clear();
    if let Ok(path) = std::env::var("PATH") {
        command.env("PATH", path);
    }
    command.envs(vars);
    command
}

/// Runs `gateway args…` to completion.
pub fn run_gateway(vars: &HashMap<String, String>, args: &[&str]) -> Output {
    gateway(vars).args(args).output().expect("gateway runs")
}

/// A finished process's exit code (-1 when killed by a signal) and the non-empty lines of
/// its stderr: what a test of a refusal at start looks at.
pub fn exit_and_stderr_lines(output: &Output) -> (i32, Vec<String>) {
    let lines = String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    (output.status.code().unwrap_or(-1), lines)
}

/// A child process that is killed and reaped when dropped, so a failing test leaves no
/// gateway behind.
pub struct ChildGuard(pub std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

pub fn mailer_path() -> std::path::PathBuf {
    let path = target_dir().join("mailer");
    assert!(
        path.exists(),
        "{} is missing: build the binaries first (cargo build --bins)",
        path.display()
    );
    path
}

/// A `mailer` command with exactly these environment variables (plus PATH).
pub fn mailer(vars: &HashMap<String, String>) -> Command {
    let mut command = Command::new(mailer_path());
    command.env_clear();
    if let Ok(path) = std::env::var("PATH") {
        command.env("PATH", path);
    }
    command.envs(vars);
    command
}

/// A child process whose stderr lines are collected as they come (to read its log while it
/// runs); killed and reaped when dropped.
pub struct LoggedChild {
    pub child: ChildGuard,
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl LoggedChild {
    pub fn spawn(mut command: Command) -> LoggedChild {
        use std::io::BufRead;
        let mut child = command
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                sink.lock().expect("log lines").push(line);
            }
        });
        LoggedChild {
            child: ChildGuard(child),
            lines,
        }
    }

    /// The lines logged so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().expect("log lines").clone()
    }

    /// Waits (up to 20 s) for the first line `find` picks something out of.
    pub async fn wait_for<T>(&self, what: &str, find: impl Fn(&str) -> Option<T>) -> T {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            if let Some(found) = self.lines().iter().find_map(|l| find(l)) {
                return found;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no {what} logged within 20 s: {:?}",
                self.lines()
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}
