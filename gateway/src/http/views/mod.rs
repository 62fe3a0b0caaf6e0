//! What pages of more than one route show, built from the store's rows: the home page, a
//! task's documents, a signing document's page images, a message as typed, today's date. Both route groups may use these; no
//! route module imports another.

pub mod console_items;
mod dates;
mod files;
mod home;
mod messages;
mod pages;

pub use dates::{today, when};
pub use files::{FileRow, accepted, accepted_labels, rows};
pub use home::render_home;
pub use messages::{MAX_BODY, message_body};
pub use pages::{document_pages, page_image};
