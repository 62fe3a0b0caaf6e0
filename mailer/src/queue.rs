//! The Redis plumbing of the mail queue, all in one place.
//!
//! Every key here carries the hash tag `{mail}` (see `RedisKeys`), so on a Redis Cluster they
//! all live on one node and the scripts and `MULTI`s below stay atomic.
//!
//! - `{prefix}{mail}:jobs`: the stream the gateway appends jobs to, read through the consumer
//!   group `mailers`. An entry stays in the group's pending list (PEL) while a mailer sends it;
//!   it is acknowledged *and deleted* once settled, so the stream's length is the backlog.
//! - A job of a mailer that died stays pending; after [`Queue::claim_idle`] without news any
//!   mailer takes it over with `XAUTOCLAIM`.
//! - `{prefix}{mail}:retry`: a sorted set of jobs waiting for their next attempt, scored by the
//!   time it is due. Scheduling a retry moves the job there and acknowledges it in one
//!   `MULTI`; a Lua script moves due jobs back onto the stream atomically, so a crash at any
//!   point neither loses nor doubles a job.
//! - `{prefix}{mail}:dead`: a stream of jobs that failed for good, with the last error.
//! - `{prefix}{mail}:sent:{job id}`: written (with the acknowledgement, in one `MULTI`) once the
//!   mail server accepted a job, and checked before sending an entry that a mailer may have
//!   had before (taken over, our own after a restart, or put back by the mailer), so a job
//!   whose acknowledgement was lost is not sent again. A job the gateway put on the stream,
//!   read for the first time, cannot have been sent: it skips the check (one round trip less
//!   per mail).

use std::time::Duration;

use portico_shared::config::RedisTopology;
use portico_shared::mail::{CONSUMER_GROUP, JOB_FIELD};
use portico_shared::redis_conn::{RedisConn, RedisKeys};
use redis::AsyncCommands;
use redis::streams::{
    StreamAutoClaimOptions, StreamAutoClaimReply, StreamId, StreamReadOptions, StreamReadReply,
};
use serde::{Deserialize, Serialize};

/// Extra stream fields the mailer writes when it puts a job back for another attempt.
/// (The retry script also writes `last_error`, for whoever reads the stream.)
pub const ATTEMPTS_FIELD: &str = "attempts";
/// Fields of a dead-letter entry besides `job`.
pub const ERROR_FIELD: &str = "error";
pub const FAILED_AT_FIELD: &str = "failed_at_ms";

/// How long the "already sent" marker of a job lives: longer than any job can wait in the
/// queue (`MAILER_MAX_AGE` is one day by default).
const SENT_MARKER_SECS: u64 = 8 * 86_400;

/// One stream entry as read: its id, the job's JSON (if the entry has one) and how many
/// attempts it has had.
#[derive(Clone, Debug)]
pub struct Entry {
    pub id: String,
    pub json: Option<String>,
    /// Attempts already made (0 for a fresh job).
    pub attempts: u32,
    /// Put on the stream by the gateway (the mailer's own re-adds carry `attempts`) and
    /// delivered to a consumer for the first time: no mailer can have sent it yet.
    pub first_delivery: bool,
}

impl Entry {
    fn from_stream(e: StreamId, read_new: bool) -> Entry {
        Entry {
            first_delivery: read_new && !e.contains_key(ATTEMPTS_FIELD),
            json: e.get::<String>(JOB_FIELD),
            attempts: e
                .get::<String>(ATTEMPTS_FIELD)
                .and_then(|n| n.parse().ok())
                .unwrap_or(0),
            id: e.id,
        }
    }
}

/// A job waiting in the retry set (its member is this, as JSON).
#[derive(Serialize, Deserialize)]
struct Waiting {
    job: String,
    attempts: String,
    last_error: String,
}

/// The numbers `mailer status` prints and the metrics export.
#[derive(Clone, Copy, Debug, Default)]
pub struct QueueStatus {
    /// On the stream, not yet taken by a mailer.
    pub queued: u64,
    /// Taken by a mailer, not yet settled.
    pub pending: u64,
    /// Waiting in the retry set for their next attempt.
    pub retrying: u64,
    pub dead: u64,
}

#[derive(Clone)]
pub struct Queue {
    /// For everything but the blocking read (a blocked connection would hold up acks).
    redis: RedisConn,
    /// For `XREADGROUP … BLOCK` only: connections of its own, on every topology (on a cluster,
    /// its own connection to the `{mail}` node).
    reader: RedisConn,
    keys: RedisKeys,
    consumer: String,
    claim_idle: Duration,
}

const PROMOTE: &str = r#"
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  local ok, w = pcall(cjson.decode, member)
  if ok and type(w) == 'table' and type(w.job) == 'string' then
    redis.call('XADD', KEYS[2], '*', 'job', w.job, 'attempts', tostring(w.attempts), 'last_error', tostring(w.last_error))
  else
    redis.call('XADD', KEYS[3], '*', 'job', member, 'error', 'unreadable retry entry', 'failed_at_ms', ARGV[1])
  end
  redis.call('ZREM', KEYS[1], member)
end
return #due
"#;

/// Moves dead entries up to (and including) ARGV[1] back onto the stream, ARGV[2] at a time.
const REQUEUE: &str = r#"
local entries = redis.call('XRANGE', KEYS[1], '-', ARGV[1], 'COUNT', tonumber(ARGV[2]))
for _, e in ipairs(entries) do
  local fields = e[2]
  local job = ''
  for i = 1, #fields, 2 do
    if fields[i] == 'job' then job = fields[i + 1] end
  end
  -- attempts 0, but present: the entry is the mailer's, not the gateway's (see Entry).
  redis.call('XADD', KEYS[2], '*', 'job', job, 'attempts', '0')
  redis.call('XDEL', KEYS[1], e[1])
end
return #entries
"#;

impl Queue {
    pub async fn connect(
        topology: &RedisTopology,
        keys: RedisKeys,
        consumer: String,
        claim_idle: Duration,
    ) -> redis::RedisResult<Queue> {
        let redis = RedisConn::connect(topology).await?;
        let reader = RedisConn::connect(topology).await?;
        Ok(Queue {
            redis,
            reader,
            keys,
            consumer,
            claim_idle,
        })
    }

    pub fn consumer(&self) -> &str {
        &self.consumer
    }

    /// The installation's Redis prefix, which every job's tag covers.
    pub fn prefix(&self) -> &str {
        self.keys.prefix()
    }

    fn retry_key(&self) -> String {
        self.keys.mail_retry()
    }

    fn sent_key(&self, job_id: &str) -> String {
        self.keys.mail_sent(job_id)
    }

    /// Creates the consumer group (and the stream), from the start, unless it exists; first
    /// moves over what an older version left under the untagged names.
    pub async fn ensure_group(&self) -> redis::RedisResult<()> {
        let adopted = self.adopt_untagged().await?;
        if adopted > 0 {
            tracing::info!(
                count = adopted,
                "moved jobs from the untagged queue keys of an older version"
            );
        }
        let created: redis::RedisResult<()> = self
            .redis
            .clone()
            .xgroup_create_mkstream(self.keys.mail_stream(), CONSUMER_GROUP, "0")
            .await;
        match created {
            Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
            other => other,
        }
    }

    /// Before the keys were tagged `{mail}` (for Redis Cluster), the queue lived at
    /// `<prefix>mail:jobs`, `mail:retry` and `mail:dead`. Moves whatever is left there onto the
    /// tagged keys, entry by entry (each command on one key, so this works on a cluster too,
    /// where the old keys cannot exist). Moved stream entries carry `attempts`, so they count
    /// as entries a mailer may have had: the "sent" check runs before they are sent. A crash
    /// mid-move can leave an entry in both places; the next start moves it again, and it may
    /// then be sent twice. Returns how many were moved.
    pub async fn adopt_untagged(&self) -> redis::RedisResult<usize> {
        let mut redis = self.redis.clone();
        let mut moved = 0;
        for (old, new) in [
            (self.keys.other("mail:jobs"), self.keys.mail_stream()),
            (self.keys.other("mail:dead"), self.keys.mail_dead()),
        ] {
            loop {
                let batch: redis::streams::StreamRangeReply =
                    redis.xrange_count(&old, "-", "+", 100).await?;
                if batch.ids.is_empty() {
                    break;
                }
                for entry in batch.ids {
                    let mut fields: Vec<(String, String)> = entry
                        .map
                        .iter()
                        .filter_map(|(k, v)| {
                            redis::from_redis_value_ref::<String>(v)
                                .ok()
                                .map(|v| (k.clone(), v))
                        })
                        .collect();
                    if new == self.keys.mail_stream()
                        && !fields.iter().any(|(k, _)| k == ATTEMPTS_FIELD)
                    {
                        fields.push((ATTEMPTS_FIELD.to_string(), "0".to_string()));
                    }
                    if !fields.is_empty() {
                        let _: String = redis.xadd(&new, "*", &fields).await?;
                    }
                    let _: i64 = redis.xdel(&old, &[&entry.id]).await?;
                    moved += 1;
                }
            }
        }
        let old_retry = self.keys.other("mail:retry");
        loop {
            let waiting: Vec<(String, f64)> = redis.zrange_withscores(&old_retry, 0, 99).await?;
            if waiting.is_empty() {
                break;
            }
            for (member, due) in waiting {
                let _: i64 = redis.zadd(self.retry_key(), &member, due).await?;
                let _: i64 = redis.zrem(&old_retry, &member).await?;
                moved += 1;
            }
        }
        if moved > 0 {
            // The old stream's consumer group goes with it.
            for old in [self.keys.other("mail:jobs"), self.keys.other("mail:dead")] {
                let _: i64 = redis.del(old).await?;
            }
        }
        Ok(moved)
    }

    /// This consumer's own unacknowledged entries (after a restart under the same name).
    pub async fn own_pending(&self, count: usize) -> redis::RedisResult<Vec<Entry>> {
        let options = StreamReadOptions::default()
            .group(CONSUMER_GROUP, &self.consumer)
            .count(count);
        let reply: Option<StreamReadReply> = self
            .redis
            .clone()
            .xread_options(&[self.keys.mail_stream()], &["0"], &options)
            .await?;
        Ok(reply.map(|r| entries(r, false)).unwrap_or_default())
    }

    /// Entries left unacknowledged for longer than `claim_idle` by any consumer (one that
    /// died, or this one after losing Redis mid-job), now ours.
    pub async fn claim_abandoned(&self, count: usize) -> redis::RedisResult<Vec<Entry>> {
        let reply: StreamAutoClaimReply = self
            .redis
            .clone()
            .xautoclaim_options(
                self.keys.mail_stream(),
                CONSUMER_GROUP,
                &self.consumer,
                self.claim_idle.as_millis() as u64,
                "0-0",
                StreamAutoClaimOptions::default().count(count),
            )
            .await?;
        Ok(reply
            .claimed
            .into_iter()
            .map(|e| Entry::from_stream(e, false))
            .collect())
    }

    /// New entries, waiting up to `block` for some (keep it under the connection's 2 s
    /// response timeout).
    pub async fn read_new(&self, count: usize, block: Duration) -> redis::RedisResult<Vec<Entry>> {
        let options = StreamReadOptions::default()
            .group(CONSUMER_GROUP, &self.consumer)
            .count(count)
            .block(block.as_millis() as usize);
        let reply: Option<StreamReadReply> = self
            .reader
            .clone()
            .xread_options(&[self.keys.mail_stream()], &[">"], &options)
            .await?;
        Ok(reply.map(|r| entries(r, true)).unwrap_or_default())
    }

    /// Whether the mail server already accepted this job.
    pub async fn already_sent(&self, job_id: &str) -> redis::RedisResult<bool> {
        self.redis.clone().exists(self.sent_key(job_id)).await
    }

    /// The mail server accepted the job: remember that, and settle the entry, atomically.
    pub async fn accepted(&self, entry: &Entry, job_id: &str) -> redis::RedisResult<()> {
        let stream = self.keys.mail_stream();
        redis::pipe()
            .atomic()
            .set_ex(self.sent_key(job_id), 1, SENT_MARKER_SECS)
            .ignore()
            .xack(&stream, CONSUMER_GROUP, &[&entry.id])
            .ignore()
            .xdel(&stream, &[&entry.id])
            .ignore()
            .query_async(&mut self.redis.clone())
            .await
    }

    /// Settles an entry that needs nothing more (dropped, or a duplicate).
    pub async fn ack(&self, entry: &Entry) -> redis::RedisResult<()> {
        let stream = self.keys.mail_stream();
        redis::pipe()
            .atomic()
            .xack(&stream, CONSUMER_GROUP, &[&entry.id])
            .ignore()
            .xdel(&stream, &[&entry.id])
            .ignore()
            .query_async(&mut self.redis.clone())
            .await
    }

    /// Moves the job to the retry set, due at `due_ms`, after `attempts` attempts.
    pub async fn retry_later(
        &self,
        entry: &Entry,
        attempts: u32,
        error: &str,
        due_ms: i64,
    ) -> redis::RedisResult<()> {
        let member = serde_json::to_string(&Waiting {
            job: entry.json.clone().unwrap_or_default(),
            attempts: attempts.to_string(),
            last_error: error.to_string(),
        })
        .expect("a retry entry serializes");
        let stream = self.keys.mail_stream();
        redis::pipe()
            .atomic()
            .zadd(self.retry_key(), member, due_ms)
            .ignore()
            .xack(&stream, CONSUMER_GROUP, &[&entry.id])
            .ignore()
            .xdel(&stream, &[&entry.id])
            .ignore()
            .query_async(&mut self.redis.clone())
            .await
    }

    /// Moves the entry to the dead-letter stream with the reason, and settles it.
    pub async fn dead_letter(
        &self,
        entry: &Entry,
        attempts: u32,
        reason: &str,
        now_ms: i64,
    ) -> redis::RedisResult<()> {
        let stream = self.keys.mail_stream();
        redis::pipe()
            .atomic()
            .xadd(
                self.keys.mail_dead(),
                "*",
                &[
                    (JOB_FIELD, entry.json.clone().unwrap_or_default()),
                    (ERROR_FIELD, reason.to_string()),
                    (ATTEMPTS_FIELD, attempts.to_string()),
                    (FAILED_AT_FIELD, now_ms.to_string()),
                ],
            )
            .ignore()
            .xack(&stream, CONSUMER_GROUP, &[&entry.id])
            .ignore()
            .xdel(&stream, &[&entry.id])
            .ignore()
            .query_async(&mut self.redis.clone())
            .await
    }

    /// Puts retries that are due back on the stream; returns how many.
    pub async fn promote_due(&self, now_ms: i64, limit: usize) -> redis::RedisResult<usize> {
        redis::Script::new(PROMOTE)
            .key(self.retry_key())
            .key(self.keys.mail_stream())
            .key(self.keys.mail_dead())
            .arg(now_ms)
            .arg(limit)
            .invoke_async(&mut self.redis.clone())
            .await
    }

    /// Puts every job dead at the time of the call back on the stream, as a fresh job.
    pub async fn requeue_dead(&self) -> redis::RedisResult<usize> {
        let mut redis = self.redis.clone();
        // Only what is dead now: a job that dies again meanwhile stays dead.
        let last: Vec<StreamId> = redis::cmd("XREVRANGE")
            .arg(self.keys.mail_dead())
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async::<redis::streams::StreamRangeReply>(&mut redis)
            .await?
            .ids;
        let Some(last) = last.into_iter().next() else {
            return Ok(0);
        };
        let script = redis::Script::new(REQUEUE);
        let mut moved = 0;
        loop {
            let n: usize = script
                .key(self.keys.mail_dead())
                .key(self.keys.mail_stream())
                .arg(&last.id)
                .arg(500)
                .invoke_async(&mut redis)
                .await?;
            moved += n;
            if n < 500 {
                return Ok(moved);
            }
        }
    }

    pub async fn status(&self) -> redis::RedisResult<QueueStatus> {
        let mut redis = self.redis.clone();
        let stream = self.keys.mail_stream();
        let (length, retrying, dead): (u64, u64, u64) = redis::pipe()
            .xlen(&stream)
            .zcard(self.retry_key())
            .xlen(self.keys.mail_dead())
            .query_async(&mut redis)
            .await?;
        let pending: redis::RedisResult<redis::streams::StreamPendingReply> =
            redis.xpending(&stream, CONSUMER_GROUP).await;
        let pending = match pending {
            Ok(reply) => reply.count() as u64,
            // No group yet: nothing was ever taken.
            Err(e) if e.code() == Some("NOGROUP") => 0,
            Err(e) => return Err(e),
        };
        Ok(QueueStatus {
            // Settled entries are deleted, so the stream holds the waiting and the taken ones.
            queued: length.saturating_sub(pending),
            pending,
            retrying,
            dead,
        })
    }

    /// Leaves the consumer group, if nothing is pending at this consumer (a clean stop), so
    /// the group does not collect the names of every mailer that ever ran.
    pub async fn leave_group(&self) -> redis::RedisResult<()> {
        if self.own_pending(1).await?.is_empty() {
            let _: i64 = self
                .redis
                .clone()
                .xgroup_delconsumer(self.keys.mail_stream(), CONSUMER_GROUP, &self.consumer)
                .await?;
        }
        Ok(())
    }
}

/// The entries of a read; `read_new` when they were read with `>` (never delivered before).
fn entries(reply: StreamReadReply, read_new: bool) -> Vec<Entry> {
    reply
        .keys
        .into_iter()
        .flat_map(|k| k.ids)
        .map(|e| Entry::from_stream(e, read_new))
        .collect()
}
