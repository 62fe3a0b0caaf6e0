//! The client's settings at the firm as the portal shows them (`GET /settings`, and again with
//! the problems of a form just sent): for the signed-in client and for a staff preview alike.

use axum::response::Html;
use minijinja::context;
use portico_shared::store::Contact;

use crate::error::Result;
use crate::http::extract::ClientSession;
use crate::http::layout::page;
use crate::i18n::{self, Lang};
use crate::state::AppState;

/// What the form shows: the saved values, or what was just typed.
#[derive(serde::Serialize)]
pub struct SettingsView<'a> {
    pub name: &'a str,
    pub language: &'a str,
    pub notify_task_shared: bool,
    pub notify_signature_requested: bool,
    pub notify_request_reply: bool,
}

impl<'a> SettingsView<'a> {
    /// The contact's saved settings.
    pub fn saved(contact: &'a Contact) -> SettingsView<'a> {
        SettingsView {
            name: &contact.name,
            language: contact
                .language
                .as_deref()
                .unwrap_or(i18n::current().code()),
            notify_task_shared: contact.notify_task_shared,
            notify_signature_requested: contact.notify_signature_requested,
            notify_request_reply: contact.notify_request_reply,
        }
    }
}

/// The settings page with `form`'s values and `errors` beside its fields; `saved` says the
/// last change was saved.
pub fn render_settings(
    state: &AppState,
    session: &ClientSession,
    csrf: &str,
    form: SettingsView<'_>,
    errors: minijinja::Value,
    saved: bool,
) -> Result<Html<String>> {
    let languages: Vec<_> = Lang::ALL
        .iter()
        .map(|l| context! { code => l.code(), key => format!("language.{}", l.code()) })
        .collect();
    let extra = context! {
        form => form,
        errors => errors,
        saved => saved,
        languages => languages,
    };
    page(
        state,
        "portal/settings.html",
        &session.firm,
        csrf,
        Some(session),
        extra,
    )
}
