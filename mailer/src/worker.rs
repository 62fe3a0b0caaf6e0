//! The worker: a loop that takes jobs while a send slot is free (`next_entries`) and runs each
//! through `attempt` (parse and verify the tag → render → send) and `settle` (ack, retry
//! later, or dead-letter) in a task of its own, at most `MAILER_CONCURRENCY` at once. The loop
//! alone decides waiting and stopping; Redis details live in [`crate::queue`].

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portico_shared::email::mask;
use portico_shared::keys::Keyring;
use portico_shared::mail::{LinkSecrets, MailJob};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;

use crate::compose::{Composer, check_id};
use crate::deliver::{Delivery, Failure};
use crate::metrics::Metrics;
use crate::queue::{Entry, Queue};
use crate::settings::Settings;

/// How long one blocking read waits for new jobs (under the 2 s Redis response timeout; also
/// how long a stop request may wait for the loop to notice it).
const READ_BLOCK: Duration = Duration::from_millis(500);

pub struct Worker {
    pub queue: Queue,
    pub composer: Composer,
    pub keys: Arc<Keyring>,
    pub delivery: Delivery,
    pub settings: Settings,
    pub metrics: Arc<Metrics>,
    /// Entries being handled here, so a claim never hands us one we already hold.
    in_flight: Mutex<HashSet<String>>,
    redis_down: AtomicBool,
    last_redis_failure: Mutex<Option<Instant>>,
    smtp_down: AtomicBool,
}

/// What became of one attempt at a job.
enum Outcome {
    Sent {
        job: Box<MailJob>,
        secrets: Option<LinkSecrets>,
    },
    /// Its link expired before it could be sent: pointless now.
    Dropped { job_id: String },
    /// Already accepted by the server (its acknowledgement was lost).
    Duplicate { job_id: String },
    /// Cannot ever be sent: the reason, the metric label, and the job's id when it is known.
    Dead {
        reason: String,
        kind: &'static str,
        job_id: Option<String>,
    },
    /// Failed for now; `enqueued_at_ms` decides whether it is too old to try again.
    Retry {
        reason: String,
        enqueued_at_ms: Option<i64>,
    },
    /// Redis failed before anything was sent: leave the entry pending; it is claimed again
    /// after `MAILER_CLAIM_IDLE`.
    Abandon,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Email addresses in a server's reply, masked before they reach the log.
fn masked(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            if word.contains('@') {
                let trimmed = word.trim_matches(|c: char| "<>,;:()[]\"'".contains(c));
                word.replace(trimmed, &mask(trimmed))
            } else {
                word.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl Worker {
    pub fn new(
        queue: Queue,
        composer: Composer,
        keys: Arc<Keyring>,
        delivery: Delivery,
        settings: Settings,
        metrics: Arc<Metrics>,
    ) -> Worker {
        Worker {
            queue,
            composer,
            keys,
            delivery,
            settings,
            metrics,
            in_flight: Mutex::default(),
            redis_down: AtomicBool::new(false),
            last_redis_failure: Mutex::default(),
            smtp_down: AtomicBool::new(false),
        }
    }

    /// Runs until `stop` resolves, then stops taking jobs, lets the ones in flight finish and
    /// returns.
    pub async fn run(self: Arc<Self>, stop: impl Future<Output = ()>) {
        tokio::pin!(stop);
        let (stopping_tx, stopping) = watch::channel(false);
        let housekeeping = tokio::spawn(self.clone().housekeeping(stopping));
        let slots = Arc::new(Semaphore::new(self.settings.concurrency));
        let mut tasks = JoinSet::new();
        let claim_every = (self.settings.claim_idle / 4).max(Duration::from_millis(250));
        let mut last_claim: Option<Instant> = None;
        let mut first = true;
        loop {
            while tasks.try_join_next().is_some() {}
            let permit = tokio::select! {
                biased;
                () = &mut stop => break,
                permit = slots.clone().acquire_owned() => permit.expect("semaphore open"),
            };
            let free = 1 + slots.available_permits();
            let claim_due = last_claim.is_none_or(|t| t.elapsed() >= claim_every);
            if claim_due {
                last_claim = Some(Instant::now());
            }
            match self.next_entries(free, &mut first, claim_due).await {
                Ok(entries) => {
                    self.redis_ok();
                    let mut permit = Some(permit);
                    for entry in entries {
                        let slot = match permit.take() {
                            Some(p) => p,
                            None => slots.clone().acquire_owned().await.expect("semaphore open"),
                        };
                        tasks.spawn(self.clone().process(entry, slot));
                    }
                }
                Err(e) => {
                    self.redis_failed(&e);
                    drop(permit);
                    tokio::select! {
                        () = &mut stop => break,
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        }
        tracing::info!(
            in_flight = tasks.len(),
            "stopping: taking no new jobs, finishing those in flight"
        );
        while tasks.join_next().await.is_some() {}
        let _ = stopping_tx.send(true);
        let _ = housekeeping.await;
        self.delivery.close().await;
        if let Err(e) = self.queue.leave_group().await {
            tracing::debug!(error = %e, "could not leave the consumer group");
        }
        tracing::info!("mailer stopped");
    }

    /// Up to `count` entries: at start our own pending ones (a restart under the same
    /// consumer name), then, when `claim` says it is time, abandoned ones, else new ones.
    async fn next_entries(
        &self,
        count: usize,
        first: &mut bool,
        claim: bool,
    ) -> redis::RedisResult<Vec<Entry>> {
        match self.read_entries(count, first, claim).await {
            // The group is gone (Redis restarted empty, or the stream was deleted): make it
            // again.
            Err(e) if e.code() == Some("NOGROUP") => {
                self.queue.ensure_group().await?;
                Ok(Vec::new())
            }
            other => other,
        }
    }

    async fn read_entries(
        &self,
        count: usize,
        first: &mut bool,
        claim: bool,
    ) -> redis::RedisResult<Vec<Entry>> {
        if *first {
            self.queue.ensure_group().await?;
            *first = false;
            let own = self.queue.own_pending(count).await?;
            if !own.is_empty() {
                return Ok(own);
            }
        }
        if claim {
            let claimed = self.queue.claim_abandoned(count).await?;
            let in_flight = self.in_flight.lock().expect("lock");
            let claimed: Vec<Entry> = claimed
                .into_iter()
                .filter(|e| !in_flight.contains(&e.id))
                .collect();
            if !claimed.is_empty() {
                tracing::info!(
                    count = claimed.len(),
                    "took over jobs left idle by a mailer"
                );
                return Ok(claimed);
            }
        }
        self.queue.read_new(count, READ_BLOCK).await
    }

    /// One entry, from start to settled, holding one send slot.
    async fn process(self: Arc<Self>, entry: Entry, _slot: OwnedSemaphorePermit) {
        self.in_flight
            .lock()
            .expect("lock")
            .insert(entry.id.clone());
        self.metrics.in_flight.inc();
        // Bounded well under the claim idle time, so no other mailer takes this job over
        // while it is still being sent here.
        let outcome = tokio::time::timeout(self.settings.claim_idle / 2, self.attempt(&entry))
            .await
            .unwrap_or_else(|_| Outcome::Retry {
                reason: "the attempt timed out".into(),
                enqueued_at_ms: None,
            });
        self.settle(&entry, outcome).await;
        self.metrics.in_flight.dec();
        self.in_flight.lock().expect("lock").remove(&entry.id);
    }

    /// parse and verify → (expired? already sent, unless it is a first delivery?) → render →
    /// send.
    async fn attempt(&self, entry: &Entry) -> Outcome {
        let job = match parse(entry, &self.keys, self.queue.prefix()) {
            Ok(job) => job,
            Err(outcome) => return outcome,
        };
        if job
            .not_after
            .is_some_and(|t| t <= portico_shared::now_unix())
        {
            return Outcome::Dropped { job_id: job.id };
        }
        if !entry.first_delivery {
            match self.queue.already_sent(&job.id).await {
                Ok(true) => return Outcome::Duplicate { job_id: job.id },
                Ok(false) => self.redis_ok(),
                Err(e) => {
                    self.redis_failed(&e);
                    return Outcome::Abandon;
                }
            }
        }
        let rendered = match self.composer.render(&job, &self.keys) {
            Ok(rendered) => rendered,
            Err(e) => {
                return Outcome::Dead {
                    reason: e.0,
                    kind: "bad_job",
                    job_id: Some(job.id),
                };
            }
        };
        let message = match self.composer.message(&job, &rendered) {
            Ok(message) => message,
            Err(e) => {
                return Outcome::Dead {
                    reason: e.0,
                    kind: "bad_job",
                    job_id: Some(job.id),
                };
            }
        };
        let started = Instant::now();
        let sent = self.delivery.send(&job.id, &message).await;
        self.metrics
            .send_duration
            .observe(started.elapsed().as_secs_f64());
        match sent {
            Ok(()) => {
                if self.smtp_down.swap(false, Ordering::Relaxed) {
                    tracing::info!("the mail server accepts mail again");
                }
                Outcome::Sent {
                    job: Box::new(job),
                    secrets: rendered.secrets,
                }
            }
            Err(Failure::Permanent(reason)) => Outcome::Dead {
                reason,
                kind: "permanent",
                job_id: Some(job.id),
            },
            Err(Failure::Transient(reason)) => {
                if !self.smtp_down.swap(true, Ordering::Relaxed) {
                    tracing::warn!(error = %masked(&reason), "cannot deliver; retrying with backoff until the mail server accepts again");
                }
                Outcome::Retry {
                    reason,
                    enqueued_at_ms: Some(job.enqueued_at_ms),
                }
            }
        }
    }

    /// Records the outcome in Redis: acknowledged, retried later, or dead-lettered.
    async fn settle(&self, entry: &Entry, outcome: Outcome) {
        match outcome {
            Outcome::Sent { job, secrets } => {
                self.persist(|| self.queue.accepted(entry, &job.id)).await;
                let latency_ms = now_ms() - job.enqueued_at_ms;
                self.metrics
                    .sent
                    .get_or_create(&vec![("template", job.template.name())])
                    .inc();
                self.metrics
                    .enqueue_to_accept
                    .observe(latency_ms.max(0) as f64 / 1000.0);
                tracing::info!(
                    job = %job.id,
                    template = job.template.name(),
                    to = %mask(&job.to.email),
                    attempt = entry.attempts + 1,
                    latency_ms,
                    "sent"
                );
                if let (Delivery::Outbox(dir), Some(secrets)) = (&self.delivery, secrets) {
                    // The documented development behaviour: without a mail server, print the
                    // link so the quick start works.
                    tracing::info!(
                        "sign-in link for {}: {}  (code {})  saved in {}",
                        mask(&job.to.email),
                        secrets.link,
                        secrets.code,
                        dir.display()
                    );
                }
            }
            Outcome::Dropped { job_id } => {
                self.persist(|| self.queue.ack(entry)).await;
                self.metrics.dropped.inc();
                tracing::info!(job = %job_id, "link expired before the mail could be sent; dropped");
            }
            Outcome::Duplicate { job_id } => {
                self.persist(|| self.queue.ack(entry)).await;
                self.metrics.duplicates_skipped.inc();
                tracing::info!(job = %job_id, "already sent; not sending again");
            }
            Outcome::Dead {
                reason,
                kind,
                job_id,
            } => {
                self.dead(entry, entry.attempts + 1, &reason, kind, job_id.as_deref())
                    .await;
            }
            Outcome::Retry {
                reason,
                enqueued_at_ms,
            } => {
                let attempts = entry.attempts + 1;
                let age =
                    enqueued_at_ms.map(|t| Duration::from_millis((now_ms() - t).max(0) as u64));
                if attempts >= self.settings.max_attempts {
                    let reason = format!("gave up after {attempts} attempts: {reason}");
                    self.dead(entry, attempts, &reason, "exhausted", None).await;
                } else if age.is_some_and(|age| age > self.settings.max_age) {
                    let reason = format!(
                        "gave up after {attempts} attempts, older than MAILER_MAX_AGE: {reason}"
                    );
                    self.dead(entry, attempts, &reason, "exhausted", None).await;
                } else {
                    let random = u16::from_le_bytes(portico_shared::secret::random_bytes::<2>());
                    let delay = self.settings.backoff(attempts, random);
                    let due = now_ms() + delay.as_millis() as i64;
                    self.persist(|| self.queue.retry_later(entry, attempts, &reason, due))
                        .await;
                    self.metrics.retried.inc();
                    tracing::debug!(entry = %entry.id, attempts, delay_ms = delay.as_millis() as u64, error = %masked(&reason), "will retry");
                }
            }
            Outcome::Abandon => {}
        }
    }

    /// Dead-letters the entry, counts it and logs it: one line per job. `job_id` may come
    /// from a job that did not verify, so it is logged quoted and escaped, and cut short.
    async fn dead(
        &self,
        entry: &Entry,
        attempts: u32,
        reason: &str,
        kind: &'static str,
        job_id: Option<&str>,
    ) {
        self.persist(|| self.queue.dead_letter(entry, attempts, reason, now_ms()))
            .await;
        self.metrics
            .dead
            .get_or_create(&vec![("reason", kind)])
            .inc();
        let job = job_id.map(|id| id.chars().take(64).collect::<String>());
        tracing::warn!(entry = %entry.id, job = job.as_ref().map(tracing::field::debug), attempts, reason = %masked(reason), "dead-lettered");
    }

    /// Runs a settling write until Redis takes it. Gives up after half the claim idle time:
    /// the entry is then still pending and another attempt (guarded by the sent marker, if
    /// that was written) follows the take-over.
    async fn persist<F, Fut>(&self, write: F)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = redis::RedisResult<()>>,
    {
        let deadline = Instant::now() + self.settings.claim_idle / 2;
        loop {
            match write().await {
                Ok(()) => {
                    self.redis_ok();
                    return;
                }
                Err(e) => {
                    self.redis_failed(&e);
                    if Instant::now() >= deadline {
                        tracing::error!(error = %e, "could not record a job's outcome; it will be taken over and tried again");
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
        }
    }

    /// Puts due retries back on the stream and refreshes the queue gauges, until stopped.
    async fn housekeeping(self: Arc<Self>, mut stopping: watch::Receiver<bool>) {
        let tick = (self.settings.backoff_base / 2)
            .clamp(Duration::from_millis(50), Duration::from_millis(250));
        let mut last_status = Instant::now() - Duration::from_secs(10);
        loop {
            tokio::select! {
                _ = stopping.changed() => return,
                () = tokio::time::sleep(tick) => {}
            }
            loop {
                match self.queue.promote_due(now_ms(), 200).await {
                    Ok(200) => continue,
                    Ok(_) => break,
                    Err(e) => {
                        self.redis_failed(&e);
                        break;
                    }
                }
            }
            if last_status.elapsed() >= Duration::from_secs(1) {
                last_status = Instant::now();
                if let Ok(status) = self.queue.status().await {
                    self.metrics.set_status(&status);
                }
            }
        }
    }

    /// The outage is over once Redis has answered with no failure for a moment: the two
    /// connections reconnect one after the other, and one line each way is enough.
    fn redis_ok(&self) {
        if self.redis_down.load(Ordering::Relaxed) {
            let quiet = self
                .last_redis_failure
                .lock()
                .expect("lock")
                .is_none_or(|t| t.elapsed() >= Duration::from_millis(1500));
            if quiet && self.redis_down.swap(false, Ordering::Relaxed) {
                tracing::info!("Redis is reachable again");
            }
        }
    }

    fn redis_failed(&self, e: &redis::RedisError) {
        self.metrics.redis_errors.inc();
        *self.last_redis_failure.lock().expect("lock") = Some(Instant::now());
        if !self.redis_down.swap(true, Ordering::Relaxed) {
            tracing::warn!(error = %e, "Redis unavailable; retrying until it is back");
        }
    }
}

/// The job of an entry, checked against its tag for this installation's `prefix` before
/// anything else looks at it; or the dead letter it becomes. Every entry comes through here,
/// however it was read: fresh, our own after a restart, taken over, put back by a retry or by
/// `requeue-dead` (those keep the job's JSON as it was, so its tag still verifies).
fn parse(entry: &Entry, keys: &Keyring, prefix: &str) -> Result<MailJob, Outcome> {
    let bad = |reason: String, job_id: Option<String>| Outcome::Dead {
        reason,
        kind: "bad_job",
        job_id,
    };
    let json = entry
        .json
        .as_deref()
        .ok_or_else(|| bad("the entry has no job field".into(), None))?;
    let job = MailJob::from_json(json).map_err(|e| bad(format!("unreadable job: {e}"), None))?;
    // Someone who can write to Redis could otherwise have the mailer send, and DKIM-sign,
    // any mail as any firm.
    if let Err(e) = job.verify(keys, prefix) {
        return Err(bad(format!("unauthenticated: {e}"), Some(job.id)));
    }
    check_id(&job.id).map_err(|e| bad(e.0, None))?;
    Ok(job)
}

#[cfg(test)]
mod tests {
    #[test]
    fn addresses_in_replies_are_masked() {
        assert_eq!(
            super::masked("550 5.1.1 <ann@example.com>: no such user"),
            "550 5.1.1 <a***@example.com>: no such user"
        );
    }
}
