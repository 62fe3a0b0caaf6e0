//! The worker: a loop around "handle one entry" (`parse → compose → send → ack`), which decides
//! waiting, retrying and stopping; each step is a function of its own.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use portico_shared::email::mask;
use portico_shared::keys::Keyring;
use portico_shared::mail::MailJob;
use portico_shared::now_unix;

use crate::compose::Composer;
use crate::queue::{Entry, Queue};

/// Attempts before a job that keeps failing transiently is dead-lettered.
const MAX_ATTEMPTS: u32 = 8;
const BATCH: usize = 16;

pub enum Delivery {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// No `SMTP_URL`: `.eml` files in this folder, and sign-in links in the log.
    Outbox(PathBuf),
}

enum Outcome {
    Sent,
    /// Its link expired before it could be sent: pointless now.
    Dropped,
    /// Already accepted by the server (a crash came between sending and acknowledging).
    Duplicate,
    Dead(String),
    Retry(String),
}

pub struct Worker {
    pub queue: Queue,
    pub composer: Composer,
    pub keys: Arc<Keyring>,
    pub delivery: Delivery,
    attempts: HashMap<String, u32>,
}

impl Worker {
    pub fn new(queue: Queue, composer: Composer, keys: Arc<Keyring>, delivery: Delivery) -> Worker {
        Worker {
            queue,
            composer,
            keys,
            delivery,
            attempts: HashMap::new(),
        }
    }

    /// Runs until `stop` resolves; the entry in hand is always finished first.
    pub async fn run(&mut self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        let mut outage_logged = false;
        let mut backoff = Duration::ZERO;
        loop {
            tokio::select! {
                () = &mut stop => break,
                () = tokio::time::sleep(backoff) => {}
            }
            match self.round().await {
                Ok(retry) => {
                    if outage_logged {
                        tracing::info!("Redis is reachable again");
                        outage_logged = false;
                    }
                    backoff = retry.unwrap_or(Duration::ZERO);
                }
                Err(e) => {
                    if !outage_logged {
                        tracing::warn!(error = %e, "Redis unavailable; retrying until it is back");
                        outage_logged = true;
                    }
                    backoff = Duration::from_secs(1);
                }
            }
        }
        tracing::info!("mailer stopped");
    }

    /// One round: own pending entries first, then abandoned ones, then new ones. Returns how
    /// long to wait before the next round when something must be retried.
    async fn round(&mut self) -> redis::RedisResult<Option<Duration>> {
        self.queue.ensure_group().await?;
        let mut entries = self.queue.own_pending(BATCH).await?;
        if entries.is_empty() {
            entries = self.queue.claim_abandoned(BATCH).await?;
        }
        if entries.is_empty() {
            // Shorter than the connection's 2 s response timeout.
            entries = self
                .queue
                .next_new(BATCH, Duration::from_millis(1000))
                .await?;
        }
        let mut retry = None;
        for entry in entries {
            match self.handle(&entry).await? {
                Outcome::Retry(reason) => {
                    let attempts = self.attempts.entry(entry.id.clone()).or_insert(0);
                    *attempts += 1;
                    if *attempts >= MAX_ATTEMPTS {
                        tracing::warn!(entry = %entry.id, %reason, "giving up after {MAX_ATTEMPTS} attempts");
                        self.queue.dead_letter(&entry, &reason).await?;
                        self.attempts.remove(&entry.id);
                    } else {
                        // Exponential backoff with jitter, capped at a minute.
                        let base = Duration::from_millis(500 * 2u64.pow(*attempts - 1))
                            .min(Duration::from_secs(60));
                        let jitter = u64::from(portico_shared::secret::random_bytes::<1>()[0])
                            * base.as_millis() as u64
                            / 1024;
                        tracing::warn!(entry = %entry.id, %reason, attempt = *attempts, "delivery failed; will retry");
                        retry = Some(base + Duration::from_millis(jitter));
                        // Stop this round: the remaining entries stay pending and come back first.
                        break;
                    }
                }
                _ => {
                    self.attempts.remove(&entry.id);
                }
            }
        }
        Ok(retry)
    }

    async fn handle(&mut self, entry: &Entry) -> redis::RedisResult<Outcome> {
        let outcome = self.attempt(entry).await?;
        match &outcome {
            Outcome::Sent | Outcome::Dropped | Outcome::Duplicate => {
                self.queue.ack(&entry.id).await?
            }
            Outcome::Dead(reason) => {
                tracing::warn!(entry = %entry.id, %reason, "dead-lettered");
                self.queue.dead_letter(entry, reason).await?;
            }
            Outcome::Retry(_) => {}
        }
        Ok(outcome)
    }

    async fn attempt(&mut self, entry: &Entry) -> redis::RedisResult<Outcome> {
        let Some(json) = entry.json.as_deref() else {
            return Ok(Outcome::Dead("the entry has no job field".into()));
        };
        let job = match MailJob::from_json(json) {
            Ok(job) => job,
            Err(e) => return Ok(Outcome::Dead(format!("unreadable job: {e}"))),
        };
        if job.not_after.is_some_and(|t| t <= now_unix()) {
            tracing::info!(job = %job.id, "link expired before sending; dropped");
            return Ok(Outcome::Dropped);
        }
        if self.queue.already_sent(&job.id).await? {
            return Ok(Outcome::Duplicate);
        }
        let (message, secrets) = match self.composer.compose(&job, &self.keys) {
            Ok(made) => made,
            Err(e) => return Ok(Outcome::Dead(format!("cannot compose: {e:#}"))),
        };
        match self.deliver(&job, message).await {
            Ok(()) => {
                self.queue.mark_sent(&job.id).await?;
                if let (Delivery::Outbox(dir), Some(secrets)) = (&self.delivery, secrets) {
                    // The documented development behaviour: with no mail server, print the link.
                    tracing::info!(
                        to = %mask(&job.to.email),
                        "sign-in link: {}  (code {}), saved in {}",
                        secrets.link,
                        secrets.code,
                        dir.display()
                    );
                }
                tracing::info!(job = %job.id, template = job.template.name(), to = %mask(&job.to.email), "sent");
                Ok(Outcome::Sent)
            }
            Err(Failure::Permanent(reason)) => Ok(Outcome::Dead(reason)),
            Err(Failure::Transient(reason)) => Ok(Outcome::Retry(reason)),
        }
    }

    async fn deliver(&self, job: &MailJob, message: Message) -> Result<(), Failure> {
        match &self.delivery {
            Delivery::Smtp(transport) => transport.send(message).await.map(|_| ()).map_err(|e| {
                if e.is_permanent() {
                    Failure::Permanent(format!("SMTP refused: {e}"))
                } else {
                    Failure::Transient(format!("SMTP: {e}"))
                }
            }),
            Delivery::Outbox(dir) => {
                let path = dir.join(format!("{}.eml", job.id));
                tokio::fs::write(&path, message.formatted())
                    .await
                    .map_err(|e| Failure::Transient(format!("writing {}: {e}", path.display())))
            }
        }
    }
}

enum Failure {
    Permanent(String),
    Transient(String),
}
