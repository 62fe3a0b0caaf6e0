//! Invoices shown in the portal: `/api/v1/invoices…`. Staff (or their billing system) publish
//! them; the portal only displays them and links to `pay_url`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use portico_shared::ids::{ContactId, InvoiceId};
use portico_shared::status::InvoiceStatus;
use portico_shared::store::{Invoice, NewInvoice, PageQuery};
use serde::Deserialize;
use serde_json::{Value, json};

use super::pagination::{ByContactAndStatus, Page, contact_filter};
use super::route::{ApiRoute, ok, rfc3339};
use crate::error::{Error, Result};
use crate::http::extract::ApiQuery;
use crate::http::extract::{ApiFirm, ApiJson};
use crate::money;
use crate::state::AppState;

const MAX_NUMBER: usize = 64;
const MAX_DESCRIPTION: usize = 2_000;
const MAX_URL: usize = 2_000;
/// A trillion major units of a 2-decimal currency: far above any real invoice, far below i64.
const MAX_AMOUNT: i64 = 100_000_000_000_000;

pub fn routes() -> Vec<ApiRoute> {
    vec![
        ApiRoute::post("/invoices", create),
        ApiRoute::get("/invoices", list),
        ApiRoute::get("/invoices/{id}", show),
        ApiRoute::patch("/invoices/{id}", update),
    ]
}

fn view(invoice: &Invoice) -> Value {
    json!({
        "id": invoice.id,
        "contact_id": invoice.contact_id,
        "number": invoice.number,
        "amount": invoice.amount_minor,
        "currency": invoice.currency,
        "issued_date": invoice.issued_date,
        "due_date": invoice.due_date,
        "status": invoice.status,
        "pay_url": invoice.pay_url,
        "description": invoice.description,
        "created_at": rfc3339(invoice.created_at),
        "updated_at": rfc3339(invoice.updated_at),
    })
}

fn status(value: &str) -> Result<InvoiceStatus> {
    InvoiceStatus::parse(value)
        .ok_or_else(|| Error::invalid("status", "status must be open, paid or void"))
}

fn date(field: &'static str, value: &str) -> Result<String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(value, &format)
        .map(|_| value.to_string())
        .map_err(|_| Error::invalid(field, format!("{field} must be a date like 2026-12-31")))
}

/// A whole number of minor units (cents), given as a JSON integer.
fn amount(value: &Value) -> Result<i64> {
    let refused = || {
        Error::invalid(
            "amount",
            format!("amount must be a whole number of minor units (cents) from 0 to {MAX_AMOUNT}"),
        )
    };
    let amount = value.as_i64().ok_or_else(refused)?;
    if !(0..=MAX_AMOUNT).contains(&amount) {
        return Err(refused());
    }
    Ok(amount)
}

fn currency(value: &str) -> Result<String> {
    money::exponent(value)
        .map(|_| value.to_string())
        .ok_or_else(|| {
            Error::invalid(
                "currency",
                "currency must be an ISO 4217 code in capitals, like EUR",
            )
        })
}

/// Only `https` links to a real host, without credentials: the portal shows it as a button.
fn pay_url(value: &str) -> Result<String> {
    let refused = || Error::invalid("pay_url", "pay_url must be an https:// link");
    if value.len() > MAX_URL {
        return Err(refused());
    }
    let url = url::Url::parse(value.trim()).map_err(|_| refused())?;
    if url.scheme() != "https"
        || url.host_str().is_none_or(str::is_empty)
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(refused());
    }
    Ok(url.to_string())
}

fn text(field: &'static str, value: &str, max: usize, required: bool) -> Result<String> {
    let value = value.trim();
    if required && value.is_empty() {
        return Err(Error::invalid(field, format!("{field} must not be empty")));
    }
    if value.chars().count() > max || value.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Error::invalid(
            field,
            format!("{field} must be at most {max} characters, without control characters"),
        ));
    }
    Ok(value.to_string())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateInvoice {
    contact_id: String,
    number: String,
    amount: Value,
    currency: String,
    issued_date: String,
    due_date: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    pay_url: Option<String>,
    #[serde(default)]
    description: String,
}

async fn create(
    State(state): State<AppState>,
    ApiFirm(firm): ApiFirm,
    ApiJson(body): ApiJson<CreateInvoice>,
) -> Result<Response> {
    let Some(contact_id) = ContactId::parse(&body.contact_id) else {
        return Err(Error::invalid(
            "contact_id",
            format!("{:?} is not a contact id", body.contact_id),
        ));
    };
    let issued_date = date("issued_date", &body.issued_date)?;
    let due_date = date("due_date", &body.due_date)?;
    if due_date < issued_date {
        return Err(Error::invalid(
            "due_date",
            "due_date must not be before issued_date",
        ));
    }
    let new = NewInvoice {
        contact_id,
        number: text("number", &body.number, MAX_NUMBER, true)?,
        amount_minor: amount(&body.amount)?,
        currency: currency(&body.currency)?,
        issued_date,
        due_date,
        status: status(body.status.as_deref().unwrap_or("open"))?,
        pay_url: body.pay_url.as_deref().map(pay_url).transpose()?,
        description: text("description", &body.description, MAX_DESCRIPTION, false)?,
    };
    let invoice =
        state
            .store
            .create_invoice(&firm.id, &new)
            .await
            .map_err(|e| match Error::from(e) {
                Error::Conflict { .. } => Error::Conflict {
                    code: "number_taken",
                    message: "the firm already has an invoice with this number".into(),
                },
                other => other,
            })?;
    Ok(ok(StatusCode::CREATED, view(&invoice)))
}

async fn list(
    State(state): State<AppState>,
    ApiFirm(firm): ApiFirm,
    ApiQuery(query): ApiQuery<ByContactAndStatus>,
) -> Result<Response> {
    let page = Page::new(query.limit, query.cursor)?;
    let after = page.after()?;
    let status = query.status.as_deref().map(status).transpose()?;
    let Ok(contact_id) = contact_filter(query.contact_id.as_deref()) else {
        return Ok(page.empty());
    };
    let invoices = state
        .store
        .list_invoices(
            &firm.id,
            &PageQuery {
                after,
                limit: page.fetch(),
                contact_id,
                status,
            },
        )
        .await?;
    Ok(page.respond(invoices, |i| (i.created_at, i.id.as_str()), view))
}

async fn show(
    State(state): State<AppState>,
    ApiFirm(firm): ApiFirm,
    Path(id): Path<String>,
) -> Result<Response> {
    let id = InvoiceId::parse(&id).ok_or(Error::NotFound)?;
    let invoice = state
        .store
        .invoice(&firm.id, &id)
        .await?
        .ok_or(Error::NotFound)?;
    Ok(ok(StatusCode::OK, view(&invoice)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateInvoice {
    status: String,
}

async fn update(
    State(state): State<AppState>,
    ApiFirm(firm): ApiFirm,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateInvoice>,
) -> Result<Response> {
    let id = InvoiceId::parse(&id).ok_or(Error::NotFound)?;
    let status = status(&body.status)?;
    let invoice = state
        .store
        .set_invoice_status(&firm.id, &id, status)
        .await?
        .ok_or(Error::NotFound)?;
    Ok(ok(StatusCode::OK, view(&invoice)))
}
