//! A client's request to the firm as the portal shows it (`GET /requests/{id}`, and again
//! with the problem of a reply just typed): for the signed-in client and for a staff preview
//! alike. Only the contact who started the request reaches it; anything else is 404.

use axum::response::Html;
use minijinja::context;
use portico_shared::ids::ConversationId;

use crate::error::{Error, Result};
use crate::http::extract::ClientSession;
use crate::http::layout::page;
use crate::state::AppState;

/// The thread; `error` is a problem with a reply just typed, and the draft.
pub async fn render_request(
    state: &AppState,
    session: &ClientSession,
    csrf: &str,
    id: &str,
    error: Option<(&str, &str)>,
) -> Result<Html<String>> {
    let id = ConversationId::parse(id).ok_or(Error::NotFound)?;
    let (conversation, messages) = state
        .store
        .conversation(&session.firm.id, Some(&session.contact.id), &id)
        .await?
        .ok_or(Error::NotFound)?;
    let messages: Vec<_> = messages
        .iter()
        .map(|m| {
            // ISO here; the template writes it in the page's language.
            let day = time::OffsetDateTime::from_unix_timestamp(m.created_at)
                .map(|t| t.date().to_string())
                .unwrap_or_default();
            context! { from_client => m.author == "client", body => &m.body, day => day }
        })
        .collect();
    let extra = context! {
        conversation => context! { id => &conversation.id, subject => &conversation.subject },
        messages => messages,
        error => error.map(|e| e.0),
        draft => error.map(|e| e.1),
    };
    page(
        state,
        "portal/request.html",
        &session.firm,
        csrf,
        Some(session),
        extra,
    )
}
