//! What pages of more than one route show, built from the store's rows: the portal's pages
//! (home, task, sign, request, invoices, settings, companies), which the portal renders for the
//! signed-in client and the console for a staff preview of a contact's portal, a task's
//! documents, a signing document's page images, a message as typed, today's date. Both route
//! groups may use these; no route module imports another.

mod companies;
pub mod console_items;
mod dates;
mod files;
mod home;
mod invoices;
mod messages;
mod pages;
mod request;
mod settings;
mod sign;
mod task;

pub use companies::render_companies;
pub use dates::{today, when};
pub use files::{FileRow, accepted, accepted_labels, rows};
pub use home::render_home;
pub use invoices::render_invoices;
pub use messages::{MAX_BODY, message_body};
pub use pages::{document_pages, page_image};
pub use request::render_request;
pub use settings::{SettingsView, render_settings};
pub use sign::{
    SignProblems, current_hash, document_changed, find_signing, render_signing, signing_document,
    signing_page,
};
pub use task::{render_task, task_file_download};
