//! What a staff task may hold, checked the same way for the API and the console: the limits
//! of its fields and the text forms of its dates, assignees, checklist and status.

use portico_shared::ids::ContactId;
use portico_shared::status::TaskStatus;

use crate::error::{Error, Result};

pub const MAX_TITLE: usize = 200;
pub const MAX_DESCRIPTION: usize = 10_000;
pub const MAX_ITEMS: usize = 100;
pub const MAX_ASSIGNEES: usize = 50;

/// Trimmed text of at most `max` characters; `required`: not empty.
pub fn text(field: &'static str, value: &str, max: usize, required: bool) -> Result<String> {
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

/// A date like `2026-12-31`.
pub fn due_date(value: &str) -> Result<String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(value, &format)
        .map(|_| value.to_string())
        .map_err(|_| Error::invalid("due_date", "due_date must be a date like 2026-12-31"))
}

/// Contact ids, at most [`MAX_ASSIGNEES`].
pub fn assignees(ids: &[String]) -> Result<Vec<ContactId>> {
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

/// The checklist's labels, at most [`MAX_ITEMS`], each 1 to [`MAX_TITLE`] characters.
pub fn checklist(labels: &[String]) -> Result<Vec<String>> {
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

pub fn status(value: &str) -> Result<TaskStatus> {
    TaskStatus::parse(value)
        .ok_or_else(|| Error::invalid("status", "status must be open or completed"))
}
