//! The mail worker's parts, as a library: the `mailer` binary runs them, and the shared-cost
//! benchmark's bare twin of the mailer (`bench/src/bare_mailer.rs`) calls the same queue,
//! composer and delivery without the worker around them.
#![forbid(unsafe_code)]

pub mod compose;
pub mod deliver;
pub mod metrics;
pub mod queue;
pub mod settings;
pub mod worker;
