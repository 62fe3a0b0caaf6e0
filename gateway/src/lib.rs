//! The Portico gateway: client portal pages on each firm's host, magic-link sign-in and
//! sessions, the staff JSON API, and health and metrics endpoints.
//!
//! `app` builds the router with its layers in one place; `routes/` holds one module per
//! resource; `auth/` the sign-in machinery (links, sessions, CSRF, client addresses);
//! `extract` the extractors that carry tenancy and identity into handlers.
#![forbid(unsafe_code)]

pub mod app;
pub mod auth;
pub mod blobs;
pub mod cli;
pub mod error;
pub mod extract;
pub mod firm_cache;
pub mod i18n;
pub mod metrics;
pub mod money;
pub mod notify;
pub mod page_cache;
pub mod render;
pub mod routes;
pub mod state;
