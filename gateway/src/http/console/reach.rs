//! What the console's client pages (dashboard, contacts, conversations) share, kept out of
//! their route modules so that none imports another: the reach of a policy decision (every
//! client, or the member's own), finding a contact or an item within it (outside it: 404,
//! as if it did not exist), keyset cursors in URLs, and times as the console writes them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portico_shared::ids::{ContactId, MemberId};
use portico_shared::policy::Decision;
use portico_shared::store::{Contact, Scoped};

use crate::error::{Error, Result};
use crate::http::extract::StaffSession;
use crate::state::AppState;

/// Whose clients an allowed decision reaches: `None` for all of the firm's, or the member
/// whose assigned clients only.
pub fn reach(decision: &Decision) -> Option<MemberId> {
    match decision {
        Decision::Assigned(member) => Some(member.clone()),
        _ => None,
    }
}

/// A contact of the staff member's firm within `decision`'s reach; anything else (a malformed
/// id, another firm's contact, a contact not assigned to the member) is 404.
pub async fn contact_within(
    state: &AppState,
    staff: &StaffSession,
    decision: &Decision,
    id: &str,
) -> Result<Contact> {
    let id = ContactId::parse(id).ok_or(Error::NotFound)?;
    let contact = state
        .store
        .contact(&staff.firm.id, &id)
        .await?
        .ok_or(Error::NotFound)?;
    within(state, staff, decision, &contact.id).await?;
    Ok(contact)
}

/// Ok when the contact is within the decision's reach; 404 when it is not.
pub async fn within(
    state: &AppState,
    staff: &StaffSession,
    decision: &Decision,
    contact: &ContactId,
) -> Result<()> {
    if let Some(member) = reach(decision)
        && !state
            .store
            .is_assigned(&staff.firm.id, contact, &member)
            .await?
    {
        return Err(Error::NotFound);
    }
    Ok(())
}

/// A keyset cursor as a URL parameter: the last row's sort key and id.
pub fn cursor(key: &str, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{key}\n{id}"))
}

/// Reads [`cursor`]'s text; a mangled one is a 400 that says so.
pub fn read_cursor(text: Option<&str>) -> Result<Option<(String, String)>> {
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let bad =
        || Error::BadRequest("the page link is damaged: start again from the first page".into());
    let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (key, id) = text.split_once('\n').ok_or_else(bad)?;
    Ok(Some((key.to_string(), id.to_string())))
}

/// A Unix time as the console shows it: `2026-12-05 14:03 UTC`.
pub fn when(unix: i64) -> String {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp(unix) else {
        return String::new();
    };
    format!("{} {:02}:{:02} UTC", t.date(), t.hour(), t.minute())
}

/// The same time, machine-readable, for `<time datetime>`.
pub fn iso(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Ok when the item (a task, signing request or conversation) is within the decision's
/// reach, by the same rule as the API's and the console's lists (`ScopeStore::in_scope`:
/// one of its contacts is the member's, or it is shared with the account of one); 404 when
/// it is not.
pub async fn item_within(
    state: &AppState,
    staff: &StaffSession,
    decision: &Decision,
    item: Scoped<'_>,
) -> Result<()> {
    if let Some(member) = reach(decision)
        && !state.store.in_scope(&staff.firm.id, &member, item).await?
    {
        return Err(Error::NotFound);
    }
    Ok(())
}
