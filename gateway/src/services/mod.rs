//! The work handlers call, free of routing: sign-in machinery (magic links, sessions, company
//! handover, the batched sign-in writes, CSRF tokens, cookies, the client's address),
//! notifications to clients, the store of uploaded documents and the page images of signing
//! documents (`page_images`), the caches of firms and
//! home pages, and the checks and steps the API and the console share for staff work
//! (`tasks`, `signing`, `invoices`, `portal_settings`; the team: `team`, `team_admin`).

pub mod client_ip;
pub mod content;
pub mod cookies;
pub mod csrf;
pub mod firm_cache;
pub mod handover;
pub mod invoices;
pub mod links;
pub mod notify;
pub mod page_cache;
pub mod page_images;
pub mod portal_settings;
pub mod sessions;
pub mod sign_ins;
pub mod signing;
pub mod tasks;
pub mod team;
pub mod team_admin;
pub mod upload_limits;
