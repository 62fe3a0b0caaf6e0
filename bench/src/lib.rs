//! Pieces shared by Portico's benchmark binaries (`portico-bench`, the sign-in benchmark, and
//! `portal_bench`): the load generator, process guards and CPU accounting, and the harness
//! that runs the real gateway on a scratch database and Redis prefix.
#![forbid(unsafe_code)]

pub mod harness;
pub mod load;
pub mod system;
