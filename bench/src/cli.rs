//! The command line the benchmark binaries share: their common options, and the frame of their
//! `main` (the async runtime, errors printed under the binary's name, the exit code).

use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;
use std::slice::Iter;
use std::time::Duration;

use anyhow::{Context, Result};

/// What the common options ask for.
pub struct Options {
    /// `--postgres`: a fresh PostgreSQL database instead of a fresh SQLite file.
    pub postgres: bool,
    /// `--secs N`: the length of each measured phase, 1 to 60 s (8 by default).
    pub phase: Duration,
    /// False with `--no-build`: use the binary under test as it is, even under cargo.
    pub build: bool,
    /// `--perf DIR`: where to put a `perf record` profile of the gateway for each of its
    /// phases, and its log.
    pub perf: Option<PathBuf>,
}

impl Options {
    /// Parses `args` (without the program name). `extra` sees each argument first, with the
    /// rest of them to take a value from, and says whether it took it: a binary adds its own
    /// flags there, or refuses common ones that mean nothing to it.
    pub fn parse<'a>(
        args: &'a [String],
        mut extra: impl FnMut(&str, &mut Iter<'a, String>) -> Result<bool, String>,
    ) -> Result<Options, String> {
        let mut options = Options {
            postgres: false,
            phase: Duration::from_secs(8),
            build: true,
            perf: None,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            if extra(arg, &mut args)? {
                continue;
            }
            match arg.as_str() {
                "--postgres" => options.postgres = true,
                "--no-build" => options.build = false,
                "--secs" => {
                    let secs: u64 = args
                        .next()
                        .and_then(|v| v.parse().ok())
                        .filter(|&s| (1..=60).contains(&s))
                        .ok_or("--secs: expected a number of seconds from 1 to 60")?;
                    options.phase = Duration::from_secs(secs);
                }
                "--perf" => {
                    let dir = args.next().ok_or("--perf: expected a folder")?;
                    options.perf = Some(PathBuf::from(dir));
                }
                "-h" | "--help" => return Err("help".into()),
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        Ok(options)
    }
}

/// For binaries without flags of their own.
pub fn no_extra(_: &str, _: &mut Iter<'_, String>) -> Result<bool, String> {
    Ok(false)
}

/// The whole of a benchmark's `main`: parses the command line with `parse` (a mistake prints
/// it and `usage`, and exits 2), runs `bench` on a multi-threaded runtime, and prints its
/// error under `name` (exit 1).
pub fn main<O, F>(
    name: &str,
    usage: &str,
    parse: impl FnOnce(&[String]) -> Result<O, String>,
    bench: impl FnOnce(O) -> F,
) -> ExitCode
where
    F: Future<Output = Result<()>>,
{
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse(&args) {
        Ok(options) => options,
        Err(e) => {
            eprintln!("{name}: {e}\n{usage}");
            return ExitCode::from(2);
        }
    };
    let outcome = tokio::runtime::Runtime::new()
        .context("starting the async runtime")
        .and_then(|runtime| runtime.block_on(bench(options)));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {e:#}");
            ExitCode::FAILURE
        }
    }
}
