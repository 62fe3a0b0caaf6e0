//! Tasks shared to the portal: `/api/v1/tasks…`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portico_shared::ids::{ContactId, TaskFileId, TaskId};
use portico_shared::status::TaskStatus;
use portico_shared::store::{NewTask, TaskDetail, TaskFile, TaskPatch, TaskQuery};
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};

use super::pagination::{Page, contact_filter};
use super::route::{ApiRoute, ok, rfc3339};
use crate::error::{Error, Result};
use crate::http::documents;
use crate::http::extract::ApiQuery;
use crate::http::extract::{ApiFirm, ApiJson};
use crate::services::notify;
use crate::state::AppState;

const MAX_TITLE: usize = 200;
const MAX_DESCRIPTION: usize = 10_000;
const MAX_ITEMS: usize = 100;
const MAX_ASSIGNEES: usize = 50;

pub fn routes() -> Vec<ApiRoute> {
    vec![
        ApiRoute::post("/tasks", create),
        ApiRoute::get("/tasks", list),
        ApiRoute::get("/tasks/{id}", show),
        ApiRoute::patch("/tasks/{id}", update),
        ApiRoute::delete("/tasks/{id}", remove),
        ApiRoute::get("/tasks/{id}/files/{file}", download),
    ]
}

fn file_view(file: &TaskFile) -> Value {
    json!({
        "id": file.id,
        "file_name": file.file_name,
        "content_type": file.content_type,
        "size": file.size,
        "sha256": file.sha256,
        "uploaded_by": file.contact_id,
        "created_at": rfc3339(file.created_at),
        "download_path": format!("/api/v1/tasks/{}/files/{}", file.task_id, file.id),
    })
}

fn view(detail: &TaskDetail) -> Value {
    let task = &detail.task;
    json!({
        "id": task.id,
        "title": task.title,
        "description": task.description,
        "due_date": task.due_date,
        "portal": task.portal,
        "status": task.status,
        "completed_at": task.completed_at.map(rfc3339),
        "completed_by": task.completed_by,
        "assignees": detail.assignees,
        "checklist": detail.checklist.iter().map(|item| json!({
            "id": item.id,
            "label": item.label,
            "done": item.done,
            "done_at": item.done_at.map(rfc3339),
            "done_by": item.done_by,
        })).collect::<Vec<_>>(),
        "created_at": rfc3339(task.created_at),
        "updated_at": rfc3339(task.updated_at),
    })
}

fn text(field: &'static str, value: &str, max: usize, required: bool) -> Result<String> {
    let value = value.trim();
    if required && value.is_empty() {
        return Err(Error::invalid(field, format!("{field} must not be empty")));
    }
    if value.chars().count() > max {
        return Err(Error::invalid(
            field,
            format!("{field} must be at most {max} characters"),
        ));
    }
    Ok(value.to_string())
}

fn due_date(value: &str) -> Result<String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(value, &format)
        .map(|_| value.to_string())
        .map_err(|_| Error::invalid("due_date", "due_date must be a date like 2026-12-31"))
}

fn assignees(ids: &[String]) -> Result<Vec<ContactId>> {
    if ids.len() > MAX_ASSIGNEES {
        return Err(Error::invalid(
            "assignees",
            format!("at most {MAX_ASSIGNEES} assignees"),
        ));
    }
    ids.iter()
        .map(|id| {
            ContactId::parse(id)
                .ok_or_else(|| Error::invalid("assignees", format!("{id:?} is not a contact id")))
        })
        .collect()
}

fn checklist(labels: &[String]) -> Result<Vec<String>> {
    if labels.len() > MAX_ITEMS {
        return Err(Error::invalid(
            "checklist",
            format!("at most {MAX_ITEMS} items"),
        ));
    }
    labels
        .iter()
        .map(|l| text("checklist", l, MAX_TITLE, true))
        .collect()
}

fn status(value: &str) -> Result<TaskStatus> {
    TaskStatus::parse(value)
        .ok_or_else(|| Error::invalid("status", "status must be open or completed"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateTask {
    title: String,
    #[serde(default)]
    description: String,
    due_date: Option<String>,
    #[serde(default)]
    portal: bool,
    #[serde(default)]
    assignees: Vec<String>,
    #[serde(default)]
    checklist: Vec<String>,
}

async fn create(
    State(state): State<AppState>,
    ApiFirm(firm): ApiFirm,
    ApiJson(body): ApiJson<CreateTask>,
) -> Result<Response> {
    let new = NewTask {
        title: text("title", &body.title, MAX_TITLE, true)?,
        description: text("description", &body.description, MAX_DESCRIPTION, false)?,
        due_date: body.due_date.as_deref().map(due_date).transpose()?,
        portal: body.portal,
        assignees: assignees(&body.assignees)?,
        checklist: checklist(&body.checklist)?,
    };
    let (detail, shared) = state.store.create_task(&firm.id, &new).await?;
    notify::task_shared(&state, &firm, &detail, &shared.newly_visible_to).await?;
    Ok(ok(StatusCode::CREATED, view(&detail)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<i64>,
    cursor: Option<String>,
    contact_id: Option<String>,
    status: Option<String>,
    portal: Option<bool>,
}

async fn list(
    State(state): State<AppState>,
    ApiFirm(firm): ApiFirm,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Response> {
    let page = Page::new(query.limit, query.cursor)?;
    let after = page.after()?;
    let status = query.status.as_deref().map(status).transpose()?;
    let Ok(contact_id) = contact_filter(query.contact_id.as_deref()) else {
        return Ok(page.empty());
    };
    let tasks = state
        .store
        .list_tasks(
            &firm.id,
            &TaskQuery {
                after,
                limit: page.fetch(),
                contact_id,
                status,
                portal: query.portal,
            },
        )
        .await?;
    Ok(page.respond(tasks, |d| (d.task.created_at, d.task.id.as_str()), view))
}

async fn show(
    State(state): State<AppState>,
    ApiFirm(firm): ApiFirm,
    Path(id): Path<String>,
) -> Result<Response> {
    let id = TaskId::parse(&id).ok_or(Error::NotFound)?;
    let detail = state
        .store
        .task(&firm.id, &id)
        .await?
        .ok_or(Error::NotFound)?;
    let files = state.store.task_files(&firm.id, &id).await?;
    let mut body = view(&detail);
    body["files"] = files.iter().map(file_view).collect();
    Ok(ok(StatusCode::OK, body))
}

/// A document a client uploaded to the task, as an attachment.
async fn download(
    State(state): State<AppState>,
    ApiFirm(firm): ApiFirm,
    Path((id, file)): Path<(String, String)>,
) -> Result<Response> {
    let (Some(id), Some(file)) = (TaskId::parse(&id), TaskFileId::parse(&file)) else {
        return Err(Error::NotFound);
    };
    let found = state
        .store
        .task_file(&firm.id, None, &id, &file)
        .await?
        .ok_or(Error::NotFound)?;
    documents::download(
        &state.blobs(),
        &found.sha256,
        &found.file_name,
        &found.content_type,
        false,
    )
    .await
}

/// `Some(None)` for an explicit `null`, `None` when the field is absent.
fn explicit_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateTask {
    title: Option<String>,
    description: Option<String>,
    #[serde(default, deserialize_with = "explicit_null")]
    due_date: Option<Option<String>>,
    portal: Option<bool>,
    status: Option<String>,
    assignees: Option<Vec<String>>,
    checklist: Option<Vec<String>>,
}

async fn update(
    State(state): State<AppState>,
    ApiFirm(firm): ApiFirm,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateTask>,
) -> Result<Response> {
    let id = TaskId::parse(&id).ok_or(Error::NotFound)?;
    let patch = TaskPatch {
        title: body
            .title
            .as_deref()
            .map(|t| text("title", t, MAX_TITLE, true))
            .transpose()?,
        description: body
            .description
            .as_deref()
            .map(|d| text("description", d, MAX_DESCRIPTION, false))
            .transpose()?,
        due_date: body
            .due_date
            .map(|d| d.as_deref().map(due_date).transpose())
            .transpose()?,
        portal: body.portal,
        status: body.status.as_deref().map(status).transpose()?,
        assignees: body.assignees.as_deref().map(assignees).transpose()?,
        checklist: body.checklist.as_deref().map(checklist).transpose()?,
    };
    let (detail, shared) = state
        .store
        .update_task(&firm.id, &id, &patch)
        .await?
        .ok_or(Error::NotFound)?;
    notify::task_shared(&state, &firm, &detail, &shared.newly_visible_to).await?;
    Ok(ok(StatusCode::OK, view(&detail)))
}

async fn remove(
    State(state): State<AppState>,
    ApiFirm(firm): ApiFirm,
    Path(id): Path<String>,
) -> Result<Response> {
    let id = TaskId::parse(&id).ok_or(Error::NotFound)?;
    if !state.store.delete_task(&firm.id, &id).await? {
        return Err(Error::NotFound);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
