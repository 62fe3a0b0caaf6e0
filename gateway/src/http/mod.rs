//! The HTTP layer. Route groups stand side by side and never import each other: `portal/`
//! (the client portal on each firm's host), `console/` (the staff console under `/staff` on
//! the same host), `api/` (the staff JSON API under `/api/v1`) and `ops` (health, readiness,
//! metrics). What more than one group uses sits here, one floor
//! down: `extract/` (who is asking, for which firm, with which checked form), `layout` (the
//! page frame and error pages), `views` (parts of pages built from the store's rows) and
//! `documents` (uploads in, downloads out).
//!
//! How a request flows: `app::router` applies the layers (request id, log line, security
//! headers, timeout, metrics) → the group's router picks the handler → its extractors resolve
//! the firm and the session or API key → the handler calls a service (`crate::services`) or
//! the store (`portico_shared::store`) → a page renders through `layout::page`, or JSON goes
//! out; an `Error` becomes an error page or a JSON error by the group's own layer.

pub mod api;
pub mod console;
pub mod documents;
pub mod extract;
pub mod layout;
pub mod ops;
pub mod portal;
pub mod views;
