//! The console's invoices: `GET /staff/invoices` (newest first, by status, in pages) and the
//! form that publishes one to a contact's portal, checked as the API checks it
//! (`services::invoices`). The amount is typed in major units (`1234.50`) and kept in minor
//! units, as the API takes it. Clients see invoices while the firm has billing switched on.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::context;
use portico_shared::policy::{Action, Area, Intent};
use portico_shared::status::InvoiceStatus;
use portico_shared::store::{NewInvoice, NewestPage};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::http::extract::{CsrfProtected, CsrfToken, ProtectedForm, StaffSession};
use crate::http::layout::console_page;
use crate::http::views::console_items::{
    NewFormQuery, PAGE_SIZE, assigned, contacts_by_email, cursor, page_of, prefilled_email,
};
use crate::http::views::today;
use crate::services::invoices::{
    self, MAX_DESCRIPTION, MAX_NUMBER, amount_in_major_units, currency, pay_url, status, text,
};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/staff/invoices", get(list).post(create))
        .route("/staff/invoices/new", get(new_form))
        .route("/staff/invoices/{id}/status", post(set_status))
}

#[derive(Deserialize)]
struct ListQuery {
    status: Option<String>,
    before: Option<String>,
    created: Option<String>,
    updated: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<ListQuery>,
) -> Result<Response> {
    let decision = staff.decide(Intent::Act(Area::Invoices, Action::View))?;
    let status = query.status.as_deref().and_then(InvoiceStatus::parse);
    let rows = state
        .store
        .invoice_rows(
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
    let status_text = status.map(|s| s.to_string()).unwrap_or_default();
    let next_url = next.map(|n| {
        let mut url = format!("/staff/invoices?before={n}");
        if !status_text.is_empty() {
            url.push_str(&format!("&status={status_text}"));
        }
        url
    });
    let html = console_page(
        &state,
        "console/invoices.html",
        &staff,
        &csrf,
        "invoices",
        context! {
            invoices => rows,
            status => status_text,
            next_url => next_url,
            first_page => query.before.is_none(),
            may_create => staff.may(Intent::Act(Area::Invoices, Action::Create)),
            billing_enabled => staff.firm.billing_enabled,
            may_edit => staff.may(Intent::Act(Area::Invoices, Action::Edit)),
            flash => if query.created.is_some() {
                Some("Invoice published to the client's portal.")
            } else {
                query.updated.is_some().then_some("Invoice status changed.")
            },
        },
    )?;
    Ok(html.into_response())
}

/// The form as typed, to show again.
#[derive(Deserialize, Serialize)]
struct InvoiceForm {
    #[serde(default, skip_serializing)]
    csrf: String,
    #[serde(default)]
    contact: String,
    #[serde(default)]
    number: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    issued_date: String,
    #[serde(default)]
    due_date: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    pay_url: String,
    #[serde(default)]
    description: String,
    /// Share it with the contact's client account as a whole (its managers see it).
    #[serde(default)]
    share_account: Option<String>,
}

impl CsrfProtected for InvoiceForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

fn render_form(
    state: &AppState,
    staff: &StaffSession,
    csrf: &str,
    form: &InvoiceForm,
    error: Option<(StatusCode, &str, String)>,
) -> Result<Response> {
    let (status, field, message) = match error {
        Some((status, field, message)) => (status, Some(field), Some(message)),
        None => (StatusCode::OK, None, None),
    };
    let html = console_page(
        state,
        "console/invoice_form.html",
        staff,
        csrf,
        "invoices",
        context! {
            form => form,
            error => message,
            error_field => field,
            billing_enabled => staff.firm.billing_enabled,
            max_number => MAX_NUMBER,
        },
    )?;
    Ok((status, html).into_response())
}

async fn new_form(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<NewFormQuery>,
) -> Result<Response> {
    let decision = staff.decide(Intent::Act(Area::Invoices, Action::Create))?;
    let contact = prefilled_email(
        &state,
        &staff.firm.id,
        query.contact.as_deref(),
        assigned(&decision).as_ref(),
    )
    .await?;
    let form = InvoiceForm {
        csrf: String::new(),
        contact,
        number: String::new(),
        amount: String::new(),
        currency: "EUR".into(),
        issued_date: today(),
        due_date: String::new(),
        status: "open".into(),
        pay_url: String::new(),
        description: String::new(),
        share_account: None,
    };
    render_form(&state, &staff, &csrf, &form, None)
}

async fn checked(
    state: &AppState,
    staff: &StaffSession,
    form: &InvoiceForm,
    assigned_to: Option<&portico_shared::ids::MemberId>,
) -> Result<NewInvoice> {
    let contact = contacts_by_email(
        state,
        &staff.firm.id,
        "contact_id",
        &form.contact,
        1,
        assigned_to,
    )
    .await?
    .pop()
    .ok_or_else(|| Error::invalid("contact_id", "name the contact to bill, by email"))?;
    let number = text("number", &form.number, MAX_NUMBER, true)?;
    let currency = currency(form.currency.trim())?;
    let amount_minor = amount_in_major_units(&form.amount, &currency)?;
    let (issued_date, due_date) = invoices::dates(form.issued_date.trim(), form.due_date.trim())?;
    let pay = form.pay_url.trim();
    Ok(NewInvoice {
        contact_id: contact.id,
        number,
        amount_minor,
        currency,
        issued_date,
        due_date,
        status: status(form.status.trim())?,
        pay_url: (!pay.is_empty()).then(|| pay_url(pay)).transpose()?,
        description: text("description", &form.description, MAX_DESCRIPTION, false)?,
        account_id: form
            .share_account
            .is_some()
            .then(|| contact.account_id.clone()),
    })
}

async fn create(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    ProtectedForm(form): ProtectedForm<InvoiceForm>,
) -> Result<Response> {
    let decision = staff.decide(Intent::Act(Area::Invoices, Action::Create))?;
    let member = assigned(&decision);
    let result = match checked(&state, &staff, &form, member.as_ref()).await {
        Ok(new) => invoices::create(&state, &staff.firm.id, &new).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(Redirect::to("/staff/invoices?created=1").into_response()),
        Err(Error::Unprocessable { field, message }) => render_form(
            &state,
            &staff,
            &csrf,
            &form,
            Some((StatusCode::UNPROCESSABLE_ENTITY, field, message)),
        ),
        Err(Error::Conflict { message, .. }) => render_form(
            &state,
            &staff,
            &csrf,
            &form,
            Some((StatusCode::CONFLICT, "number", message)),
        ),
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
struct StatusForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    status: String,
}

impl CsrfProtected for StatusForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// Marks an invoice open, paid or void, as `PATCH /api/v1/invoices/{id}` does.
async fn set_status(
    State(state): State<AppState>,
    staff: StaffSession,
    Path(id): Path<String>,
    ProtectedForm(form): ProtectedForm<StatusForm>,
) -> Result<Response> {
    staff.decide(Intent::Act(Area::Invoices, Action::Edit))?;
    let id = portico_shared::ids::InvoiceId::parse(&id).ok_or(Error::NotFound)?;
    let status = status(form.status.trim())?;
    state
        .store
        .set_invoice_status(&staff.firm.id, &id, status)
        .await?
        .ok_or(Error::NotFound)?;
    Ok(Redirect::to("/staff/invoices?updated=1").into_response())
}
