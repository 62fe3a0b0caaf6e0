//! Invoices shown in the portal: `/api/v1/invoices…`. Staff (or their billing system) publish
//! them; the portal only displays them and links to `pay_url`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Json;
use portico_shared::ids::{ClientAccountId, ContactId, InvoiceId};
use portico_shared::policy::{Action, Area};
use portico_shared::store::{Invoice, NewInvoice, PageQuery};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::openapi::schema::Object;
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::ErrorBody;
use super::pagination::{ListPage, Page, contact_filter};
use super::route::{ApiRoute, one_of, rfc3339};
use crate::error::{Error, Result};
use crate::http::extract::ApiQuery;

use crate::http::extract::api::unknown_account;
use crate::http::extract::{ApiActor, ApiJson};
use crate::services::invoices::{
    self, MAX_DESCRIPTION, MAX_NUMBER, amount, currency, pay_url, status, text,
};
use crate::state::AppState;

pub fn routes() -> Vec<ApiRoute> {
    vec![
        ApiRoute::post("/invoices", create),
        ApiRoute::get("/invoices", list),
        ApiRoute::get("/invoices/{id}", show),
        ApiRoute::patch("/invoices/{id}", update),
    ]
}

#[derive(OpenApi)]
#[openapi(paths(create, list, show, update))]
pub struct Doc;

fn invoice_status() -> Object {
    one_of(&["open", "paid", "void"])
}

/// An invoice published to a contact's portal.
#[derive(Serialize, ToSchema)]
#[schema(as = Invoice)]
pub struct InvoiceView {
    id: String,
    contact_id: String,
    number: String,
    /// Integer minor units of the currency (cents): 123456 EUR is €1,234.56; JPY has none.
    #[schema(minimum = 0)]
    amount: i64,
    /// ISO 4217 code
    #[schema(pattern = "^[A-Z]{3}$")]
    currency: String,
    #[schema(format = Date, example = "2026-12-31")]
    issued_date: String,
    #[schema(format = Date, example = "2026-12-31")]
    due_date: String,
    #[schema(schema_with = invoice_status)]
    status: String,
    /// Where the client pays
    #[schema(format = "uri", required = true)]
    pay_url: Option<String>,
    description: String,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
    /// The contact's client account when shared with it as a whole (its managers see it).
    #[schema(required = true)]
    account_id: Option<String>,
}

fn view(invoice: &Invoice) -> InvoiceView {
    InvoiceView {
        id: invoice.id.to_string(),
        contact_id: invoice.contact_id.to_string(),
        number: invoice.number.clone(),
        amount: invoice.amount_minor,
        currency: invoice.currency.clone(),
        issued_date: invoice.issued_date.clone(),
        due_date: invoice.due_date.clone(),
        status: invoice.status.to_string(),
        pay_url: invoice.pay_url.clone(),
        description: invoice.description.clone(),
        created_at: rfc3339(invoice.created_at),
        updated_at: rfc3339(invoice.updated_at),
        account_id: invoice.account_id.as_ref().map(ToString::to_string),
    }
}

/// A new invoice. Clients see their invoices at `/invoices` when the firm has
/// `billing_enabled`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewInvoice)]
pub struct CreateInvoice {
    /// A contact of the key's firm.
    contact_id: String,
    /// Unique within the firm (409 `number_taken` otherwise).
    #[schema(min_length = 1, max_length = 64)]
    number: String,
    /// Integer minor units (cents).
    // Read as any JSON value, so that a fraction or a string gets this field's own message.
    #[schema(value_type = i64, minimum = 0, maximum = 100_000_000_000_000_i64)]
    amount: Value,
    /// An active ISO 4217 code, e.g. EUR.
    #[schema(pattern = "^[A-Z]{3}$")]
    currency: String,
    #[schema(format = Date, example = "2026-12-31")]
    issued_date: String,
    /// Not before issued_date.
    #[schema(format = Date, example = "2026-12-31")]
    due_date: String,
    /// `open` when left out or null.
    #[serde(default)]
    #[schema(schema_with = invoice_status_or_null)]
    status: Option<String>,
    /// Where the client pays; shown as a Pay button while the invoice is open. https only.
    #[serde(default)]
    #[schema(format = "uri", pattern = "^https://", max_length = 2000)]
    pay_url: Option<String>,
    #[serde(default)]
    #[schema(max_length = 2000, default = "")]
    description: String,
    /// The contact's client account, to share the invoice with the account as a whole.
    account_id: Option<String>,
}

fn invoice_status_or_null() -> Object {
    let mut schema = invoice_status();
    schema.schema_type = utoipa::openapi::schema::SchemaType::from_iter([
        utoipa::openapi::schema::Type::String,
        utoipa::openapi::schema::Type::Null,
    ]);
    schema.enum_values.get_or_insert_default().push(Value::Null);
    schema.default = Some(Value::from("open"));
    schema
}

/// Publish an invoice to a contact's portal
///
/// Clients see their invoices at `/invoices` when the firm has `billing_enabled`.
#[utoipa::path(
    post,
    path = "/invoices",
    tag = "Invoices",
    operation_id = "createInvoice",
    request_body = CreateInvoice,
    responses(
        (status = 201, description = "Created", body = InvoiceView),
        (status = 409, description = "The firm already has an invoice with this number (`number_taken`)", body = ErrorBody),
    )
)]
async fn create(
    State(state): State<AppState>,
    actor: ApiActor,
    ApiJson(body): ApiJson<CreateInvoice>,
) -> Result<(StatusCode, Json<InvoiceView>)> {
    actor.scope(Area::Invoices, Action::Create)?;
    let firm = actor.firm;
    let Some(contact_id) = ContactId::parse(&body.contact_id) else {
        return Err(Error::invalid(
            "contact_id",
            format!("{:?} is not a contact id", body.contact_id),
        ));
    };
    let (issued_date, due_date) = invoices::dates(&body.issued_date, &body.due_date)?;
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
        account_id: body
            .account_id
            .as_deref()
            .map(|id| ClientAccountId::parse(id).ok_or_else(|| unknown_account("account_id", id)))
            .transpose()?,
    };
    let invoice = invoices::create(&state, &firm.id, &new).await?;
    Ok((StatusCode::CREATED, Json(view(&invoice))))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200, default = 50)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Only this contact's
    contact_id: Option<String>,
    /// Only this status
    #[param(schema_with = invoice_status)]
    status: Option<String>,
}

/// List invoices, oldest first
#[utoipa::path(
    get,
    path = "/invoices",
    tag = "Invoices",
    operation_id = "listInvoices",
    params(ListQuery),
    responses((status = 200, description = "A page", body = ListPage<InvoiceView>))
)]
async fn list(
    State(state): State<AppState>,
    actor: ApiActor,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<ListPage<InvoiceView>>> {
    actor.scope(Area::Invoices, Action::View)?;
    let firm = actor.firm;
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
                assigned_to: None,
            },
        )
        .await?;
    Ok(page.respond(invoices, |i| (i.created_at, i.id.as_str()), view))
}

/// An invoice
#[utoipa::path(
    get,
    path = "/invoices/{id}",
    tag = "Invoices",
    operation_id = "getInvoice",
    params(("id" = String, Path, description = "Invoice id")),
    responses(
        (status = 200, description = "The invoice", body = InvoiceView),
        (status = 404, description = "No such invoice", body = ErrorBody),
    )
)]
async fn show(
    State(state): State<AppState>,
    actor: ApiActor,
    Path(id): Path<String>,
) -> Result<Json<InvoiceView>> {
    actor.scope(Area::Invoices, Action::View)?;
    let firm = actor.firm;
    let id = InvoiceId::parse(&id).ok_or(Error::NotFound)?;
    let invoice = state
        .store
        .invoice(&firm.id, &id)
        .await?
        .ok_or(Error::NotFound)?;
    Ok(Json(view(&invoice)))
}

/// The invoice's new status.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = InvoicePatch)]
pub struct UpdateInvoice {
    #[schema(schema_with = invoice_status)]
    status: String,
}

/// Change an invoice's status
#[utoipa::path(
    patch,
    path = "/invoices/{id}",
    tag = "Invoices",
    operation_id = "updateInvoice",
    params(("id" = String, Path, description = "Invoice id")),
    request_body = UpdateInvoice,
    responses(
        (status = 200, description = "The invoice now", body = InvoiceView),
        (status = 404, description = "No such invoice", body = ErrorBody),
    )
)]
async fn update(
    State(state): State<AppState>,
    actor: ApiActor,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateInvoice>,
) -> Result<Json<InvoiceView>> {
    actor.scope(Area::Invoices, Action::Edit)?;
    let firm = actor.firm;
    let id = InvoiceId::parse(&id).ok_or(Error::NotFound)?;
    let status = status(&body.status)?;
    let invoice = state
        .store
        .set_invoice_status(&firm.id, &id, status)
        .await?
        .ok_or(Error::NotFound)?;
    Ok(Json(view(&invoice)))
}
