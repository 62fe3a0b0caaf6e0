//! Sign-in machinery: magic links, sessions, CSRF protection, cookies, and who the client is.

pub mod client_ip;
pub mod cookies;
pub mod csrf;
pub mod handover;
pub mod links;
pub mod sessions;
pub mod sign_ins;
