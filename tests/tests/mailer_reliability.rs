//! The real `mailer` binary when things go wrong: several mailers at once, a mail server that
//! is away or defers, a mailer killed mid-batch, a mailer asked to stop, Redis going away.

mod mailer_support;

use std::time::Duration;

use mailer_support::{MailQueue, deliveries, edited, message_id};
use portico_e2e::private_redis::PrivateRedis;
use portico_e2e::smtp_sink::{Mode, SmtpSink};
use portico_shared::mail::MailJob;

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn two_mailers_on_one_stream_send_each_job_once() {
    let queue = MailQueue::new().await;
    let sink = SmtpSink::start().await;
    // A little latency per message, so both mailers have work to share.
    sink.set_accept_delay(Duration::from_millis(10));
    let a = queue.spawn(Some(&sink), &[("MAILER_CONCURRENCY", "4")]);
    let b = queue.spawn(Some(&sink), &[("MAILER_CONCURRENCY", "4")]);
    let jobs: Vec<_> = (0..200)
        .map(|i| queue.task_job(&format!("Task {i}")))
        .collect();
    queue.enqueue_all(&jobs).await;
    sink.wait_for(200, WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let counts = deliveries(&sink);
    for job in &jobs {
        assert_eq!(counts.get(&message_id(job)), Some(&1), "{} once", job.id);
    }
    assert_eq!(sink.count(), 200, "nothing sent twice");
    let sent_by = |log: String| log.lines().filter(|l| l.contains(" sent ")).count();
    let (sent_a, sent_b) = (sent_by(a.log()), sent_by(b.log()));
    assert_eq!(sent_a + sent_b, 200);
    assert!(sent_a > 0 && sent_b > 0, "both worked: {sent_a} + {sent_b}");
    queue.finish().await;
}

#[tokio::test]
async fn mail_waits_while_the_server_refuses_connections_and_goes_out_when_it_is_back() {
    let queue = MailQueue::new().await;
    let sink = SmtpSink::start_refusing().await;
    let mailer = queue.spawn(
        Some(&sink),
        &[
            ("MAILER_MAX_ATTEMPTS", "1000"),
            ("MAILER_BACKOFF_MAX", "300ms"),
        ],
    );
    let jobs: Vec<_> = (0..5)
        .map(|i| queue.task_job(&format!("Task {i}")))
        .collect();
    queue.enqueue_all(&jobs).await;
    // Several rounds of refused connections.
    queue
        .wait_until(WAIT, "retries to pile up", || async {
            mailer.log().contains("cannot deliver")
        })
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let status = queue.status();
    assert_eq!(status["dead"], 0, "{status:?}");
    assert_eq!(
        status["queued"] + status["pending"] + status["retrying"],
        5,
        "{status:?}"
    );
    sink.accept_connections();
    sink.wait_for(5, WAIT).await;
    let counts = deliveries(&sink);
    assert!(jobs.iter().all(|j| counts.get(&message_id(j)) == Some(&1)));
    queue
        .wait_until(WAIT, "the recovery to be logged", || async {
            mailer.log().contains("accepts mail again")
        })
        .await;
    let log = mailer.log();
    assert_eq!(
        log.matches("cannot deliver").count(),
        1,
        "the outage is logged once: {log}"
    );
    assert!(log.contains("Connection refused"), "{log}");
    let status = queue.status();
    assert_eq!(
        (
            status["queued"],
            status["pending"],
            status["retrying"],
            status["dead"]
        ),
        (0, 0, 0, 0)
    );
    queue.finish().await;
}

#[tokio::test]
async fn a_4xx_is_retried_with_backoff_and_dead_lettered_with_the_last_error_when_attempts_run_out()
{
    let queue = MailQueue::new().await;
    let sink = SmtpSink::start().await;
    sink.set_mode(Mode::TempFail);
    let _mailer = queue.spawn(Some(&sink), &[("MAILER_MAX_ATTEMPTS", "3")]);
    let doomed = queue.task_job("Deferred forever");
    queue.enqueue(&doomed).await;
    queue
        .wait_until(WAIT, "the job to run out of attempts", || async {
            queue.dead().await.len() == 1
        })
        .await;
    let dead = queue.dead().await;
    assert_eq!(dead[0].2, "3", "{dead:?}");
    assert!(dead[0].1.contains("gave up after 3 attempts"), "{dead:?}");
    assert!(dead[0].1.contains("451"), "the last error: {dead:?}");

    // Deferred a few times, then accepted: delivered once.
    let later = queue.task_job("Deferred, then accepted");
    queue.enqueue(&later).await;
    queue
        .wait_until(WAIT, "a retry to be scheduled", || async {
            queue.status()["retrying"] == 1
        })
        .await;
    sink.set_mode(Mode::Accept);
    let messages = sink.wait_for(1, WAIT).await;
    assert_eq!(messages[0].message_id(), message_id(&later));
    assert_eq!(queue.dead().await.len(), 1);
    queue.finish().await;
}

/// A deferred job waits in the retry set with its JSON as it was, so it still verifies when
/// it is put back and goes out once the server accepts; a forged job someone slips into the
/// retry set is put back too, and dead-lettered without being sent.
#[tokio::test]
async fn a_retried_job_still_verifies_and_a_forged_retry_is_refused() {
    let queue = MailQueue::new().await;
    let sink = SmtpSink::start().await;
    sink.set_mode(Mode::TempFail);
    let mailer = queue.spawn(Some(&sink), &[("MAILER_MAX_ATTEMPTS", "50")]);
    let job = queue.task_job("Deferred, then accepted");
    queue.enqueue(&job).await;
    let retry = queue.redis_keys().mail_retry();
    let mut redis = queue.redis.clone();
    let waiting = {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let members: Vec<String> = redis::cmd("ZRANGE")
                .arg(&retry)
                .arg(0)
                .arg(-1)
                .query_async(&mut redis)
                .await
                .unwrap();
            if let Some(member) = members.into_iter().next() {
                break member;
            }
            assert!(tokio::time::Instant::now() < deadline, "no retry scheduled");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let waiting: serde_json::Value = serde_json::from_str(&waiting).unwrap();
    let json = waiting["job"].as_str().unwrap().to_string();
    assert_eq!(json, queue.tagged(&job).to_json(), "kept as it was");
    let kept = MailJob::from_json(&json).unwrap();
    assert_eq!(kept.verify(&queue.keys, &queue.prefix), Ok(()));

    let forged = edited(&json, |v| v["to"]["email"] = "eve@attacker.test".into());
    let member = serde_json::json!({"job": forged, "attempts": "1", "last_error": "451"});
    let _: () = redis::cmd("ZADD")
        .arg(&retry)
        .arg(0)
        .arg(member.to_string())
        .query_async(&mut redis)
        .await
        .unwrap();
    sink.set_mode(Mode::Accept);
    queue
        .wait_until(WAIT, "the genuine job to be delivered", || async {
            deliveries(&sink).contains_key(&message_id(&job))
        })
        .await;
    queue
        .wait_until(WAIT, "the forged retry to be dead-lettered", || async {
            let dead = queue.dead().await;
            dead.len() == 1 && dead[0].0 == forged && dead[0].1.starts_with("unauthenticated")
        })
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.count(), 1, "the forged retry was not sent");
    assert!(
        sink.messages()
            .iter()
            .all(|m| !m.rcpt_to.contains("attacker"))
    );
    let log = mailer.log();
    let sent: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(" sent") && l.contains(&job.id))
        .collect();
    assert_eq!(sent.len(), 1, "{log}");
    assert!(
        !sent[0].contains("attempt=1 "),
        "sent after a retry: {}",
        sent[0]
    );
    queue.finish().await;
}

#[tokio::test]
async fn a_mailer_killed_mid_batch_loses_nothing_and_resends_at_most_its_in_flight_jobs() {
    const JOBS: usize = 400;
    const IN_FLIGHT: usize = 8;
    let queue = MailQueue::new().await;
    let sink = SmtpSink::start().await;
    // The server records each message, then takes a moment to say so: a kill in that moment
    // leaves messages the server has but the mailer never saw accepted.
    sink.set_accept_delay(Duration::from_millis(20));
    let jobs: Vec<_> = (0..JOBS)
        .map(|i| queue.task_job(&format!("Task {i}")))
        .collect();
    queue.enqueue_all(&jobs).await;
    let concurrency = IN_FLIGHT.to_string();
    let mut first = queue.spawn(Some(&sink), &[("MAILER_CONCURRENCY", &concurrency)]);
    sink.wait_for(JOBS / 3, WAIT).await;
    first.kill();
    let before_restart = sink.count();
    assert!(before_restart < JOBS, "killed mid-batch");

    // A new mailer (a new consumer name) takes over the dead one's pending jobs once they
    // have been idle for MAILER_CLAIM_IDLE (2 s here).
    let second = queue.spawn(Some(&sink), &[("MAILER_CONCURRENCY", &concurrency)]);
    queue
        .wait_until(Duration::from_secs(60), "every job delivered", || async {
            let counts = deliveries(&sink);
            jobs.iter().all(|j| counts.contains_key(&message_id(j)))
        })
        .await;
    queue
        .wait_until(WAIT, "the queue to empty", || async {
            let s = queue.status();
            s["queued"] + s["pending"] + s["retrying"] + s["dead"] == 0
        })
        .await;
    let duplicates = sink.count() - JOBS;
    println!(
        "killed after {before_restart} of {JOBS} messages; duplicates after restart: {duplicates} (bound {IN_FLIGHT})"
    );
    assert!(duplicates <= IN_FLIGHT, "{duplicates} duplicates");
    assert!(
        second.log().contains("took over jobs left idle"),
        "{}",
        second.log()
    );
    queue.finish().await;
}

#[tokio::test]
async fn sigterm_with_jobs_in_flight_finishes_them_and_loses_none() {
    const JOBS: usize = 60;
    let queue = MailQueue::new().await;
    let sink = SmtpSink::start().await;
    sink.set_accept_delay(Duration::from_millis(300));
    let jobs: Vec<_> = (0..JOBS)
        .map(|i| queue.task_job(&format!("Task {i}")))
        .collect();
    queue.enqueue_all(&jobs).await;
    let mut mailer = queue.spawn(Some(&sink), &[("MAILER_CONCURRENCY", "8")]);
    sink.wait_for(10, WAIT).await;
    // Eight sends are now in flight (each waits 300 ms for the server's reply).
    let status = mailer.terminate(Duration::from_secs(10)).await;
    assert!(status.success(), "exit 0 after SIGTERM: {status:?}");
    let delivered = sink.count();
    let counts = deliveries(&sink);
    assert!(counts.values().all(|&n| n == 1), "nothing sent twice");
    let after = queue.status();
    assert_eq!(after["pending"], 0, "in-flight jobs finished: {after:?}");
    assert_eq!(after["retrying"] + after["dead"], 0, "{after:?}");
    assert_eq!(
        delivered as u64 + after["queued"],
        JOBS as u64,
        "every job is delivered or still queued: {after:?}"
    );
    assert!(delivered < JOBS, "stopped before the end");
    assert!(mailer.log().contains("mailer stopped"));

    // The rest go out with the next mailer, each once.
    sink.set_accept_delay(Duration::ZERO);
    let _next = queue.spawn(Some(&sink), &[]);
    sink.wait_for(JOBS, WAIT).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let counts = deliveries(&sink);
    assert_eq!(counts.len(), JOBS);
    assert!(counts.values().all(|&n| n == 1));
    queue.finish().await;
}

#[tokio::test]
async fn a_redis_outage_is_logged_once_and_the_mailer_recovers_by_itself() {
    let mut redis = PrivateRedis::start().await;
    let mut queue = MailQueue::new().await;
    queue.vars.insert("REDIS_URL".into(), redis.url());
    queue.redis = portico_shared::redis_conn::connect(&redis.url())
        .await
        .unwrap();
    let sink = SmtpSink::start().await;
    let mut mailer = queue.spawn(Some(&sink), &[]);
    let first = queue.task_job("Before the outage");
    queue.enqueue(&first).await;
    sink.wait_for(1, WAIT).await;

    redis.stop();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(mailer.is_running(), "the mailer waits for Redis");
    redis.resume().await;
    let second = queue.task_job("After the outage");
    queue
        .wait_until(WAIT, "Redis to take the job", || async {
            let mut conn = queue.redis.clone();
            redis::cmd("XADD")
                .arg(queue.redis_keys().mail_stream())
                .arg("*")
                .arg("job")
                .arg(queue.tagged(&second).to_json())
                .query_async::<String>(&mut conn)
                .await
                .is_ok()
        })
        .await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while sink.count() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not delivered after the outage: {}",
            mailer.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(sink.messages()[1].message_id(), message_id(&second));
    queue
        .wait_until(WAIT, "the recovery to be logged", || async {
            mailer.log().contains("Redis is reachable again")
        })
        .await;
    let log = mailer.log();
    assert_eq!(
        log.matches("Redis unavailable").count(),
        1,
        "logged once: {log}"
    );
    drop(redis);
}

/// The "sent" marker guards entries a mailer may have had before. Here a mailer ("ghost")
/// took an entry, its delivery's marker is in place, and it died before settling: the mailer
/// that takes the entry over settles it without sending it again. The fresh job beside it,
/// never delivered to anyone, goes out.
#[tokio::test]
async fn a_job_taken_over_after_it_was_sent_is_not_sent_again() {
    let queue = MailQueue::new().await;
    let sink = SmtpSink::start().await;
    let stream = queue.redis_keys().mail_stream();
    let mut redis = queue.redis.clone();
    let sent_before = queue.task_job("Sent before the crash");
    queue.enqueue(&sent_before).await;
    let _: () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(&stream)
        .arg("mailers")
        .arg("0")
        .arg("MKSTREAM")
        .query_async(&mut redis)
        .await
        .unwrap();
    // The ghost takes the entry and "sends" it, then dies before settling.
    let _: redis::Value = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg("mailers")
        .arg("ghost")
        .arg("COUNT")
        .arg(1)
        .arg("STREAMS")
        .arg(&stream)
        .arg(">")
        .query_async(&mut redis)
        .await
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg(queue.redis_keys().mail_sent(&sent_before.id))
        .arg(1)
        .query_async(&mut redis)
        .await
        .unwrap();
    let fresh = queue.task_job("New work");
    queue.enqueue(&fresh).await;

    let mailer = queue.spawn(Some(&sink), &[]);
    sink.wait_for(1, WAIT).await;
    queue
        .wait_until(WAIT, "the ghost's entry to be settled", || async {
            queue.status()["pending"] == 0 && queue.status()["queued"] == 0
        })
        .await;
    let counts = deliveries(&sink);
    assert_eq!(counts.get(&message_id(&fresh)), Some(&1));
    assert_eq!(
        counts.get(&message_id(&sent_before)),
        None,
        "not sent again"
    );
    assert_eq!(sink.count(), 1);
    assert!(
        mailer.log().contains("took over jobs left idle"),
        "{}",
        mailer.log()
    );
    queue.finish().await;
}
