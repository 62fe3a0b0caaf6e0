//! A message a client or staff member typed, checked before it is stored.

/// The longest message a client or staff member may send, in characters.
pub const MAX_BODY: usize = 10_000;

/// The message as typed, or the catalog key of what is wrong with it.
pub fn message_body(body: &str) -> Result<String, &'static str> {
    let body = body.trim();
    if body.is_empty() {
        return Err("request.error_empty");
    }
    if body.chars().count() > MAX_BODY {
        return Err("request.error_too_long");
    }
    Ok(body.to_string())
}
