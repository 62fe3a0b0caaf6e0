//! Clients' requests in the console: the inbox `GET /staff/conversations` (most recently
//! active first, those waiting for the firm's answer marked; `?waiting=1` shows only them),
//! one conversation `GET /staff/conversations/{id}`, and the reply
//! `POST /staff/conversations/{id}/messages`, which records the member who wrote it and emails
//! the client as their preferences allow (`services::notify::request_reply`, as the API does).

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::context;
use portico_shared::ids::ConversationId;
use portico_shared::policy::{Action, Area, Decision, Intent, decide};
use portico_shared::store::{Conversation, InboxQuery, InboxRow, Scoped};
use serde::Deserialize;

use super::reach::{cursor, iso, item_within, reach, read_cursor, when};
use crate::error::{Error, Result};
use crate::http::extract::{CsrfProtected, CsrfToken, ProtectedForm, StaffSession};
use crate::http::layout::console_page;
use crate::http::views::message_body;
use crate::i18n::Lang;
use crate::services::notify;
use crate::state::AppState;

const PAGE: usize = 25;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/staff/conversations", get(inbox))
        .route("/staff/conversations/{id}", get(show))
        .route("/staff/conversations/{id}/messages", post(reply))
}

#[derive(Deserialize, Default)]
struct InboxParams {
    waiting: Option<String>,
    before: Option<String>,
}

async fn inbox(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    params: std::result::Result<Query<InboxParams>, QueryRejection>,
) -> Result<Response> {
    let Query(params) = params.map_err(|e| Error::BadRequest(e.body_text()))?;
    let decision = staff.decide(Intent::Act(Area::Conversations, Action::View))?;
    let waiting_only = match params.waiting.as_deref().unwrap_or("") {
        "" | "0" => false,
        "1" => true,
        _ => return Err(Error::BadRequest("waiting must be 1 or left out".into())),
    };
    let before = match read_cursor(params.before.as_deref())? {
        Some((time, id)) => Some((
            time.parse::<i64>().map_err(|_| {
                Error::BadRequest(
                    "the page link is damaged: start again from the first page".into(),
                )
            })?,
            id,
        )),
        None => None,
    };
    let mut rows = state
        .store
        .inbox(
            &staff.firm.id,
            &InboxQuery {
                assigned_to: reach(&decision),
                waiting_only,
                before: before.clone(),
                limit: PAGE as i64 + 1,
            },
        )
        .await?;
    let more = rows.len() > PAGE;
    rows.truncate(PAGE);
    let base = if waiting_only {
        "/staff/conversations?waiting=1&"
    } else {
        "/staff/conversations?"
    };
    let next = more
        .then(|| {
            rows.last().map(|r| {
                let after = cursor(&r.last_message_at.to_string(), r.id.as_str());
                format!("{base}before={after}")
            })
        })
        .flatten();
    let first = before
        .is_some()
        .then(|| base.trim_end_matches(['?', '&']).to_string());
    let rows: Vec<_> = rows
        .iter()
        .map(|c| {
            context! {
                href => format!("/staff/conversations/{}", c.id),
                subject => &c.subject,
                contact => &c.contact_name,
                waiting => c.awaiting_reply,
                closed => c.status.as_str() == "closed",
                last => when(c.last_message_at),
                last_iso => iso(c.last_message_at),
            }
        })
        .collect();
    let html = console_page(
        &state,
        "console/conversations.html",
        &staff,
        &csrf,
        "conversations",
        context! { rows, next, first, waiting_only },
    )?;
    Ok(html.into_response())
}

/// The conversation `id` within `decision`'s reach; 404 otherwise.
async fn find(
    state: &AppState,
    staff: &StaffSession,
    decision: &Decision,
    id: &str,
) -> Result<InboxRow> {
    let id = ConversationId::parse(id).ok_or(Error::NotFound)?;
    let conversation = state
        .store
        .inbox_conversation(&staff.firm.id, &id)
        .await?
        .ok_or(Error::NotFound)?;
    item_within(
        state,
        staff,
        decision,
        Scoped::Conversation(&conversation.id),
    )
    .await?;
    Ok(conversation)
}

#[derive(Deserialize, Default)]
struct ShowParams {
    done: Option<String>,
}

async fn show(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    params: std::result::Result<Query<ShowParams>, QueryRejection>,
) -> Result<Response> {
    let Query(params) = params.map_err(|e| Error::BadRequest(e.body_text()))?;
    let decision = staff.decide(Intent::Act(Area::Conversations, Action::View))?;
    let conversation = find(&state, &staff, &decision, &id).await?;
    let flash = (params.done.as_deref() == Some("sent")).then_some("Reply sent.");
    page(&state, &staff, &csrf, &conversation, flash, None).await
}

async fn page(
    state: &AppState,
    staff: &StaffSession,
    csrf: &str,
    conversation: &InboxRow,
    flash: Option<&str>,
    problem: Option<(&str, &str)>,
) -> Result<Response> {
    let messages = state.store.staff_messages(&conversation.id).await?;
    let count = messages.len();
    let messages: Vec<_> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            context! {
                from_client => m.author == "client",
                author => if m.author == "client" {
                    conversation.contact_name.clone()
                } else {
                    m.member_name.clone().unwrap_or_else(|| "The firm".to_string())
                },
                body => &m.body,
                at => when(m.created_at),
                at_iso => iso(m.created_at),
                latest => i + 1 == count,
            }
        })
        .collect();
    // Replying changes the conversation: the edit right, as `POST
    // /api/v1/conversations/{id}/messages` asks for it.
    let reply = decide(&staff.actor, Intent::Act(Area::Conversations, Action::Edit));
    let can_reply = reply.allowed()
        && item_within(state, staff, &reply, Scoped::Conversation(&conversation.id))
            .await
            .is_ok();
    let html = console_page(
        state,
        "console/conversation.html",
        staff,
        csrf,
        "conversations",
        context! {
            flash,
            conversation => context! {
                id => &conversation.id,
                subject => &conversation.subject,
                contact => &conversation.contact_name,
                contact_href => format!("/staff/contacts/{}", conversation.contact_id),
                waiting => conversation.awaiting_reply,
                started => when(conversation.created_at),
            },
            messages,
            can_reply,
            error => problem.map(|p| p.0),
            draft => problem.map(|p| p.1),
        },
    )?;
    let status = if problem.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, html).into_response())
}

#[derive(Deserialize)]
struct ReplyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    body: String,
}

impl CsrfProtected for ReplyForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

async fn reply(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    ProtectedForm(form): ProtectedForm<ReplyForm>,
) -> Result<Response> {
    let decision = staff.decide(Intent::Act(Area::Conversations, Action::Edit))?;
    let conversation = find(&state, &staff, &decision, &id).await?;
    let body = match message_body(&form.body) {
        Ok(body) => body,
        Err(key) => {
            // The console speaks English; the key names the portal's text for the problem.
            let text = state
                .templates
                .catalogs()
                .text(Lang::En, key)
                .unwrap_or(key)
                .to_string();
            return page(
                &state,
                &staff,
                &csrf,
                &conversation,
                None,
                Some((&text, &form.body)),
            )
            .await;
        }
    };
    state
        .store
        .add_message(
            &staff.firm.id,
            None,
            &conversation.id,
            "staff",
            &body,
            Some(&staff.member.id),
        )
        .await?
        .ok_or(Error::NotFound)?;
    let notified = Conversation {
        id: conversation.id.clone(),
        firm_id: staff.firm.id.clone(),
        contact_id: conversation.contact_id.clone(),
        subject: conversation.subject.clone(),
        status: conversation.status,
        created_at: conversation.created_at,
        last_message_at: conversation.last_message_at,
        account_id: conversation.account_id.clone(),
    };
    notify::request_reply(&state, &staff.firm, &notified, &body).await?;
    Ok(Redirect::to(&format!(
        "/staff/conversations/{}?done=sent#latest",
        conversation.id
    ))
    .into_response())
}
