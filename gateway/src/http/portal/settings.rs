//! The client's own settings at this firm: `GET /settings` (made by `views::settings`),
//! `POST /settings` — display name, which emails they get, and the portal's language. A
//! contact row is per firm, so are these.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use minijinja::context;
use portico_shared::store::Preferences;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::http::extract::ClientSession;
use crate::http::extract::{CsrfProtected, CsrfToken, ProtectedForm};
use crate::http::layout::tr;
use crate::http::views::{SettingsView, render_settings};
use crate::i18n::Lang;
use crate::state::AppState;

const MAX_NAME: usize = 100;

pub fn router() -> Router<AppState> {
    Router::new().route("/settings", get(show).post(save))
}

#[derive(Deserialize)]
struct ShowQuery {
    saved: Option<String>,
}

/// A checkbox is sent only when ticked.
#[derive(Deserialize)]
struct SettingsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    language: String,
    notify_task_shared: Option<String>,
    notify_signature_requested: Option<String>,
    notify_request_reply: Option<String>,
}

impl CsrfProtected for SettingsForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

async fn show(
    State(state): State<AppState>,
    session: ClientSession,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<ShowQuery>,
) -> Result<Response> {
    let form = SettingsView::saved(&session.contact);
    let html = render_settings(
        &state,
        &session,
        &csrf,
        form,
        context! {},
        query.saved.is_some(),
    )?;
    Ok(html.into_response())
}

async fn save(
    State(state): State<AppState>,
    session: ClientSession,
    CsrfToken(csrf): CsrfToken,
    ProtectedForm(form): ProtectedForm<SettingsForm>,
) -> Result<Response> {
    let name = form.name.trim();
    let name_error = if name.is_empty() {
        Some(tr(&state, "settings.error_name_empty", &[]))
    } else if name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        Some(tr(
            &state,
            "settings.error_name_long",
            &[("max", &MAX_NAME.to_string())],
        ))
    } else {
        None
    };
    let language = Lang::parse(&form.language);
    let language_error = language
        .is_none()
        .then(|| tr(&state, "settings.error_language", &[]));
    let prefs = Preferences {
        name: name.to_string(),
        language: language.unwrap_or_default().code().to_string(),
        notify_task_shared: form.notify_task_shared.is_some(),
        notify_signature_requested: form.notify_signature_requested.is_some(),
        notify_request_reply: form.notify_request_reply.is_some(),
    };
    if name_error.is_some() || language_error.is_some() {
        let typed = SettingsView {
            name: &form.name,
            language: &form.language,
            notify_task_shared: prefs.notify_task_shared,
            notify_signature_requested: prefs.notify_signature_requested,
            notify_request_reply: prefs.notify_request_reply,
        };
        let errors = context! { name => name_error, language => language_error };
        let html = render_settings(&state, &session, &csrf, typed, errors, false)?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, html).into_response());
    }
    state
        .store
        .update_preferences(&session.firm.id, &session.contact.id, &prefs)
        .await?
        .ok_or(Error::SignInRequired)?;
    Ok(Redirect::to("/settings?saved=1").into_response())
}
