//! Invoices as staff publish them, through the API or the console: each field checked the
//! same way, and the store's conflict on a number named as such.

use portico_shared::ids::FirmId;
use portico_shared::status::InvoiceStatus;
use portico_shared::store::{Invoice, NewInvoice};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::money;
use crate::state::AppState;

pub const MAX_NUMBER: usize = 64;
pub const MAX_DESCRIPTION: usize = 2_000;
pub const MAX_URL: usize = 2_000;
/// A trillion major units of a 2-decimal currency: far above any real invoice, far below i64.
pub const MAX_AMOUNT: i64 = 100_000_000_000_000;

pub fn status(value: &str) -> Result<InvoiceStatus> {
    InvoiceStatus::parse(value)
        .ok_or_else(|| Error::invalid("status", "status must be open, paid or void"))
}

pub fn date(field: &'static str, value: &str) -> Result<String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(value, &format)
        .map(|_| value.to_string())
        .map_err(|_| Error::invalid(field, format!("{field} must be a date like 2026-12-31")))
}

fn amount_refused() -> Error {
    Error::invalid(
        "amount",
        format!("amount must be a whole number of minor units (cents) from 0 to {MAX_AMOUNT}"),
    )
}

/// A whole number of minor units (cents), given as a JSON integer.
pub fn amount(value: &Value) -> Result<i64> {
    let amount = value.as_i64().ok_or_else(amount_refused)?;
    if !(0..=MAX_AMOUNT).contains(&amount) {
        return Err(amount_refused());
    }
    Ok(amount)
}

/// An amount typed in major units (`1234.50`), in minor units of `currency` (which must be
/// valid): no more decimals than the currency has.
pub fn amount_in_major_units(value: &str, currency: &str) -> Result<i64> {
    let places = money::exponent(currency).unwrap_or(2) as usize;
    let refused = || {
        Error::invalid(
            "amount",
            format!("amount must be a number like 1234.50, with at most {places} decimals"),
        )
    };
    let value = value.trim();
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
        || fraction.len() > places
        || whole.len() > 15
    {
        return Err(refused());
    }
    let padded = format!("{whole}{fraction:0<places$}");
    let minor: i64 = padded.parse().map_err(|_| refused())?;
    amount(&Value::from(minor))
}

pub fn currency(value: &str) -> Result<String> {
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
pub fn pay_url(value: &str) -> Result<String> {
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

pub fn text(field: &'static str, value: &str, max: usize, required: bool) -> Result<String> {
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

/// The due date, checked not to be before the issue date.
pub fn dates(issued: &str, due: &str) -> Result<(String, String)> {
    let issued_date = date("issued_date", issued)?;
    let due_date = date("due_date", due)?;
    if due_date < issued_date {
        return Err(Error::invalid(
            "due_date",
            "due_date must not be before issued_date",
        ));
    }
    Ok((issued_date, due_date))
}

/// Publishes the invoice; a number the firm already used is `number_taken` (409).
pub async fn create(state: &AppState, firm_id: &FirmId, new: &NewInvoice) -> Result<Invoice> {
    state
        .store
        .create_invoice(firm_id, new)
        .await
        .map_err(|e| match Error::from(e) {
            Error::Conflict { .. } => Error::Conflict {
                code: "number_taken",
                message: "the firm already has an invoice with this number".into(),
            },
            other => other,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn major_units_become_minor_units() {
        assert_eq!(amount_in_major_units("1234.5", "EUR").unwrap(), 123_450);
        assert_eq!(amount_in_major_units("12", "EUR").unwrap(), 1_200);
        assert_eq!(amount_in_major_units("500", "JPY").unwrap(), 500);
        assert!(amount_in_major_units("5.5", "JPY").is_err());
        assert!(amount_in_major_units("1.234", "EUR").is_err());
        assert!(amount_in_major_units("-1", "EUR").is_err());
        assert!(amount_in_major_units("", "EUR").is_err());
        assert!(amount_in_major_units("1e5", "EUR").is_err());
    }
}
