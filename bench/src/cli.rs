//! The command line the benchmark binaries share: their common options, flattened into each
//! binary's own `clap` parser, and the frame of their `main` (the async runtime, errors printed
//! under the binary's name, the exit code).

use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;

/// Whether to rebuild the binary under test first: every benchmark has it.
#[derive(clap::Args, Debug, Clone)]
pub struct BuildOptions {
    /// Use the binary under test as it is, without rebuilding it first under cargo
    #[arg(long)]
    no_build: bool,
}

impl BuildOptions {
    /// False with `--no-build`.
    pub fn build(&self) -> bool {
        !self.no_build
    }
}

/// The options of the benchmarks that run the gateway on a scratch database.
#[derive(clap::Args, Debug, Clone)]
pub struct CommonOptions {
    /// Run on a fresh PostgreSQL database (on PORTICO_BENCH_PG_URL) instead of a fresh SQLite
    /// file
    #[arg(long)]
    pub postgres: bool,
    /// The length of each measured phase, in seconds (1 to 60)
    #[arg(
        long,
        value_name = "N",
        default_value_t = 8,
        value_parser = clap::value_parser!(u64).range(1..=60),
    )]
    secs: u64,
    /// Record a `perf` profile of the gateway for each of its phases into DIR, and keep its
    /// log there
    #[arg(long, value_name = "DIR")]
    pub perf: Option<PathBuf>,
    #[command(flatten)]
    pub build: BuildOptions,
}

impl CommonOptions {
    /// `--secs N`: the length of each measured phase.
    pub fn phase(&self) -> Duration {
        Duration::from_secs(self.secs)
    }

    /// The database backend, as the reports name it.
    pub fn backend(&self) -> &'static str {
        if self.postgres {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    }
}

/// The whole of a benchmark's `main`: parses the command line into `P` (a mistake prints
/// clap's message and exits 2; `--help` prints the help and exits 0), then [`run`]s `bench`.
pub fn main<P, F>(name: &str, bench: impl FnOnce(P) -> F) -> ExitCode
where
    P: Parser,
    F: Future<Output = Result<()>>,
{
    run(name, bench(P::parse()))
}

/// Runs `work` on a multi-threaded runtime; prints its error under `name` (exit 1).
pub fn run(name: &str, work: impl Future<Output = Result<()>>) -> ExitCode {
    let outcome = tokio::runtime::Runtime::new()
        .context("starting the async runtime")
        .and_then(|runtime| runtime.block_on(work));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {e:#}");
            ExitCode::FAILURE
        }
    }
}
