//! Extractors: what a handler's signature asks for, read from the request before it runs, so
//! a handler never looks at headers or cookies itself. `portal` carries the firm of the host
//! and the signed-in client; `csrf` the checked forms (`sign_in` the magic-link ones); `staff` the signed-in member; `api` the
//! caller of the API and JSON bodies; `client` the client's address; `host` the host name they start from.

pub mod api;
pub mod client;
pub mod csrf;
pub mod host;
pub mod portal;
pub mod sign_in;
pub mod staff;

pub use api::{ApiActor, ApiFirm, ApiJson, ApiQuery};
pub use client::ClientOrigin;
pub use csrf::{CsrfOnly, CsrfProtected, CsrfToken, ProtectedForm, ProtectedMultipart};
pub use portal::{ClientSession, MaybeSession, PortalFirm, Preview};
pub use staff::{MaybeStaff, StaffSession};
