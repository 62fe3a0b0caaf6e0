//! The real `mailer` binary against a real SMTP conversation: what each email looks like,
//! what becomes of jobs that cannot be sent, the outbox, and bad configuration.

mod mailer_support;

use std::time::Duration;

use mail_parser::MessageParser;
use mailer_support::{MailQueue, deliveries, edited, message_id, message_of};
use portico_e2e::TestApp;
use portico_e2e::smtp_sink::{Mode, SmtpSink};
use portico_shared::keys::Keyring;
use portico_shared::mail::{MailJob, Template};
use portico_shared::redis_conn::RedisKeys;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(15);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn every_template_goes_out_multipart_with_the_headers_of_a_careful_transactional_mail() {
    let queue = MailQueue::new().await;
    let sink = SmtpSink::start().await;
    // An Ed25519 DKIM key: the base64 of a 32-byte seed.
    let key_file = queue.data_dir.join("dkim.key");
    std::fs::create_dir_all(&queue.data_dir).unwrap();
    std::fs::write(&key_file, "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=\n").unwrap();
    let metrics_port = free_port();
    let metrics_bind = format!("127.0.0.1:{metrics_port}");
    let _mailer = queue.spawn(
        Some(&sink),
        &[
            ("MAILER_DKIM_KEY_FILE", key_file.to_str().unwrap()),
            ("MAILER_DKIM_SELECTOR", "mail2026"),
            ("MAILER_METRICS_BIND", &metrics_bind),
        ],
    );

    let (login, login_secrets) = queue.link_job(Template::LoginLink);
    let (invitation, invitation_secrets) = queue.link_job(Template::Invitation);
    let task = queue.task_job("Upload <b>bank statements</b>");
    let signature = queue.job(
        Template::SignatureRequested,
        json!({"document_title": "Engagement letter 2026", "sign_url": "http://acme.portal.test:8080/sign/sg_1"}),
    );
    let reply = queue.job(
        Template::RequestReply,
        json!({
            "request_subject": "VAT question",
            // A line that starts with dots: SMTP dot-stuffing must bring them through.
            "reply_excerpt": "...and yes, send it by Friday & we'll file.",
            "request_url": "http://acme.portal.test:8080/requests/rq_1",
        }),
    );
    let (staff_login, staff_login_secrets) = queue.link_job(Template::StaffLoginLink);
    let (team_invitation, team_invitation_secrets) = queue.link_job(Template::TeamInvitation);
    let (email_change, email_change_secrets) = queue.link_job(Template::StaffEmailChange);
    let jobs = [
        &login,
        &invitation,
        &task,
        &signature,
        &reply,
        &staff_login,
        &team_invitation,
        &email_change,
    ];
    for job in jobs {
        queue.enqueue(job).await;
    }
    let received = sink.wait_for(8, WAIT).await;

    let parser = MessageParser::default();
    for job in jobs {
        let raw = message_of(&received, job);
        assert_eq!(raw.rcpt_to, "<ann@example.com>");
        assert_eq!(raw.mail_from, "<no-reply@portal.test>");
        let head = raw.raw.split("\r\n\r\n").next().unwrap();
        assert!(
            head.contains("Auto-Submitted: auto-generated"),
            "{}",
            raw.raw
        );
        assert!(head.contains("X-Auto-Response-Suppress: All"));
        assert!(head.contains("Content-Type: multipart/alternative"));
        assert!(raw.raw.contains("Content-Type: text/plain; charset=utf-8"));
        assert!(raw.raw.contains("Content-Type: text/html; charset=utf-8"));
        let dkim = raw.header("DKIM-Signature").expect("DKIM-signed");
        assert!(
            dkim.contains("a=ed25519-sha256") && dkim.contains("s=mail2026"),
            "{dkim}"
        );
        assert!(dkim.contains("d=portal.test"), "{dkim}");

        let mail = parser.parse(raw.raw.as_bytes()).expect("parses as email");
        assert!(mail.date().is_some(), "Date header");
        assert_eq!(
            mail.message_id(),
            Some(format!("{}@portal.test", job.id).as_str())
        );
        let from = mail.from().and_then(|f| f.first()).unwrap();
        assert_eq!(from.name(), Some("Acme & Sons Accountants"));
        assert_eq!(from.address(), Some("no-reply@portal.test"));
        let to = mail.to().and_then(|t| t.first()).unwrap();
        assert_eq!(to.name(), Some("Ann Smith"));
        let text = mail.body_text(0).unwrap().to_string();
        let html = mail.body_html(0).unwrap().to_string();
        assert!(text.starts_with("Hello Ann Smith,"), "{text}");
        assert!(html.contains("<!doctype html>"), "a real HTML part: {html}");
        assert!(html.contains("background:#0b5fff"), "brand colour");
        assert!(
            html.contains("Acme &amp; Sons Accountants"),
            "escaped firm name"
        );
        assert!(!html.contains("<img"), "no tracking pixels");
        let subject = mail.subject().unwrap().to_string();
        assert!(subject.contains("Acme & Sons Accountants"), "{subject}");

        match job.template {
            Template::LoginLink => {
                assert_eq!(subject, "Your sign-in link for Acme & Sons Accountants");
                assert!(text.contains(&login_secrets.link));
                assert!(text.contains("enter this code: ABCD-EFGH"), "{text}");
                assert!(
                    html.contains(&format!(
                        "href=\"{}\"",
                        login_secrets.link.replace('/', "&#x2f;")
                    )) || html.contains(&login_secrets.link)
                );
                assert!(html.contains("code: <strong"), "{html}");
                assert!(html.contains("ABCD-EFGH"));
                assert!(text.contains("lasts 7 days"));
            }
            Template::Invitation => {
                assert_eq!(subject, "Access your account at Acme & Sons Accountants");
                assert!(text.contains("Acme & Sons Accountants has opened a secure client portal"));
                assert!(
                    text.contains(&format!("Access your account: {}", invitation_secrets.link))
                );
                assert!(text.contains("enter this code: ABCD-EFGH"));
                assert!(text.contains("This invitation lasts 7 days"), "{text}");
                assert!(text.contains(
                    "ask for a new sign-in link at http://acme.portal.test:8080/login with this email address"
                ));
                assert!(html.contains("Access your account</a>"));
                assert!(html.contains("This invitation lasts 7 days"));
            }
            Template::TaskShared => {
                assert!(subject.contains("shared a task with you: Upload <b>bank statements</b>"));
                assert!(text.contains("Upload <b>bank statements</b> (due 31 Dec 2026)"));
                assert!(
                    html.contains("Upload &lt;b&gt;bank statements&lt;"),
                    "{html}"
                );
                assert!(!html.contains("<b>bank"), "autoescaped");
                assert!(text.contains("http://acme.portal.test:8080/tasks/tk_1"));
            }
            Template::SignatureRequested => {
                assert!(subject.contains("asks you to sign: Engagement letter 2026"));
                assert!(text.contains("http://acme.portal.test:8080/sign/sg_1"));
                assert!(html.contains("Read and sign</a>"));
            }
            Template::RequestReply => {
                assert!(subject.contains("replied: VAT question"));
                assert!(
                    text.contains("\n...and yes, send it by Friday & we'll file."),
                    "{text}"
                );
                assert!(
                    html.contains("...and yes, send it by Friday &amp; we&#x27;ll file."),
                    "{html}"
                );
                assert!(text.contains("http://acme.portal.test:8080/requests/rq_1"));
            }
            Template::StaffLoginLink => {
                assert_eq!(
                    subject,
                    "Your staff sign-in link for Acme & Sons Accountants"
                );
                assert!(text.contains(&staff_login_secrets.link));
                assert!(text.contains("enter this code: ABCD-EFGH"), "{text}");
                assert!(text.contains("lasts 7 days"), "{text}");
                assert!(html.contains("Sign in to the staff console</a>"), "{html}");
                assert!(html.contains("ABCD-EFGH"));
            }
            Template::TeamInvitation => {
                assert_eq!(subject, "Join the team of Acme & Sons Accountants");
                assert!(text.contains(&team_invitation_secrets.link));
                assert!(text.contains("enter this code: ABCD-EFGH"), "{text}");
                assert!(html.contains("Accept the invitation</a>"), "{html}");
            }
            Template::StaffEmailChange => {
                assert_eq!(
                    subject,
                    "Confirm your new sign-in address at Acme & Sons Accountants"
                );
                assert!(text.contains(&email_change_secrets.link));
                assert!(text.contains("enter this code: ABCD-EFGH"), "{text}");
                assert!(html.contains("Confirm this address</a>"), "{html}");
            }
        }
    }
    assert_eq!(deliveries(&sink).len(), 8, "each once");

    let status = queue.status();
    assert_eq!(status["queued"], 0, "{status:?}");
    assert_eq!(status["pending"], 0, "acknowledged: {status:?}");
    let metrics = reqwest::get(format!("http://{metrics_bind}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("mailer_sent_total{template=\"login_link\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("mailer_enqueue_to_accept_seconds_count 8"));
    assert!(metrics.contains("mailer_queue_depth "));
    queue.finish().await;
}

/// A `mailer` on the queue of `app`'s gateway, delivering to `sink`; killed when dropped.
fn mailer_for(app: &TestApp, sink: &SmtpSink) -> portico_e2e::binaries::ChildGuard {
    let mut vars = app.vars.clone();
    vars.insert("SMTP_URL".into(), sink.url());
    vars.insert("MAIL_FROM".into(), mailer_support::MAIL_FROM.into());
    portico_e2e::binaries::ChildGuard(
        portico_e2e::binaries::mailer(&vars)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    )
}

#[tokio::test]
async fn gateway_sign_in_and_invitation_jobs_are_delivered_by_the_mailer() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let ann = app.add_contact(&firm, "ann@example.com", true).await;

    // Both links are read off the stream before a mailer runs: it deletes what it delivered.
    app.browser()
        .request_link(&app, &firm.firm.slug, "ann@example.com")
        .await;
    let login = app.last_link("ann@example.com").await.unwrap();
    app.api(
        &firm.api_key,
        reqwest::Method::POST,
        &format!("/api/v1/contacts/{}/invitation", ann.id),
        None,
    )
    .await;
    let invitation = app.last_link("ann@example.com").await.unwrap();
    assert_ne!(login.job.id, invitation.job.id);

    let sink = SmtpSink::start().await;
    let _mailer = mailer_for(&app, &sink);
    let messages = sink.wait_for(2, WAIT).await;
    let parse = |job| {
        let raw = message_of(&messages, job);
        MessageParser::default().parse(raw.raw.as_bytes()).unwrap()
    };

    let mail = parse(&login.job);
    assert_eq!(
        mail.from().and_then(|f| f.first()).and_then(|a| a.name()),
        Some(firm.firm.name.as_str())
    );
    let text = mail.body_text(0).unwrap();
    assert!(text.contains(&login.link));
    assert!(text.contains(&format!("enter this code: {}", login.code)));

    let mail = parse(&invitation.job);
    assert_eq!(
        mail.subject(),
        Some(format!("Access your account at {}", firm.firm.name).as_str())
    );
    let text = mail.body_text(0).unwrap();
    assert!(text.contains(&invitation.link));
    assert!(text.contains(&invitation.code));
    assert!(text.contains("lasts 7 days"));
    app.stop().await;
}

#[tokio::test]
async fn a_550_is_dead_lettered_at_once_with_the_reason_and_requeue_dead_delivers_it() {
    let queue = MailQueue::new().await;
    let sink = SmtpSink::start().await;
    sink.set_mode(Mode::Reject);
    let mailer = queue.spawn(Some(&sink), &[("MAILER_MAX_ATTEMPTS", "10")]);
    let (job, _) = queue.link_job(Template::LoginLink);
    queue.enqueue(&job).await;
    queue
        .wait_until(WAIT, "the 550 to be dead-lettered", || async {
            queue.dead().await.len() == 1
        })
        .await;
    let dead = queue.dead().await;
    assert!(dead[0].1.contains("550"), "{dead:?}");
    assert!(dead[0].1.contains("no such mailbox here"), "{dead:?}");
    assert_eq!(dead[0].2, "1", "no retries for a permanent failure");
    assert_eq!(
        dead[0].0,
        queue.tagged(&job).to_json(),
        "the job is kept as it was"
    );
    assert_eq!(sink.count(), 0);
    let status = queue.status();
    assert_eq!(
        (
            status["queued"],
            status["pending"],
            status["retrying"],
            status["dead"]
        ),
        (0, 0, 0, 1)
    );
    assert!(
        !mailer.log().contains("ann@example.com"),
        "addresses are masked in logs"
    );

    sink.set_mode(Mode::Accept);
    let output = queue.run(&["requeue-dead"]);
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "requeued 1 dead-lettered job(s)"
    );
    let messages = sink.wait_for(1, WAIT).await;
    assert_eq!(
        messages[0].message_id(),
        message_id(&job),
        "same job, same id"
    );
    queue
        .wait_until(WAIT, "the queue to empty", || async {
            let s = queue.status();
            s["dead"] == 0 && s["queued"] == 0 && s["pending"] == 0
        })
        .await;
    queue.finish().await;
}

/// MAIL, RCPT and DATA go in one write where the server offers PIPELINING, and one at a time
/// where it does not; the messages are the same either way.
#[tokio::test]
async fn commands_are_pipelined_only_where_the_server_offers_it() {
    for pipelining in [true, false] {
        let queue = MailQueue::new().await;
        let sink = if pipelining {
            SmtpSink::start().await
        } else {
            SmtpSink::without_pipelining().await
        };
        let _mailer = queue.spawn(Some(&sink), &[]);
        let jobs: Vec<_> = (0..3)
            .map(|_| queue.link_job(Template::LoginLink))
            .collect();
        for (job, _) in &jobs {
            queue.enqueue(job).await;
        }
        let messages = sink.wait_for(3, WAIT).await;
        for (job, secrets) in &jobs {
            let message = message_of(&messages, job);
            assert_eq!(message.rcpt_to, "<ann@example.com>");
            assert!(
                message.raw.contains(&secrets.code),
                "pipelining={pipelining}"
            );
        }
        let ahead = sink.commands_sent_ahead();
        if pipelining {
            assert!(ahead >= 3, "MAIL was sent with RCPT and DATA: {ahead}");
        } else {
            assert_eq!(ahead, 0, "no command before the previous reply");
        }
        queue.finish().await;
    }
}

#[tokio::test]
async fn bad_jobs_are_dead_lettered_with_the_reason_and_the_worker_keeps_going() {
    let queue = MailQueue::new().await;
    let sink = SmtpSink::start().await;
    let mut mailer = queue.spawn(Some(&sink), &[]);

    queue.enqueue_raw("{not json").await;
    let no_title = queue.job(
        Template::TaskShared,
        json!({"task_url": "http://acme.portal.test:8080/tasks/t"}),
    );
    queue.enqueue(&no_title).await;
    let script_link = queue.job(
        Template::SignatureRequested,
        json!({"document_title": "x", "sign_url": "javascript:alert(1)"}),
    );
    queue.enqueue(&script_link).await;
    let (mut other_key, _) = queue.link_job(Template::LoginLink);
    other_key.seal(
        &portico_shared::keys::Keyring::generate("zz"),
        &portico_shared::mail::LinkSecrets {
            link: "http://x.test/auth/magic?token=t".into(),
            code: "ABCD-EFGH".into(),
        },
    );
    queue.enqueue(&other_key).await;
    let mut traversal = queue.task_job("Sneaky");
    traversal.id = "../../etc/passwd".into();
    queue.enqueue(&traversal).await;
    let mut bad_address = queue.task_job("Nobody");
    bad_address.to.email = "not an address".into();
    queue.enqueue(&bad_address).await;
    let good = queue.task_job("Still delivered");
    queue.enqueue(&good).await;

    let messages = sink.wait_for(1, WAIT).await;
    queue
        .wait_until(WAIT, "six dead letters", || async {
            queue.dead().await.len() == 6
        })
        .await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].message_id(), message_id(&good));
    let reasons: Vec<String> = queue.dead().await.into_iter().map(|d| d.1).collect();
    for expected in [
        "unreadable job",
        "data.task_title is missing",
        "data.sign_url is missing or not an http(s) URL",
        "sealed link: sealed with key zz",
        "job id must be",
        "recipient address does not parse",
    ] {
        assert!(
            reasons.iter().any(|r| r.contains(expected)),
            "{expected:?} in {reasons:?}"
        );
    }
    assert!(mailer.is_running(), "the worker keeps going");
    let good2 = queue.task_job("After the junk");
    queue.enqueue(&good2).await;
    sink.wait_for(2, WAIT).await;
    assert_eq!(sink.count(), 2);
    queue.finish().await;
}

/// Someone who can write to Redis but has no signing key: a job with no tag, tagged jobs
/// edited afterwards, a job tagged for another prefix or by a key this installation does not
/// have, and one such job left pending by a mailer that "died" (taken over by ours). None is
/// sent; each is dead-lettered as unauthenticated and logged once; a genuine job beside them
/// goes out.
#[tokio::test]
async fn jobs_that_do_not_verify_are_dead_lettered_as_unauthenticated_and_never_sent() {
    let queue = MailQueue::new().await;
    let sink = SmtpSink::start().await;
    let mut redis = queue.redis.clone();
    let stream = queue.redis_keys().mail_stream();
    let tagged = |title: &str| {
        let job = queue.task_job(title);
        (job.id.clone(), queue.tagged(&job).to_json().to_string())
    };

    // Left pending at a consumer that is gone: the mailer takes it over after MAILER_CLAIM_IDLE.
    let (claimed_id, json) = tagged("Taken over");
    let claimed = edited(&json, |v| v["to"]["email"] = "eve@attacker.test".into());
    let _: () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(&stream)
        .arg("mailers")
        .arg("0")
        .arg("MKSTREAM")
        .query_async(&mut redis)
        .await
        .unwrap();
    queue.enqueue_raw(&claimed).await;
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

    let mut untagged_job = queue.task_job("No tag");
    untagged_job.to.email = "eve@attacker.test".into();
    let untagged = serde_json::to_string(&untagged_job).unwrap();
    assert!(!untagged.contains("\"tag\""));
    let (recipient_id, json) = tagged("Recipient edited");
    let recipient = edited(&json, |v| v["to"]["email"] = "eve@attacker.test".into());
    let (firm_id, json) = tagged("Firm edited");
    let firm = edited(&json, |v| v["firm"]["name"] = "Your Bank".into());
    let (data_id, json) = tagged("Data edited");
    let data = edited(&json, |v| {
        v["data"]["task_url"] = "https://attacker.test/phish".into()
    });
    let other_job = queue.task_job("Another prefix");
    let other_prefix = other_job
        .clone()
        .authenticate(&queue.keys, &RedisKeys::new("elsewhere:"))
        .to_json()
        .to_string();
    let stranger_job = queue.task_job("Another key");
    let stranger = stranger_job
        .clone()
        .authenticate(&Keyring::generate("k9"), &RedisKeys::new(&queue.prefix))
        .to_json()
        .to_string();
    for json in [
        &untagged,
        &recipient,
        &firm,
        &data,
        &other_prefix,
        &stranger,
    ] {
        queue.enqueue_raw(json).await;
    }
    let good = queue.task_job("Genuine");
    queue.enqueue(&good).await;

    let mut mailer = queue.spawn(Some(&sink), &[]);
    queue
        .wait_until(WAIT, "the genuine job to be delivered", || async {
            deliveries(&sink).contains_key(&message_id(&good))
        })
        .await;
    queue
        .wait_until(WAIT, "seven dead letters", || async {
            queue.dead().await.len() == 7
        })
        .await;
    let dead = queue.dead().await;
    let reason_of = |json: &str| {
        let entry = dead.iter().find(|d| d.0 == json);
        entry
            .unwrap_or_else(|| panic!("{json} kept as it was in {dead:?}"))
            .1
            .clone()
    };
    assert_eq!(reason_of(&untagged), "unauthenticated: the job has no tag");
    assert_eq!(
        reason_of(&stranger),
        "unauthenticated: tagged with key k9, which is not in the ring"
    );
    for json in [&claimed, &recipient, &firm, &data, &other_prefix] {
        assert_eq!(
            reason_of(json),
            "unauthenticated: the tag does not match the job (altered, or tagged for another prefix)"
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.count(), 1, "nothing but the genuine job was sent");
    assert!(
        sink.messages()
            .iter()
            .all(|m| !m.rcpt_to.contains("attacker"))
    );
    let status = queue.status();
    assert_eq!(
        (status["queued"], status["pending"], status["dead"]),
        (0, 0, 7)
    );
    assert!(mailer.is_running(), "the worker keeps going");

    let log = mailer.log();
    for id in [
        &claimed_id,
        &untagged_job.id,
        &recipient_id,
        &firm_id,
        &data_id,
        &other_job.id,
        &stranger_job.id,
    ] {
        let lines: Vec<&str> = log.lines().filter(|l| l.contains(id.as_str())).collect();
        assert_eq!(lines.len(), 1, "one line for {id}: {log}");
        assert!(lines[0].contains("unauthenticated"), "{}", lines[0]);
    }
    assert!(
        !log.contains("attacker.test"),
        "no address or URL of a job in the log"
    );
    queue.finish().await;
}

/// A genuine job refused by the server (550) and put back by `requeue-dead` still verifies
/// and goes out; a forged entry someone wrote into the dead-letter stream is put back too, and
/// dead-lettered again without being sent.
#[tokio::test]
async fn a_requeued_dead_letter_still_verifies_and_a_forged_one_is_dead_again() {
    let queue = MailQueue::new().await;
    let sink = SmtpSink::start().await;
    sink.set_mode(Mode::Reject);
    let _mailer = queue.spawn(Some(&sink), &[]);
    let (job, secrets) = queue.link_job(Template::LoginLink);
    queue.enqueue(&job).await;
    queue
        .wait_until(WAIT, "the 550 to be dead-lettered", || async {
            queue.dead().await.len() == 1
        })
        .await;
    let json = queue.dead().await[0].0.clone();
    let kept = MailJob::from_json(&json).unwrap();
    assert_eq!(kept.verify(&queue.keys, &queue.prefix), Ok(()));

    let forged = edited(&json, |v| v["to"]["email"] = "eve@attacker.test".into());
    let _: String = redis::cmd("XADD")
        .arg(queue.redis_keys().mail_dead())
        .arg("*")
        .arg("job")
        .arg(&forged)
        .arg("error")
        .arg("550 5.1.1 no such mailbox here")
        .arg("attempts")
        .arg("1")
        .arg("failed_at_ms")
        .arg("0")
        .query_async(&mut queue.redis.clone())
        .await
        .unwrap();
    sink.set_mode(Mode::Accept);
    let output = queue.run(&["requeue-dead"]);
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "requeued 2 dead-lettered job(s)"
    );
    queue
        .wait_until(WAIT, "the genuine job to be delivered", || async {
            deliveries(&sink).contains_key(&message_id(&job))
        })
        .await;
    assert!(
        message_of(&sink.messages(), &job)
            .raw
            .contains(&secrets.code)
    );
    queue
        .wait_until(WAIT, "the forged entry to be dead again", || async {
            let dead = queue.dead().await;
            dead.len() == 1 && dead[0].0 == forged && dead[0].1.starts_with("unauthenticated")
        })
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.count(), 1, "the forged entry was not sent");
    queue.finish().await;
}

#[tokio::test]
async fn a_login_job_whose_link_expired_is_dropped_not_sent() {
    let queue = MailQueue::new().await;
    let sink = SmtpSink::start().await;
    let mailer = queue.spawn(Some(&sink), &[]);
    let (mut expired, _) = queue.link_job(Template::LoginLink);
    expired.not_after = Some(portico_shared::now_unix() - 1);
    queue.enqueue(&expired).await;
    let (fresh, _) = queue.link_job(Template::LoginLink);
    queue.enqueue(&fresh).await;
    let messages = sink.wait_for(1, WAIT).await;
    assert_eq!(messages[0].message_id(), message_id(&fresh));
    queue
        .wait_until(WAIT, "the expired job to be settled", || async {
            mailer.log().contains("dropped")
        })
        .await;
    let status = queue.status();
    assert_eq!(
        (status["queued"], status["pending"], status["dead"]),
        (0, 0, 0)
    );
    assert_eq!(sink.count(), 1);
    queue.finish().await;
}

#[tokio::test]
async fn without_smtp_the_mail_lands_in_the_outbox_and_the_link_is_printed() {
    let queue = MailQueue::new().await;
    let mailer = queue.spawn(None, &[]);
    let (job, secrets) = queue.link_job(Template::Invitation);
    queue.enqueue(&job).await;
    let file = queue
        .data_dir
        .join("outbox")
        .join(format!("{}.eml", job.id));
    queue
        .wait_until(WAIT, "the .eml file", || async { file.exists() })
        .await;
    let eml = std::fs::read(&file).unwrap();
    let mail = MessageParser::default().parse(&eml[..]).unwrap();
    assert!(mail.body_text(0).unwrap().contains(&secrets.link));
    assert!(mail.body_html(0).unwrap().contains("ABCD-EFGH"));
    queue
        .wait_until(WAIT, "the link in the log", || async {
            mailer.log().contains(&secrets.link)
        })
        .await;
    let log = mailer.log();
    assert!(log.contains("code ABCD-EFGH"), "{log}");
    assert!(!log.contains("ann@example.com"), "address masked: {log}");
    queue.finish().await;
}

#[tokio::test]
async fn bad_configuration_is_one_clear_line_naming_the_variable_and_a_non_zero_exit() {
    let queue = MailQueue::new().await;
    let cases = [
        ("MAILER_CONCURRENCY", "lots"),
        ("MAILER_CONCURRENCY", "0"),
        ("MAILER_MAX_ATTEMPTS", "-3"),
        ("MAILER_MAX_AGE", "forever"),
        ("MAILER_CLAIM_IDLE", "1s"),
        ("MAILER_METRICS_BIND", "everywhere"),
        ("MAILER_DKIM_KEY_FILE", "/nonexistent/dkim.key"),
        ("SMTP_URL", "http://mail.example"),
        ("MAIL_FROM", "nobody"),
        ("REDIS_URL", "http://nope"),
    ];
    for (var, value) in cases {
        let mut vars = queue.vars.clone();
        vars.insert(var.into(), value.into());
        if var == "MAILER_DKIM_KEY_FILE" {
            vars.insert("MAILER_DKIM_SELECTOR".into(), "s1".into());
        }
        let output = portico_e2e::binaries::mailer(&vars)
            .output()
            .expect("mailer runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{var}={value} must fail");
        assert_eq!(stderr.lines().count(), 1, "{var}={value}: {stderr}");
        assert!(
            stderr.starts_with(&format!("mailer: {var}: ")),
            "{var}={value}: {stderr}"
        );
    }
    queue.finish().await;
}

#[tokio::test]
async fn a_client_who_chose_german_gets_every_email_in_german_with_german_dates() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let ann = app.add_contact(&firm, "anna@example.com", true).await;

    // Ann chooses German in her settings, as a client does.
    let browser = app.signed_in(&firm, "anna@example.com").await;
    let saved = browser
        .save_settings(&app, &slug, "Anna Schmidt", "de")
        .await;
    assert_eq!(saved.status(), reqwest::StatusCode::SEE_OTHER);
    let before = app.mail_jobs().await.len();

    // Every kind of email the gateway sends her, each made by the gateway itself.
    app.browser()
        .request_link(&app, &slug, "anna@example.com")
        .await;
    let key = firm.api_key.as_str();
    let (status, _) = app
        .api(
            key,
            reqwest::Method::POST,
            &format!("/api/v1/contacts/{}/invitation", ann.id),
            None,
        )
        .await;
    assert!(status.is_success(), "{status}");
    let (status, _) = app
        .api(
            key,
            reqwest::Method::POST,
            "/api/v1/tasks",
            Some(json!({
            "title": "Kontoauszüge hochladen",
            "due_date": "2026-03-05",
            "portal": true,
            "assignees": [ann.id],
            })),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED);
    firm.request_signature(
        &app,
        &ann.id,
        "Mandatsvereinbarung 2026",
        "Vereinbarung.pdf",
        &portico_e2e::sample_pdf("Vertrag"),
    )
    .await;
    let csrf = browser.csrf(&app.url(&slug, "/")).await;
    let asked = browser
        .post_form(
            &app.url(&slug, "/requests"),
            &[("csrf", csrf.as_str()), ("body", "Frage zur Umsatzsteuer")],
        )
        .await;
    let thread = asked.headers()["location"].to_str().unwrap().to_string();
    let conversation = thread.trim_start_matches("/requests/").to_string();
    let (status, _) = app
        .api(
            key,
            reqwest::Method::POST,
            &format!("/api/v1/conversations/{conversation}/messages"),
            Some(json!({"body": "Ja, bis Freitag bitte."})),
        )
        .await;
    assert!(status.is_success(), "{status}");

    let jobs: Vec<_> = app.mail_jobs().await.split_off(before);
    assert_eq!(jobs.len(), 5, "{jobs:?}");
    assert!(jobs.iter().all(|j| j.data["language"] == "de"), "{jobs:?}");

    let sink = SmtpSink::start().await;
    let _mailer = mailer_for(&app, &sink);
    // The sign-in email from before she chose German goes out too.
    let received = sink.wait_for(before + 5, WAIT).await;
    let firm_name = firm.firm.name.as_str();
    for job in &jobs {
        let raw = message_of(&received, job);
        let mail = MessageParser::default().parse(raw.raw.as_bytes()).unwrap();
        let subject = mail.subject().unwrap().to_string();
        let text = mail.body_text(0).unwrap().to_string();
        let html = mail.body_html(0).unwrap().to_string();
        assert!(text.starts_with("Guten Tag Anna Schmidt,"), "{text}");
        assert!(html.contains("<html lang=\"de\">"), "{html}");
        assert!(html.contains("Gesendet von"), "{html}");
        let (want_subject, want_text, want_html): (String, &[&str], &[&str]) = match job.template {
            Template::LoginLink => (
                format!("Ihr Anmeldelink für {firm_name}"),
                &[
                    "Hier ist Ihr Link zur Anmeldung",
                    "Ihr Code: ",
                    "gilt 7 Tage lang",
                ],
                &["Ihr Code: <strong", "weil jemand mit dieser Adresse"],
            ),
            Template::Invitation => (
                format!("Ihr Zugang zum Portal von {firm_name}"),
                &[
                    "hat ein sicheres Mandantenportal für Sie eingerichtet",
                    "Zu Ihrem Konto: http",
                    "Diese Einladung gilt 7 Tage lang",
                ],
                &["Zu Ihrem Konto</a>", "eingeladen hat"],
            ),
            Template::TaskShared => (
                format!("{firm_name} hat eine Aufgabe für Sie freigegeben: Kontoauszüge hochladen"),
                &[
                    "Kontoauszüge hochladen (fällig am 5. März 2026).",
                    "Öffnen Sie sie in Ihrem Portal: http",
                ],
                &[
                    "<strong>Kontoauszüge hochladen</strong> (fällig am 5. März 2026)",
                    "Aufgabe öffnen</a>",
                    "In den Einstellungen des Portals",
                ],
            ),
            Template::SignatureRequested => (
                format!("{firm_name} bittet um Ihre Unterschrift: Mandatsvereinbarung 2026"),
                &["bittet Sie, „Mandatsvereinbarung 2026“ zu unterschreiben."],
                &["Lesen und unterschreiben</a>"],
            ),
            Template::RequestReply => (
                format!("{firm_name} hat geantwortet: Frage zur Umsatzsteuer"),
                &[
                    "hat auf Ihre Anfrage „Frage zur Umsatzsteuer“ geantwortet:",
                    "Ja, bis Freitag bitte.",
                ],
                &["Lesen und antworten</a>"],
            ),
            Template::StaffLoginLink | Template::TeamInvitation | Template::StaffEmailChange => {
                unreachable!("no staff mail in this test")
            }
        };
        assert_eq!(subject, want_subject);
        for want in want_text {
            assert!(text.contains(want), "{want:?} in {text}");
        }
        for want in want_html {
            assert!(html.contains(want), "{want:?} in {html}");
        }
        for english in ["Hello", "portal's settings", "shared a task", "due "] {
            assert!(!text.contains(english), "{english:?} in {text}");
        }
    }
    app.stop().await;
}
