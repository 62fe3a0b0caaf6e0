//! Dates as pages show them.

/// Today in UTC, `YYYY-MM-DD`.
pub fn today() -> String {
    time::OffsetDateTime::now_utc().date().to_string()
}

/// A moment as staff pages show it: `2026-12-05 08:15 UTC`.
pub fn when(unix: Option<i64>) -> Option<String> {
    let t = time::OffsetDateTime::from_unix_timestamp(unix?).ok()?;
    Some(format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute()
    ))
}
