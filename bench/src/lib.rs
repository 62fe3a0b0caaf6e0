//! Pieces shared by Portico's benchmark binaries (`portico-bench`, the sign-in benchmark,
//! `portal_bench`, `console_bench` and `mailer_bench`): their command line, the load generator, process guards,
//! measured phases with their CPU accounting, and the harness that runs the real gateway on a
//! scratch database and Redis prefix.
#![forbid(unsafe_code)]

pub mod bare;
pub mod bare_mailer;
pub mod cli;
pub mod counts;
pub mod db;
pub mod harness;
pub mod load;
pub mod mail;
pub mod meter;
pub mod plans;
pub mod redis_cluster;
pub mod system;
