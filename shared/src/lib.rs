//! What the gateway and the mailer have in common: configuration from the environment, the
//! signing keys and the tokens made with them, Redis naming, the mail-job protocol, and the
//! domain's vocabulary, which needs no database: an id type per kind of record ([`ids`]) and
//! the statuses records move through ([`status`]). Storage (one implementation per database
//! backend behind the `store::Store` trait) is behind the `store` feature, which the gateway
//! enables and the mailer does not: the mailer builds no database driver.
#![forbid(unsafe_code)]

pub mod client_access;
pub mod config;
pub mod email;
pub mod filetypes;
pub mod i18n;
pub mod ids;
pub mod keys;
pub mod logging;
pub mod mail;
pub mod pdf;
pub mod policy;
pub mod redis_conn;
pub mod redis_persistence;
pub mod secret;
pub mod status;
#[cfg(feature = "store")]
pub mod store;
pub mod token;
pub mod units;

/// Seconds since the Unix epoch, the one clock every stored timestamp uses.
pub fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
