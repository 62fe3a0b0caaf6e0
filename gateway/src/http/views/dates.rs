//! Dates as pages show them.

/// Today in UTC, `YYYY-MM-DD`.
pub fn today() -> String {
    time::OffsetDateTime::now_utc().date().to_string()
}
