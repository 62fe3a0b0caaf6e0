//! The Portico gateway: client portal pages on each firm's host, magic-link sign-in and
//! sessions, the staff JSON API, and health and metrics endpoints.
//!
//! Floors, from the top: `app` builds the router with its layers in one place; `http/` holds
//! the route groups (`portal/`, `api/`, `ops`) and what they share (extractors, layout, views,
//! downloads); `services/` the work handlers call (sign-in links, sessions, CSRF tokens,
//! handover, notifications, the document store, caches); below them `state`, `error`,
//! `render`, `i18n`, `metrics` and the `portico_shared` crate. A floor imports only from the
//! floors under it; the `architecture` test holds the route modules to that.
#![forbid(unsafe_code)]

pub mod app;
pub mod cli;
pub mod error;
pub mod http;
pub mod i18n;
pub mod metrics;
pub mod money;
pub mod render;
pub mod services;
pub mod state;
