//! `gateway`: see `cli.rs` for the subcommands.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use portico_gateway::cli::{self, Cli, Command};
use portico_shared::config::Config;

/// mimalloc rather than the system allocator: requests allocate and free many small objects
/// across threads, where glibc's malloc took about a sixth of the gateway's CPU under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("gateway: {e}");
            return ExitCode::from(2);
        }
    };
    let log_flush = portico_shared::logging::init(config.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("gateway: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let command = cli.command.unwrap_or(Command::Serve);
    let outcome = runtime.block_on(cli::run(command, config));
    drop(runtime);
    // The last log lines come out before the closing error line.
    drop(log_flush);
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, naming the variable or option at fault.
            eprintln!("gateway: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}
