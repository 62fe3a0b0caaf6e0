//! Invoices staff publish for a contact (and perhaps its account); the portal lists the ones
//! the viewer sees (`visibility`) when the firm has billing enabled. Amounts are integer minor units of an ISO 4217 currency.

use async_trait::async_trait;
use serde::Serialize;
use sqlx::{Postgres, Sqlite};

use super::{ClientViewer, PageQuery, SqlStore, StoreError, on_unique};
use crate::ids::{ClientAccountId, ContactId, FirmId, InvoiceId};
use crate::now_unix;
use crate::status::InvoiceStatus;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Invoice {
    pub id: InvoiceId,
    pub firm_id: FirmId,
    pub contact_id: ContactId,
    pub number: String,
    pub amount_minor: i64,
    pub currency: String,
    /// `YYYY-MM-DD`
    pub issued_date: String,
    /// `YYYY-MM-DD`
    pub due_date: String,
    pub status: InvoiceStatus,
    pub pay_url: Option<String>,
    pub description: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// Shared with the contact's client account as a whole (its managers see it).
    pub account_id: Option<ClientAccountId>,
}

/// A validated invoice to create.
#[derive(Debug)]
pub struct NewInvoice {
    pub contact_id: ContactId,
    pub number: String,
    pub amount_minor: i64,
    pub currency: String,
    pub issued_date: String,
    pub due_date: String,
    pub status: InvoiceStatus,
    pub pay_url: Option<String>,
    pub description: String,
    /// The contact's account, to share it with the account as a whole
    /// (`UnknownReference("account_id")` for any other).
    pub account_id: Option<ClientAccountId>,
}

#[async_trait]
pub trait InvoiceStore {
    /// `UnknownReference("contact_id", id)` when the contact is not the firm's;
    /// `Conflict("number")` when the firm already has an invoice with this number.
    async fn create_invoice(
        &self,
        firm_id: &FirmId,
        new: &NewInvoice,
    ) -> Result<Invoice, StoreError>;
    async fn invoice(
        &self,
        firm_id: &FirmId,
        id: &InvoiceId,
    ) -> Result<Option<Invoice>, StoreError>;
    async fn list_invoices(
        &self,
        firm_id: &FirmId,
        query: &PageQuery<InvoiceStatus>,
    ) -> Result<Vec<Invoice>, StoreError>;
    async fn set_invoice_status(
        &self,
        firm_id: &FirmId,
        id: &InvoiceId,
        status: InvoiceStatus,
    ) -> Result<Option<Invoice>, StoreError>;
    /// The invoices the viewer sees: open ones first by due date, then the rest, newest first.
    async fn client_invoices(
        &self,
        firm_id: &FirmId,
        viewer: &ClientViewer,
        limit: i64,
    ) -> Result<Vec<Invoice>, StoreError>;
}

macro_rules! invoice_columns {
    () => {
        "id, firm_id, contact_id, number, amount_minor, currency, issued_date, due_date, status, \
         pay_url, description, created_at, updated_at, account_id"
    };
}

macro_rules! invoice_store {
    ($backend:ty) => {
        #[async_trait]
        impl InvoiceStore for SqlStore<$backend> {
            async fn create_invoice(
                &self,
                firm_id: &FirmId,
                new: &NewInvoice,
            ) -> Result<Invoice, StoreError> {
                let now = now_unix();
                // Checked in the same statement's transaction, so a contact of another firm
                // can never be attached.
                let mut tx = self.writer.begin().await?;
                let known: Option<(ClientAccountId,)> = sqlx::query_as(
                    "SELECT account_id FROM contacts WHERE firm_id = $1 AND id = $2",
                )
                .bind(firm_id)
                .bind(&new.contact_id)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((contact_account,)) = known else {
                    return Err(StoreError::UnknownReference(
                        "contact_id",
                        new.contact_id.to_string(),
                    ));
                };
                if let Some(account_id) = &new.account_id
                    && *account_id != contact_account
                {
                    return Err(StoreError::UnknownReference(
                        "account_id",
                        account_id.to_string(),
                    ));
                }
                let invoice = sqlx::query_as(concat!(
                    "INSERT INTO invoices (id, firm_id, contact_id, number, amount_minor, \
                     currency, issued_date, due_date, status, pay_url, description, created_at, \
                     updated_at, account_id) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13) \
                     RETURNING ",
                    invoice_columns!()
                ))
                .bind(InvoiceId::new())
                .bind(firm_id)
                .bind(&new.contact_id)
                .bind(&new.number)
                .bind(new.amount_minor)
                .bind(&new.currency)
                .bind(&new.issued_date)
                .bind(&new.due_date)
                .bind(new.status)
                .bind(&new.pay_url)
                .bind(&new.description)
                .bind(now)
                .bind(new.account_id.as_ref())
                .fetch_one(&mut *tx)
                .await
                .map_err(on_unique("number"))?;
                tx.commit().await?;
                Ok(invoice)
            }

            async fn invoice(
                &self,
                firm_id: &FirmId,
                id: &InvoiceId,
            ) -> Result<Option<Invoice>, StoreError> {
                Ok(sqlx::query_as(concat!(
                    "SELECT ",
                    invoice_columns!(),
                    " FROM invoices WHERE firm_id = $1 AND id = $2"
                ))
                .bind(firm_id)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn list_invoices(
                &self,
                firm_id: &FirmId,
                query: &PageQuery<InvoiceStatus>,
            ) -> Result<Vec<Invoice>, StoreError> {
                Ok(fetch_page!(
                    &self.pool,
                    concat!("SELECT ", invoice_columns!(), " FROM invoices"),
                    "invoices",
                    firm_id,
                    query
                )?)
            }

            async fn set_invoice_status(
                &self,
                firm_id: &FirmId,
                id: &InvoiceId,
                status: InvoiceStatus,
            ) -> Result<Option<Invoice>, StoreError> {
                Ok(sqlx::query_as(concat!(
                    "UPDATE invoices SET status = $3, updated_at = $4 \
                     WHERE firm_id = $1 AND id = $2 RETURNING ",
                    invoice_columns!()
                ))
                .bind(firm_id)
                .bind(id)
                .bind(status)
                .bind(now_unix())
                .fetch_optional(&self.writer)
                .await?)
            }

            async fn client_invoices(
                &self,
                firm_id: &FirmId,
                viewer: &ClientViewer,
                limit: i64,
            ) -> Result<Vec<Invoice>, StoreError> {
                Ok(sqlx::query_as(concat!(
                    "SELECT ",
                    invoice_columns!(),
                    " FROM ",
                    visible_ids!("invoices", "$1", "$2", "$3"),
                    " v CROSS JOIN invoices i WHERE i.id = v.visible_id AND i.firm_id = $1 \
                     ORDER BY CASE WHEN i.status = 'open' THEN 0 ELSE 1 END, \
                     CASE WHEN i.status = 'open' THEN i.due_date END, \
                     i.issued_date DESC, i.id LIMIT $4"
                ))
                .bind(firm_id)
                .bind(&viewer.contact_id)
                .bind(viewer.account.as_ref())
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }
        }
    };
}
invoice_store!(Sqlite);
invoice_store!(Postgres);
