//! What the mailer tests share: a [`MailQueue`] (its own Redis key prefix, signing keys and data
//! folder, so tests run in parallel) that enqueues jobs the way the gateway does (tagged), reads the
//! queue's state, and starts the real `mailer` binary against a real SMTP sink.

// Each test file uses a part of this module.
#![allow(dead_code)]
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::Duration;

use portico_e2e::binaries::mailer;
use portico_e2e::smtp_sink::{Received, SmtpSink};
use portico_e2e::{redis_url, unique};
use portico_shared::keys::Keyring;
use portico_shared::mail::{FirmBrand, LinkSecrets, MailJob, Recipient, TaggedJob, Template};
use portico_shared::redis_conn::RedisKeys;
use serde_json::{Value, json};

pub const MAIL_FROM: &str = "Portico <no-reply@portal.test>";

pub struct MailQueue {
    pub prefix: String,
    pub keys: Keyring,
    pub vars: HashMap<String, String>,
    pub data_dir: PathBuf,
    pub redis: portico_shared::redis_conn::RedisConn,
}

/// A running `mailer`; killed when dropped. Its stderr goes to a file the test can read.
pub struct Mailer {
    pub child: Child,
    pub log: PathBuf,
}

impl Mailer {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM, then waits up to `timeout` for the exit status.
    pub async fn terminate(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "mailer did not exit within {timeout:?} of SIGTERM"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }
}

impl Drop for Mailer {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

pub fn firm() -> FirmBrand {
    FirmBrand {
        id: "fm_test".into(),
        slug: "acme".into(),
        name: "Acme & Sons Accountants".into(),
        brand_color: "#0b5fff".into(),
        portal_url: "http://acme.portal.test:8080".into(),
    }
}

pub fn ann() -> Recipient {
    Recipient {
        email: "ann@example.com".into(),
        name: "Ann Smith".into(),
    }
}

impl MailQueue {
    /// Fresh prefix and keys; fast retries and take-overs, so tests need not wait minutes.
    pub async fn new() -> MailQueue {
        let prefix = format!("{}:", unique("tm"));
        let keys = Keyring::generate("k1");
        let data_dir = std::env::temp_dir().join(unique("portico-mailer-"));
        let vars: HashMap<String, String> = [
            ("REDIS_URL", redis_url()),
            ("PORTICO_REDIS_PREFIX", prefix.clone()),
            ("PORTICO_SIGNING_KEYS", keys.to_config_string()),
            ("PORTICO_DATA_DIR", data_dir.display().to_string()),
            ("MAIL_FROM", MAIL_FROM.into()),
            ("MAILER_SMTP_TIMEOUT", "1s".into()),
            ("MAILER_CLAIM_IDLE", "2s".into()),
            ("MAILER_BACKOFF_BASE", "100ms".into()),
            ("MAILER_BACKOFF_MAX", "400ms".into()),
            ("RUST_LOG", "info".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let redis = portico_shared::redis_conn::connect(&redis_url())
            .await
            .expect("Redis on 127.0.0.1:6379 (PORTICO_TEST_REDIS_URL)");
        MailQueue {
            prefix,
            keys,
            vars,
            data_dir,
            redis,
        }
    }

    /// The names of the queue's keys under this prefix.
    pub fn redis_keys(&self) -> RedisKeys {
        RedisKeys::new(&self.prefix)
    }

    /// Starts `mailer` with this queue's settings, `SMTP_URL` of `sink` (or the outbox), and
    /// `extra` variables.
    pub fn spawn(&self, sink: Option<&SmtpSink>, extra: &[(&str, &str)]) -> Mailer {
        let mut vars = self.vars.clone();
        if let Some(sink) = sink {
            vars.insert("SMTP_URL".into(), sink.url());
        }
        for (k, v) in extra {
            vars.insert(k.to_string(), v.to_string());
        }
        std::fs::create_dir_all(&self.data_dir).unwrap();
        let log = self.data_dir.join(format!("{}.log", unique("mailer-")));
        let file = std::fs::File::create(&log).unwrap();
        let child = mailer(&vars)
            .stdout(Stdio::null())
            .stderr(Stdio::from(file))
            .spawn()
            .expect("mailer starts");
        Mailer { child, log }
    }

    /// Runs `mailer args…` to completion with this queue's settings.
    pub fn run(&self, args: &[&str]) -> std::process::Output {
        mailer(&self.vars).args(args).output().expect("mailer runs")
    }

    pub fn job(&self, template: Template, data: Value) -> MailJob {
        let mut job = MailJob::new(template, ann(), firm());
        job.data = data;
        job
    }

    /// A login or invitation job as the gateway makes it: link and code sealed inside.
    pub fn link_job(&self, template: Template) -> (MailJob, LinkSecrets) {
        let mut job = self.job(
            template,
            json!({"link_ttl_days": 7, "login_url": "http://acme.portal.test:8080/login"}),
        );
        job.not_after = Some(portico_shared::now_unix() + 7 * 86_400);
        let secrets = LinkSecrets {
            link: format!(
                "http://acme.portal.test:8080/auth/magic?token=k1.{}",
                unique("tok")
            ),
            code: "ABCD-EFGH".into(),
        };
        job.seal(&self.keys, &secrets);
        (job, secrets)
    }

    pub fn task_job(&self, title: &str) -> MailJob {
        self.job(
            Template::TaskShared,
            json!({
                "task_title": title,
                "task_url": "http://acme.portal.test:8080/tasks/tk_1",
                "due_date": "2026-12-31",
            }),
        )
    }

    /// `job` tagged for this queue's prefix with its keys, as the gateway finishes a job.
    /// (Tagging is deterministic: the same job gives the same JSON each time.)
    pub fn tagged(&self, job: &MailJob) -> TaggedJob {
        job.clone()
            .authenticate(&self.keys, &RedisKeys::new(&self.prefix))
    }

    /// Tags `job` and puts it on the stream.
    pub async fn enqueue(&self, job: &MailJob) {
        self.enqueue_raw(self.tagged(job).to_json()).await;
    }

    /// Many jobs in one round trip, each tagged.
    pub async fn enqueue_all(&self, jobs: &[MailJob]) {
        let mut pipe = redis::pipe();
        for job in jobs {
            pipe.add_command(self.tagged(job).enqueue_cmd()).ignore();
        }
        let () = pipe.query_async(&mut self.redis.clone()).await.unwrap();
    }

    /// Whatever text as a job's JSON, tagged or not.
    pub async fn enqueue_raw(&self, json: &str) {
        let _: String = redis::cmd("XADD")
            .arg(self.redis_keys().mail_stream())
            .arg("*")
            .arg("job")
            .arg(json)
            .query_async(&mut self.redis.clone())
            .await
            .unwrap();
    }

    /// `mailer status`, parsed.
    pub fn status(&self) -> HashMap<String, u64> {
        let output = self.run(&["status"]);
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_string(), v.trim().parse().unwrap()))
            .collect()
    }

    /// The dead-letter stream: (job JSON, error, attempts) of each entry.
    pub async fn dead(&self) -> Vec<(String, String, String)> {
        let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(self.redis_keys().mail_dead())
            .arg("-")
            .arg("+")
            .query_async(&mut self.redis.clone())
            .await
            .unwrap();
        reply
            .ids
            .iter()
            .map(|e| {
                (
                    e.get::<String>("job").unwrap_or_default(),
                    e.get::<String>("error").unwrap_or_default(),
                    e.get::<String>("attempts").unwrap_or_default(),
                )
            })
            .collect()
    }

    /// Waits until `check` holds, polling every 50 ms; panics with `what` after `timeout`.
    pub async fn wait_until<F, Fut>(&self, timeout: Duration, what: &str, check: F)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = tokio::time::Instant::now() + timeout;
        while !check().await {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Deletes every key under this prefix and the data folder.
    pub async fn finish(self) {
        let mut redis = self.redis.clone();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}*", self.prefix))
            .query_async(&mut redis)
            .await
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: redis::RedisResult<()> =
                redis::cmd("DEL").arg(&keys).query_async(&mut redis).await;
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// A job's JSON with one edit made to it, as someone who can write to Redis would make it.
pub fn edited(json: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut value: Value = serde_json::from_str(json).expect("job JSON");
    edit(&mut value);
    value.to_string()
}

/// How many times each Message-ID arrived.
pub fn deliveries(sink: &SmtpSink) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for message in sink.messages() {
        *counts.entry(message.message_id()).or_insert(0) += 1;
    }
    counts
}

pub fn message_id(job: &MailJob) -> String {
    format!("<{}@portal.test>", job.id)
}

/// The message the sink received for `job`; panics when there is none.
pub fn message_of<'a>(received: &'a [Received], job: &MailJob) -> &'a Received {
    received
        .iter()
        .find(|m| m.message_id() == message_id(job))
        .unwrap_or_else(|| panic!("no message for {}", job.id))
}
