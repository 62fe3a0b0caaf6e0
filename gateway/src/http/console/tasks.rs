//! The console's tasks: `GET /staff/tasks` (newest first, by status, in pages), the new and
//! edit forms, a task's page with its checklist and the documents clients uploaded (and their
//! download), the "share to portal" switch, and delete. Checked like the API
//! (`services::tasks`), stored by the same store functions, and clients who can newly see a
//! shared task are emailed as the API does. Every action asks the policy; with the scope
//! "assigned clients", a task none of whose assignees is the member's answers 404, and a form
//! may name only the member's contacts.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::context;
use portico_shared::ids::{ClientAccountId, ContactId, MemberId, TaskFileId, TaskId};
use portico_shared::policy::{Action, Area, Decision, Intent};
use portico_shared::status::TaskStatus;
use portico_shared::store::{ContactRef, NewTask, NewestPage, Scoped, TaskDetail, TaskPatch};

use super::reach::item_within;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::http::documents;
use crate::http::extract::CsrfOnly;
use crate::http::extract::{CsrfProtected, CsrfToken, ProtectedForm, StaffSession};
use crate::http::layout::console_page;
use crate::http::views::console_items::{
    NewFormQuery, PAGE_SIZE, assigned, contacts_by_email, cursor, page_of, prefilled_email, when,
};
use crate::services::notify;
use crate::services::tasks::{
    MAX_ASSIGNEES, MAX_DESCRIPTION, MAX_TITLE, checklist, due_date, text,
};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/staff/tasks", get(list).post(create))
        .route("/staff/tasks/new", get(new_form))
        .route("/staff/tasks/{id}", get(show).post(update))
        .route("/staff/tasks/{id}/edit", get(edit_form))
        .route("/staff/tasks/{id}/portal", post(share))
        .route("/staff/tasks/{id}/delete", post(remove))
        .route("/staff/tasks/{id}/files/{file}", get(download))
}

#[derive(Deserialize)]
struct ListQuery {
    status: Option<String>,
    before: Option<String>,
    deleted: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<ListQuery>,
) -> Result<Response> {
    let decision = staff.decide(Intent::Act(Area::Tasks, Action::View))?;
    let status = query.status.as_deref().and_then(TaskStatus::parse);
    let rows = state
        .store
        .task_rows(
            &staff.firm.id,
            &NewestPage {
                before: cursor(query.before.as_deref()),
                limit: PAGE_SIZE + 1,
                status,
                assigned_to: assigned(&decision),
            },
        )
        .await?;
    let (rows, next) = page_of(rows, PAGE_SIZE, |r| (r.created_at, r.id.to_string()));
    let today = crate::http::views::today();
    let tasks: Vec<_> = rows
        .iter()
        .map(|r| {
            context! {
                id => &r.id,
                title => &r.title,
                due_date => &r.due_date,
                overdue => r.status == TaskStatus::Open
                    && r.due_date.as_deref().is_some_and(|d| d < today.as_str()),
                completed => r.status == TaskStatus::Completed,
                portal => r.portal,
                checklist_total => r.checklist_total,
                checklist_done => r.checklist_done,
            }
        })
        .collect();
    let status_text = status.map(|s| s.to_string()).unwrap_or_default();
    let next_url = next.map(|n| {
        let mut url = format!("/staff/tasks?before={n}");
        if !status_text.is_empty() {
            url.push_str(&format!("&status={status_text}"));
        }
        url
    });
    let html = console_page(
        &state,
        "console/tasks.html",
        &staff,
        &csrf,
        "tasks",
        context! {
            tasks => tasks,
            status => status_text,
            next_url => next_url,
            first_page => query.before.is_none(),
            may_create => staff.may(Intent::Act(Area::Tasks, Action::Create)),
            flash => query.deleted.is_some().then_some("Task deleted."),
        },
    )?;
    Ok(html.into_response())
}

/// The task `id` if the member may `action` it: 403 without the permission, 404 when there is
/// no such task or it lies outside their scope.
async fn find(
    state: &AppState,
    staff: &StaffSession,
    id: &str,
    action: Action,
) -> Result<(TaskDetail, Decision)> {
    let decision = staff.decide(Intent::Act(Area::Tasks, action))?;
    let id = TaskId::parse(id).ok_or(Error::NotFound)?;
    let detail = state
        .store
        .task(&staff.firm.id, &id)
        .await?
        .ok_or(Error::NotFound)?;
    item_within(state, staff, &decision, Scoped::Task(&id)).await?;
    Ok((detail, decision))
}

/// The task's assignees the member may see, and how many others there are.
async fn visible_assignees(
    state: &AppState,
    staff: &StaffSession,
    detail: &TaskDetail,
    decision: &Decision,
) -> Result<(Vec<ContactRef>, usize)> {
    let member = assigned(decision);
    let seen = state
        .store
        .contacts_by_ids(&staff.firm.id, &detail.assignees, member.as_ref())
        .await?;
    let others = detail.assignees.len().saturating_sub(seen.len());
    Ok((seen, others))
}

#[derive(Deserialize)]
struct ShowQuery {
    done: Option<String>,
}

fn flash(done: Option<&str>) -> Option<&'static str> {
    match done? {
        "created" => Some("Task created."),
        "saved" => Some("Task saved."),
        "shared" => Some("The task is now shared to the portal."),
        "unshared" => Some("The task is no longer shared to the portal."),
        _ => None,
    }
}

async fn show(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    Query(query): Query<ShowQuery>,
) -> Result<Response> {
    let (detail, decision) = find(&state, &staff, &id, Action::View).await?;
    let (assignees, others) = visible_assignees(&state, &staff, &detail, &decision).await?;
    let files = state
        .store
        .task_files(&staff.firm.id, &detail.task.id)
        .await?;
    let uploaders: Vec<ContactId> = files.iter().map(|f| f.contact_id.clone()).collect();
    let people = state
        .store
        .contacts_by_ids(&staff.firm.id, &uploaders, None)
        .await?;
    let files: Vec<_> = files
        .iter()
        .map(|f| {
            let by = people
                .iter()
                .find(|c| c.id == f.contact_id)
                .map(|c| c.email.clone())
                .unwrap_or_default();
            context! {
                id => &f.id,
                name => &f.file_name,
                size => portico_shared::units::megabytes(f.size.max(0) as u64),
                uploaded => when(f.created_at),
                by => by,
            }
        })
        .collect();
    let task = &detail.task;
    let checklist: Vec<_> = detail
        .checklist
        .iter()
        .map(|i| context! { label => &i.label, done => i.done, done_at => i.done_at.map(when) })
        .collect();
    let html = console_page(
        &state,
        "console/task.html",
        &staff,
        &csrf,
        "tasks",
        context! {
            task => context! {
                id => &task.id,
                title => &task.title,
                description => &task.description,
                due_date => &task.due_date,
                portal => task.portal,
                completed => task.status == TaskStatus::Completed,
                completed_at => task.completed_at.map(when),
                created_at => when(task.created_at),
            },
            assignees => assignees,
            other_assignees => others,
            checklist => checklist,
            items_done => detail.checklist.iter().filter(|i| i.done).count(),
            files => files,
            flash => flash(query.done.as_deref()),
            may_edit => staff.may(Intent::Act(Area::Tasks, Action::Edit)),
            may_delete => staff.may(Intent::Act(Area::Tasks, Action::Delete)),
        },
    )?;
    Ok(html.into_response())
}

/// The form as typed, to show again.
#[derive(Deserialize, Serialize, Default)]
struct TaskForm {
    #[serde(default, skip_serializing)]
    csrf: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    due_date: String,
    /// Contacts' email addresses, separated by commas, spaces or lines.
    #[serde(default)]
    assignees: String,
    /// One checklist item per line.
    #[serde(default)]
    checklist: String,
    #[serde(default)]
    portal: Option<String>,
    /// Share it with the first assignee's client account as a whole (its managers see it).
    #[serde(default)]
    share_account: Option<String>,
}

impl CsrfProtected for TaskForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

fn render_form(
    state: &AppState,
    staff: &StaffSession,
    csrf: &str,
    form: &TaskForm,
    task_id: Option<&TaskId>,
    error: Option<(&str, String)>,
) -> Result<Response> {
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let (error_field, error) = error.unzip();
    let html = console_page(
        state,
        "console/task_form.html",
        staff,
        csrf,
        "tasks",
        context! {
            form => form,
            portal => form.portal.is_some(),
            share_account => form.share_account.is_some(),
            task_id => task_id,
            error => error,
            error_field => error_field,
            max_title => MAX_TITLE,
        },
    )?;
    Ok((status, html).into_response())
}

/// A form refusal shown on the form again; other errors pass on.
fn refused(
    state: &AppState,
    staff: &StaffSession,
    csrf: &str,
    form: &TaskForm,
    task_id: Option<&TaskId>,
    error: Error,
) -> Result<Response> {
    match error {
        Error::Unprocessable { field, message } => {
            render_form(state, staff, csrf, form, task_id, Some((field, message)))
        }
        other => Err(other),
    }
}

async fn new_form(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<NewFormQuery>,
) -> Result<Response> {
    let decision = staff.decide(Intent::Act(Area::Tasks, Action::Create))?;
    let contact = prefilled_email(
        &state,
        &staff.firm.id,
        query.contact.as_deref(),
        assigned(&decision).as_ref(),
    )
    .await?;
    let form = TaskForm {
        assignees: contact,
        ..TaskForm::default()
    };
    render_form(&state, &staff, &csrf, &form, None, None)
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// The checked fields of the form (the assignees are checked apart, against the scope).
struct Checked {
    title: String,
    description: String,
    due_date: Option<String>,
    checklist: Vec<String>,
}

fn check(form: &TaskForm) -> Result<Checked> {
    let due = form.due_date.trim();
    Ok(Checked {
        title: text("title", &form.title, MAX_TITLE, true)?,
        description: text("description", &form.description, MAX_DESCRIPTION, false)?,
        due_date: (!due.is_empty()).then(|| due_date(due)).transpose()?,
        checklist: checklist(&lines(&form.checklist))?,
    })
}

/// The contacts typed in the form, within the member's scope; a member who sees only their
/// own clients must name at least one, or the task would leave their sight.
async fn typed_assignees(
    state: &AppState,
    staff: &StaffSession,
    form: &TaskForm,
    member: Option<&MemberId>,
) -> Result<Vec<ContactRef>> {
    let found = contacts_by_email(
        state,
        &staff.firm.id,
        "assignees",
        &form.assignees,
        MAX_ASSIGNEES,
        member,
    )
    .await?;
    if member.is_some() && found.is_empty() {
        return Err(Error::invalid(
            "assignees",
            "assign at least one of your contacts",
        ));
    }
    Ok(found)
}

async fn create(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    ProtectedForm(form): ProtectedForm<TaskForm>,
) -> Result<Response> {
    let decision = staff.decide(Intent::Act(Area::Tasks, Action::Create))?;
    let member = assigned(&decision);
    let checked = match check(&form) {
        Ok(checked) => checked,
        Err(e) => return refused(&state, &staff, &csrf, &form, None, e),
    };
    let contacts = match typed_assignees(&state, &staff, &form, member.as_ref()).await {
        Ok(contacts) => contacts,
        Err(e) => return refused(&state, &staff, &csrf, &form, None, e),
    };
    let account_id = match shared_account(&form, &contacts) {
        Ok(account_id) => account_id,
        Err(e) => return refused(&state, &staff, &csrf, &form, None, e),
    };
    let new = NewTask {
        title: checked.title,
        description: checked.description,
        due_date: checked.due_date,
        portal: form.portal.is_some(),
        assignees: contacts.into_iter().map(|c| c.id).collect(),
        checklist: checked.checklist,
        account_id,
    };
    let (detail, shared) = state.store.create_task(&staff.firm.id, &new).await?;
    notify::task_shared(&state, &staff.firm, &detail, &shared.newly_visible_to).await?;
    Ok(Redirect::to(&format!("/staff/tasks/{}?done=created", detail.task.id)).into_response())
}

async fn edit_form(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
) -> Result<Response> {
    let (detail, decision) = find(&state, &staff, &id, Action::Edit).await?;
    let (assignees, _) = visible_assignees(&state, &staff, &detail, &decision).await?;
    let task = &detail.task;
    let form = TaskForm {
        csrf: String::new(),
        title: task.title.clone(),
        description: task.description.clone(),
        due_date: task.due_date.clone().unwrap_or_default(),
        assignees: assignees
            .iter()
            .map(|c| c.email.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        checklist: detail
            .checklist
            .iter()
            .map(|i| i.label.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        portal: task.portal.then(|| "on".to_string()),
        share_account: task.account_id.as_ref().map(|_| "on".to_string()),
    };
    render_form(&state, &staff, &csrf, &form, Some(&task.id), None)
}

async fn update(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    ProtectedForm(form): ProtectedForm<TaskForm>,
) -> Result<Response> {
    let (detail, decision) = find(&state, &staff, &id, Action::Edit).await?;
    let task_id = detail.task.id.clone();
    let member = assigned(&decision);
    let checked = match check(&form) {
        Ok(checked) => checked,
        Err(e) => return refused(&state, &staff, &csrf, &form, Some(&task_id), e),
    };
    let typed = match typed_assignees(&state, &staff, &form, member.as_ref()).await {
        Ok(contacts) => contacts,
        Err(e) => return refused(&state, &staff, &csrf, &form, Some(&task_id), e),
    };
    // Left checked with no assignee typed, an account the task is already shared with stays.
    let account_id = match shared_account(&form, &typed) {
        Ok(account_id) => account_id,
        Err(_) if detail.task.account_id.is_some() => detail.task.account_id.clone(),
        Err(e) => return refused(&state, &staff, &csrf, &form, Some(&task_id), e),
    };
    // Assignees the member cannot see stay as they are: the form never showed them.
    let (seen, _) = visible_assignees(&state, &staff, &detail, &decision).await?;
    let mut assignees: Vec<ContactId> = detail
        .assignees
        .iter()
        .filter(|id| !seen.iter().any(|c| c.id == **id))
        .cloned()
        .collect();
    assignees.extend(typed.into_iter().map(|c| c.id));
    assignees.sort();
    assignees.dedup();
    let mut current = detail.assignees.clone();
    current.sort();
    let current_labels: Vec<String> = detail.checklist.iter().map(|i| i.label.clone()).collect();
    let patch = TaskPatch {
        title: Some(checked.title),
        description: Some(checked.description),
        due_date: Some(checked.due_date),
        portal: Some(form.portal.is_some()),
        status: None,
        // Unchanged lists are left alone, so ticks the client made stay.
        assignees: (assignees != current).then_some(assignees),
        checklist: (checked.checklist != current_labels).then_some(checked.checklist),
        account_id: (account_id != detail.task.account_id).then_some(account_id),
    };
    let (detail, shared) = state
        .store
        .update_task(&staff.firm.id, &task_id, &patch)
        .await?
        .ok_or(Error::NotFound)?;
    notify::task_shared(&state, &staff.firm, &detail, &shared.newly_visible_to).await?;
    Ok(Redirect::to(&format!("/staff/tasks/{task_id}?done=saved")).into_response())
}

#[derive(Deserialize)]
struct ShareForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    portal: String,
}

impl CsrfProtected for ShareForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

async fn share(
    State(state): State<AppState>,
    staff: StaffSession,
    Path(id): Path<String>,
    ProtectedForm(form): ProtectedForm<ShareForm>,
) -> Result<Response> {
    let (detail, _) = find(&state, &staff, &id, Action::Edit).await?;
    let portal = match form.portal.as_str() {
        "true" => true,
        "false" => false,
        _ => return Err(Error::invalid("portal", "portal must be true or false")),
    };
    let patch = TaskPatch {
        portal: Some(portal),
        ..TaskPatch::default()
    };
    let (detail, shared) = state
        .store
        .update_task(&staff.firm.id, &detail.task.id, &patch)
        .await?
        .ok_or(Error::NotFound)?;
    notify::task_shared(&state, &staff.firm, &detail, &shared.newly_visible_to).await?;
    let done = if portal { "shared" } else { "unshared" };
    Ok(Redirect::to(&format!("/staff/tasks/{}?done={done}", detail.task.id)).into_response())
}

async fn remove(
    State(state): State<AppState>,
    staff: StaffSession,
    Path(id): Path<String>,
    ProtectedForm(_form): ProtectedForm<CsrfOnly>,
) -> Result<Response> {
    let (detail, _) = find(&state, &staff, &id, Action::Delete).await?;
    if !state
        .store
        .delete_task(&staff.firm.id, &detail.task.id)
        .await?
    {
        return Err(Error::NotFound);
    }
    Ok(Redirect::to("/staff/tasks?deleted=1").into_response())
}

async fn download(
    State(state): State<AppState>,
    staff: StaffSession,
    Path((id, file)): Path<(String, String)>,
) -> Result<Response> {
    let (detail, _) = find(&state, &staff, &id, Action::View).await?;
    let file = TaskFileId::parse(&file).ok_or(Error::NotFound)?;
    documents::task_file(&state, &staff.firm.id, None, &detail.task.id, &file).await
}

/// The account a task form shares the task with: the first assignee's, when the box is ticked.
fn shared_account(form: &TaskForm, assignees: &[ContactRef]) -> Result<Option<ClientAccountId>> {
    if form.share_account.is_none() {
        return Ok(None);
    }
    assignees
        .first()
        .map(|c| Some(c.account_id.clone()))
        .ok_or_else(|| {
            Error::invalid(
                "share_account",
                "assign the task to a contact of the account to share it with",
            )
        })
}
