//! Redis: connecting, and the names of every key the system writes, under one prefix so that
//! several installations (or test runs) can share a server without touching each other's data.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::ids::{ContactId, FirmId};

#[derive(Clone, Debug)]
pub struct RedisKeys {
    prefix: String,
}

impl RedisKeys {
    pub fn new(prefix: &str) -> RedisKeys {
        RedisKeys {
            prefix: prefix.to_string(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A live magic link, by keyed hash of its nonce.
    pub fn link(&self, lookup: &str) -> String {
        format!("{}link:{lookup}", self.prefix)
    }

    /// The current invitation of a contact (its link's lookup), so a new one replaces it.
    pub fn invitation(&self, contact_id: &ContactId) -> String {
        format!("{}invitation:{contact_id}", self.prefix)
    }

    /// A session, by keyed hash of its cookie value.
    pub fn session(&self, hash: &str) -> String {
        format!("{}session:{hash}", self.prefix)
    }

    pub fn staff_session(&self, hash: &str) -> String {
        format!("{}staff-session:{hash}", self.prefix)
    }

    /// The counter of links asked for one address of a firm from one network (the hash is
    /// keyed over both).
    pub fn email_rate(&self, firm_id: &FirmId, asker_hash: &str) -> String {
        format!("{}rate:email:{firm_id}:{asker_hash}", self.prefix)
    }

    /// The counter of sign-in mails sent to one address of a firm in the last day.
    pub fn email_mails_today(&self, firm_id: &FirmId, email_hash: &str) -> String {
        format!("{}rate:mails:{firm_id}:{email_hash}", self.prefix)
    }

    /// As [`email_rate`](Self::email_rate), for staff sign-in.
    pub fn staff_email_rate(&self, firm_id: &FirmId, asker_hash: &str) -> String {
        format!("{}rate:staff-email:{firm_id}:{asker_hash}", self.prefix)
    }

    /// As [`email_mails_today`](Self::email_mails_today), for staff sign-in mails.
    pub fn staff_email_mails_today(&self, firm_id: &FirmId, email_hash: &str) -> String {
        format!("{}rate:staff-mails:{firm_id}:{email_hash}", self.prefix)
    }

    /// The counter of uploads one contact of a firm made in the current window.
    pub fn upload_rate(&self, firm_id: &FirmId, contact_id: &ContactId) -> String {
        format!("{}rate:upload:{firm_id}:{contact_id}", self.prefix)
    }

    pub fn mail_stream(&self) -> String {
        format!("{}mail:jobs", self.prefix)
    }

    pub fn mail_dead(&self) -> String {
        format!("{}mail:dead", self.prefix)
    }

    /// Any other key of this installation, by name.
    pub fn other(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }
}

/// Connects with short timeouts, so a Redis outage turns into quick errors (and 503 pages)
/// rather than hung requests; the manager reconnects by itself when Redis is back.
pub async fn connect(url: &str) -> Result<ConnectionManager, redis::RedisError> {
    let client = redis::Client::open(url)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(2)))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(500));
    ConnectionManager::new_with_config(client, config).await
}
