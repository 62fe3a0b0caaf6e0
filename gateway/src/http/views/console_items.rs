//! What the console's work pages (tasks, signing, invoices) share: the cursor of their
//! newest-first pages, the member a `Decision` narrows a list to, and contacts typed into a
//! form as email addresses, found within the member's scope.

use portico_shared::email::Email;
use portico_shared::ids::{FirmId, MemberId};
use portico_shared::policy::Decision;
use portico_shared::store::ContactRef;

use crate::error::{Error, Result};
use crate::state::AppState;

/// Rows per console list page.
pub const PAGE_SIZE: i64 = 50;

/// The member whose clients a decision is narrowed to (`None`: every client of the firm).
pub fn assigned(decision: &Decision) -> Option<MemberId> {
    match decision {
        Decision::Assigned(member) => Some(member.clone()),
        _ => None,
    }
}

/// Reads a `before` cursor (`{created_at}.{id}`); anything else starts from the newest.
pub fn cursor(value: Option<&str>) -> Option<(i64, String)> {
    let (time, id) = value?.split_once('.')?;
    let time = time.parse().ok()?;
    (!id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
    .then(|| (time, id.to_string()))
}

/// Keeps a page of `limit` from `rows` fetched with `limit + 1`, and the cursor of the next.
pub fn page_of<T>(
    mut rows: Vec<T>,
    limit: i64,
    key: impl Fn(&T) -> (i64, String),
) -> (Vec<T>, Option<String>) {
    let limit = usize::try_from(limit).unwrap_or(0);
    if rows.len() <= limit {
        return (rows, None);
    }
    rows.truncate(limit);
    let next = rows.last().map(|last| {
        let (time, id) = key(last);
        format!("{time}.{id}")
    });
    (rows, next)
}

/// The contacts named in `field` (addresses separated by commas, spaces or lines), each a
/// contact of the firm within `assigned_to`'s clients; an address that is not one of them is
/// refused alike, whether or not it exists. At most `max`.
pub async fn contacts_by_email(
    state: &AppState,
    firm_id: &FirmId,
    field: &'static str,
    text: &str,
    max: usize,
    assigned_to: Option<&MemberId>,
) -> Result<Vec<ContactRef>> {
    let mut wanted: Vec<(String, String)> = Vec::new();
    for word in text.split(|c: char| c == ',' || c == ';' || c.is_whitespace()) {
        if word.is_empty() {
            continue;
        }
        let email = Email::parse(word)
            .map_err(|_| Error::invalid(field, format!("{word:?} is not an email address")))?;
        let norm = email.normalized().to_string();
        if !wanted.iter().any(|(n, _)| *n == norm) {
            wanted.push((norm, word.to_string()));
        }
    }
    if wanted.len() > max {
        return Err(Error::invalid(field, format!("at most {max} contacts")));
    }
    let norms: Vec<String> = wanted.iter().map(|(n, _)| n.clone()).collect();
    let found = state
        .store
        .contacts_by_emails(firm_id, &norms, assigned_to)
        .await?;
    for (norm, typed) in &wanted {
        let known = found.iter().any(|c| c.email_norm == *norm);
        if !known {
            return Err(Error::invalid(
                field,
                format!("{typed} is not one of your contacts"),
            ));
        }
    }
    Ok(found)
}

/// A Unix time as `2026-12-31 14:05 UTC`.
pub fn when(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .map(|t| format!("{} {:02}:{:02} UTC", t.date(), t.hour(), t.minute()))
        .unwrap_or_default()
}

/// The email of contact `id` (from `?contact=` on a "new …" link, e.g. on a contact's page),
/// to fill the form in; empty when it is not a contact within `assigned_to`'s clients.
pub async fn prefilled_email(
    state: &AppState,
    firm_id: &FirmId,
    id: Option<&str>,
    assigned_to: Option<&MemberId>,
) -> Result<String> {
    let Some(id) = id.and_then(portico_shared::ids::ContactId::parse) else {
        return Ok(String::new());
    };
    let found = state
        .store
        .contacts_by_ids(firm_id, std::slice::from_ref(&id), assigned_to)
        .await?;
    Ok(found
        .into_iter()
        .next()
        .map(|c| c.email)
        .unwrap_or_default())
}

/// `?contact=` of a "new …" form.
#[derive(serde::Deserialize)]
pub struct NewFormQuery {
    pub contact: Option<String>,
}
