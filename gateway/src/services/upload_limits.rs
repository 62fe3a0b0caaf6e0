//! What one client may upload: `PORTICO_UPLOAD_RATE` uploads per window, counted in Redis,
//! and `PORTICO_UPLOAD_QUOTA` bytes kept, counted from the database. Both are shared by every
//! gateway of the installation.

use std::time::Duration;

use portico_shared::ids::{ContactId, FirmId};
use portico_shared::units::megabytes;
use redis::Script;

use crate::error::{Error, Result};
use crate::state::AppState;

/// Counts one upload; `{0, ttl}` once past the limit (the window does not grow with refusals).
const COUNT: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
if n > tonumber(ARGV[2]) then
  local ttl = redis.call('TTL', KEYS[1])
  if ttl < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
  return {0, ttl}
end
return {1, 0}
";

/// Counts an upload of this contact; 429 with the wait once they are past the rate.
pub async fn count_upload(state: &AppState, firm: &FirmId, contact: &ContactId) -> Result<()> {
    let rate = state.config.upload_rate;
    let key = state.redis_keys.upload_rate(firm, contact);
    let (allowed, ttl): (i64, i64) = Script::new(COUNT)
        .key(key)
        .arg(rate.per.as_secs().max(1))
        .arg(rate.count)
        .invoke_async(&mut state.redis.clone())
        .await?;
    if allowed == 1 {
        return Ok(());
    }
    state.metrics.rate_limited("upload");
    Err(Error::RateLimited {
        retry_after: Duration::from_secs(ttl.max(1) as u64),
    })
}

/// Refuses with 507 when `adding` more bytes would take this contact past the quota; 0 asks
/// whether there is any room at all (before reading the file).
pub async fn check_quota(
    state: &AppState,
    firm: &FirmId,
    contact: &ContactId,
    adding: u64,
    message: impl Fn(&str, &str) -> String,
) -> Result<()> {
    let Some(quota) = state.config.upload_quota else {
        return Ok(());
    };
    let used = state.store.contact_stored_bytes(firm, contact).await?;
    let used = u64::try_from(used).unwrap_or(0);
    let full = if adding == 0 {
        used >= quota
    } else {
        used.saturating_add(adding) > quota
    };
    if full {
        return Err(Error::InsufficientStorage(message(
            &megabytes(used),
            &megabytes(quota),
        )));
    }
    Ok(())
}
