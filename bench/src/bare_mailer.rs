//! The bare twin of the mailer, for `shared_cost_bench`: what sending one queued email cannot
//! be done without, through the mailer's own parts. It reads new entries of the mail stream
//! in the consumer group, checks each job's tag, renders the email (`Composer`: the same
//! templates and catalogs), sends it over the same pooled, pipelined SMTP connections
//! (`Delivery`) and settles it as sent (`Queue::accepted`: the "sent" marker, `XACK`, `XDEL`).
//!
//! What it leaves out is the worker around that: the slot semaphore and the read of as many
//! entries as slots are free after each send, the in-flight set, the takeover of abandoned
//! entries, the retry and dead-letter paths and their housekeeping, metrics, and the log line
//! of each mail. It reads a batch of up to `MAILER_CONCURRENCY` entries, sends them
//! concurrently, and reads again when all are settled. A job that fails is left pending (the
//! benchmark then never sees the stream drain, and says so).
//!
//! Run as its own process (`shared_cost_bench --bare-mailer`) with the mailer's environment;
//! it prints `started` when it reads.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use portico_mailer::compose::{Composer, check_id};
use portico_mailer::deliver::Delivery;
use portico_mailer::queue::{Entry, Queue};
use portico_mailer::settings::Settings;
use portico_shared::config::Config;
use portico_shared::keys::Keyring;
use portico_shared::mail::MailJob;
use portico_shared::redis_conn::RedisKeys;

struct BareMailer {
    queue: Queue,
    composer: Composer,
    delivery: Delivery,
    keys: Arc<Keyring>,
}

impl BareMailer {
    async fn send(&self, entry: &Entry) -> Result<()> {
        let json = entry.json.as_deref().context("an entry without a job")?;
        let job = MailJob::from_json(json)?;
        job.verify(&self.keys, self.queue.prefix())
            .map_err(|e| anyhow!("unauthenticated: {e}"))?;
        check_id(&job.id).map_err(|e| anyhow!(e.0))?;
        let rendered = self
            .composer
            .render(&job, &self.keys)
            .map_err(|e| anyhow!(e.0))?;
        let message = self
            .composer
            .message(&job, &rendered)
            .map_err(|e| anyhow!(e.0))?;
        self.delivery
            .send(&job.id, &message)
            .await
            .map_err(|e| anyhow!("{e:?}"))?;
        self.queue.accepted(entry, &job.id).await?;
        Ok(())
    }
}

/// Drains the mail stream of the environment's prefix until killed.
pub async fn serve() -> Result<()> {
    let config = Config::from_env().context("the mailer's settings")?;
    let settings = Settings::from_env().context("the mailer's settings")?;
    let smtp_url = config.smtp_url.as_deref().context("SMTP_URL is needed")?;
    let queue = Queue::connect(
        &config.redis,
        RedisKeys::new(&config.redis_prefix),
        settings.consumer.clone(),
        settings.claim_idle,
    )
    .await?;
    queue.ensure_group().await?;
    let twin = BareMailer {
        queue,
        composer: Composer::new(&config.mail_from, None)?,
        delivery: Delivery::smtp(smtp_url, settings.smtp_timeout)?,
        keys: config.signing_keys.clone(),
    };
    let mut stdout = std::io::stdout();
    writeln!(stdout, "started")?;
    stdout.flush()?;
    loop {
        let entries = match twin
            .queue
            .read_new(settings.concurrency, Duration::from_millis(500))
            .await
        {
            Ok(entries) => entries,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let sends = entries.iter().map(|entry| twin.send(entry));
        for outcome in futures::future::join_all(sends).await {
            if let Err(e) = outcome {
                eprintln!("bare mailer: {e:#}");
            }
        }
    }
}
