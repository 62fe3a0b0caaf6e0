//! Requests from the client to the firm: the box on the home page starts one
//! (`POST /requests`), `GET /requests/{id}` shows the thread (made by `views::request`),
//! `POST /requests/{id}/messages` replies. Only the contact who started a request can reach it.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use portico_shared::ids::ConversationId;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::http::extract::ClientSession;
use crate::http::extract::{CsrfProtected, CsrfToken, ProtectedForm};
use crate::http::layout::tr;
use crate::http::views::{message_body, render_home, render_request};
use crate::state::AppState;

const SUBJECT_CHARS: usize = 80;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/requests", post(start))
        .route("/requests/{id}", get(show))
        .route("/requests/{id}/messages", post(reply))
}

#[derive(Deserialize)]
struct MessageForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    body: String,
}

impl CsrfProtected for MessageForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// A subject from the first line of the message.
fn subject_of(body: &str) -> String {
    let first = body.lines().next().unwrap_or_default().trim();
    let mut subject: String = first.chars().take(SUBJECT_CHARS).collect();
    if first.chars().count() > SUBJECT_CHARS {
        subject.push('…');
    }
    subject
}

async fn start(
    State(state): State<AppState>,
    session: ClientSession,
    CsrfToken(csrf): CsrfToken,
    ProtectedForm(form): ProtectedForm<MessageForm>,
) -> Result<Response> {
    let body = match message_body(&form.body) {
        Ok(body) => body,
        Err(problem) => {
            let problem = tr(&state, problem, &[]);
            let html = render_home(&state, &session, &csrf, Some((&problem, &form.body))).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, html).into_response());
        }
    };
    let conversation = state
        .store
        .start_conversation(
            &session.firm.id,
            &session.contact.id,
            &subject_of(&body),
            &body,
        )
        .await?;
    Ok(Redirect::to(&format!("/requests/{}", conversation.id)).into_response())
}

async fn show(
    State(state): State<AppState>,
    session: ClientSession,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
) -> Result<Response> {
    Ok(render_request(&state, &session, &csrf, &id, None)
        .await?
        .into_response())
}

async fn reply(
    State(state): State<AppState>,
    session: ClientSession,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    ProtectedForm(form): ProtectedForm<MessageForm>,
) -> Result<Response> {
    let body = match message_body(&form.body) {
        Ok(body) => body,
        Err(problem) => {
            let problem = tr(&state, problem, &[]);
            let html =
                render_request(&state, &session, &csrf, &id, Some((&problem, &form.body))).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, html).into_response());
        }
    };
    let id = ConversationId::parse(&id).ok_or(Error::NotFound)?;
    state
        .store
        .add_message(
            &session.firm.id,
            Some(&session.contact.id),
            &id,
            "client",
            &body,
            None,
        )
        .await?
        .ok_or(Error::NotFound)?;
    Ok(Redirect::to(&format!("/requests/{id}#latest")).into_response())
}
