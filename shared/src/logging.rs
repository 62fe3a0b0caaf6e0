//! Logging for both binaries: `tracing` to stderr, as text or one JSON object a line, level
//! from `RUST_LOG` (default `info`).
//!
//! Lines are written by a background thread, so a request never waits on the terminal or a
//! pipe, and that thread writes whatever has queued up in one system call. The queue is not
//! lossy: when it is full, callers wait rather than lines being dropped.

use std::io::IsTerminal;

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber. Keep the guard until the process ends: dropping it
/// flushes the lines still buffered.
pub fn init(format: LogFormat) -> WorkerGuard {
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        // Buffered: the writer thread flushes once per batch of lines rather than a write
        // system call per line.
        .finish(std::io::BufWriter::with_capacity(
            64 * 1024,
            std::io::stderr(),
        ));
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder.init(),
    }
    guard
}
