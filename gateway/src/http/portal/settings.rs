//! The client's own settings at this firm: `GET /settings`, `POST /settings` — display name,
//! which emails they get, and the portal's language. A contact row is per firm, so are these.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use minijinja::context;
use portico_shared::store::{Contact, Preferences};
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::http::extract::ClientSession;
use crate::http::extract::{CsrfProtected, CsrfToken, ProtectedForm};
use crate::http::layout::{page, tr};
use crate::i18n::{self, Lang};
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

/// What the form shows: the saved values, or what was just typed.
#[derive(serde::Serialize)]
struct FormView<'a> {
    name: &'a str,
    language: &'a str,
    notify_task_shared: bool,
    notify_signature_requested: bool,
    notify_request_reply: bool,
}

fn saved_view(contact: &Contact) -> FormView<'_> {
    FormView {
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

fn render(
    state: &AppState,
    session: &ClientSession,
    csrf: &str,
    form: FormView<'_>,
    errors: minijinja::Value,
    saved: bool,
) -> Result<axum::response::Html<String>> {
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

async fn show(
    State(state): State<AppState>,
    session: ClientSession,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<ShowQuery>,
) -> Result<Response> {
    let form = saved_view(&session.contact);
    let html = render(
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
        let typed = FormView {
            name: &form.name,
            language: &form.language,
            notify_task_shared: prefs.notify_task_shared,
            notify_signature_requested: prefs.notify_signature_requested,
            notify_request_reply: prefs.notify_request_reply,
        };
        let errors = context! { name => name_error, language => language_error };
        let html = render(&state, &session, &csrf, typed, errors, false)?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, html).into_response());
    }
    state
        .store
        .update_preferences(&session.firm.id, &session.contact.id, &prefs)
        .await?
        .ok_or(Error::SignInRequired)?;
    Ok(Redirect::to("/settings?saved=1").into_response())
}
