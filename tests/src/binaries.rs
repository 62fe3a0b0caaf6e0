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
