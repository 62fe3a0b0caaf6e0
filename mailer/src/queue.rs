//! The Redis-stream plumbing, in one place: the consumer group, reading new and pending jobs,
//! taking over jobs of a consumer that died, acknowledging, dead-lettering, de-duplicating.

use std::time::Duration;

use portico_shared::mail::{CONSUMER_GROUP, JOB_FIELD};
use portico_shared::redis_conn::RedisKeys;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use redis::streams::{
    StreamAutoClaimOptions, StreamAutoClaimReply, StreamReadOptions, StreamReadReply,
};

/// A job as read from the stream: its entry id and its JSON (if the entry has one).
pub struct Entry {
    pub id: String,
    pub json: Option<String>,
}

pub struct Queue {
    pub redis: ConnectionManager,
    pub keys: RedisKeys,
    pub consumer: String,
}

/// A job of a dead consumer is taken over after this long unacknowledged.
pub const CLAIM_IDLE: Duration = Duration::from_secs(60);
/// How long the "already sent" marker of a job lives.
const SENT_MARKER_SECS: u64 = 7 * 86_400;

fn entries(reply: StreamReadReply) -> Vec<Entry> {
    reply
        .keys
        .into_iter()
        .flat_map(|k| k.ids)
        .map(|e| Entry {
            json: e.get::<String>(JOB_FIELD),
            id: e.id,
        })
        .collect()
}

impl Queue {
    /// Creates the consumer group, from the start of the stream, if it does not exist.
    pub async fn ensure_group(&mut self) -> redis::RedisResult<()> {
        let created: redis::RedisResult<()> = self
            .redis
            .xgroup_create_mkstream(self.keys.mail_stream(), CONSUMER_GROUP, "0")
            .await;
        match created {
            Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
            other => other,
        }
    }

    /// This consumer's own unacknowledged jobs (after a restart or a failed attempt).
    pub async fn own_pending(&mut self, count: usize) -> redis::RedisResult<Vec<Entry>> {
        let options = StreamReadOptions::default()
            .group(CONSUMER_GROUP, &self.consumer)
            .count(count);
        let reply: StreamReadReply = self
            .redis
            .xread_options(&[self.keys.mail_stream()], &["0"], &options)
            .await?;
        Ok(entries(reply))
    }

    /// Jobs of other consumers idle for longer than [`CLAIM_IDLE`], now ours.
    pub async fn claim_abandoned(&mut self, count: usize) -> redis::RedisResult<Vec<Entry>> {
        let reply: StreamAutoClaimReply = self
            .redis
            .xautoclaim_options(
                self.keys.mail_stream(),
                CONSUMER_GROUP,
                &self.consumer,
                CLAIM_IDLE.as_millis() as u64,
                "0-0",
                StreamAutoClaimOptions::default().count(count),
            )
            .await?;
        Ok(reply
            .claimed
            .into_iter()
            .map(|e| Entry {
                json: e.get::<String>(JOB_FIELD),
                id: e.id,
            })
            .collect())
    }

    /// New jobs, waiting up to `block` for some.
    pub async fn next_new(
        &mut self,
        count: usize,
        block: Duration,
    ) -> redis::RedisResult<Vec<Entry>> {
        let options = StreamReadOptions::default()
            .group(CONSUMER_GROUP, &self.consumer)
            .count(count)
            .block(block.as_millis() as usize);
        let reply: Option<StreamReadReply> = self
            .redis
            .xread_options(&[self.keys.mail_stream()], &[">"], &options)
            .await?;
        Ok(reply.map(entries).unwrap_or_default())
    }

    /// Done with an entry: acknowledged and removed from the stream.
    pub async fn ack(&mut self, entry_id: &str) -> redis::RedisResult<()> {
        let stream = self.keys.mail_stream();
        redis::pipe()
            .xack(&stream, CONSUMER_GROUP, &[entry_id])
            .ignore()
            .xdel(&stream, &[entry_id])
            .ignore()
            .query_async(&mut self.redis)
            .await
    }

    /// Moves an entry to the dead-letter stream with the reason, then acknowledges it.
    pub async fn dead_letter(&mut self, entry: &Entry, reason: &str) -> redis::RedisResult<()> {
        let _: String = self
            .redis
            .xadd(
                self.keys.mail_dead(),
                "*",
                &[
                    (JOB_FIELD, entry.json.clone().unwrap_or_default()),
                    ("error", reason.to_string()),
                ],
            )
            .await?;
        self.ack(&entry.id).await
    }

    /// Whether a job with this id was already accepted by the mail server.
    pub async fn already_sent(&mut self, job_id: &str) -> redis::RedisResult<bool> {
        self.redis
            .exists(self.keys.other(&format!("mail:sent:{job_id}")))
            .await
    }

    pub async fn mark_sent(&mut self, job_id: &str) -> redis::RedisResult<()> {
        self.redis
            .set_ex(
                self.keys.other(&format!("mail:sent:{job_id}")),
                1,
                SENT_MARKER_SECS,
            )
            .await
    }
}
