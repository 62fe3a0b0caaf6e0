//! The real `mailer` binary delivering jobs the gateway enqueued, over a real SMTP conversation
//! (or into the outbox), with dead-lettering and requeueing.

use std::process::Stdio;
use std::time::Duration;

use portico_e2e::TestApp;
use portico_e2e::binaries::{ChildGuard, mailer};
use portico_e2e::smtp_sink::{Mode, SmtpSink};
use reqwest::Method;

fn start_mailer(app: &TestApp, smtp: Option<&SmtpSink>) -> ChildGuard {
    let mut vars = app.vars.clone();
    if let Some(sink) = smtp {
        vars.insert("SMTP_URL".into(), sink.url());
    }
    vars.insert("MAIL_FROM".into(), "Portico <no-reply@portal.test>".into());
    ChildGuard(
        mailer(&vars)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mailer starts"),
    )
}

fn status(app: &TestApp) -> String {
    let output = mailer(&app.vars).arg("status").output().unwrap();
    String::from_utf8_lossy(&output.stdout).to_string()
}

/// The display name of a `From:` line, decoding an RFC 2047 `=?utf-8?b?…?=` word.
fn display_name(from: &str) -> String {
    let name = from.trim_start_matches("From: ");
    let name = name
        .split(" <")
        .next()
        .unwrap_or_default()
        .trim_matches('"');
    match name
        .strip_prefix("=?utf-8?b?")
        .and_then(|n| n.strip_suffix("?="))
    {
        Some(encoded) => {
            let url_safe = encoded.replace('+', "-").replace('/', "_").replace('=', "");
            String::from_utf8(portico_shared::secret::unb64(&url_safe).unwrap()).unwrap()
        }
        None => name.to_string(),
    }
}

/// Undoes quoted-printable soft line breaks and `=3D`, enough to read links in a test.
fn unfold(message: &str) -> String {
    message
        .replace("\r\n", "\n")
        .replace("=\n", "")
        .replace("=3D", "=")
}

#[tokio::test]
async fn login_and_invitation_emails_go_out_over_smtp_with_both_parts_and_proper_headers() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let ann = app.add_contact(&firm, "ann@example.com", true).await;
    let sink = SmtpSink::start().await;
    let _mailer = start_mailer(&app, Some(&sink));

    app.browser()
        .request_link(&app, &firm.firm.slug, "ann@example.com")
        .await;
    let job = app.last_link("ann@example.com").await.unwrap();
    let messages = sink.wait_for(1, 15).await;
    let login = unfold(&messages[0]);
    assert!(
        login.contains(&format!("Message-ID: <{}@portal.test>", job.job.id)),
        "{login}"
    );
    assert!(login.contains("Auto-Submitted: auto-generated"));
    assert!(login.contains("X-Auto-Response-Suppress: All"));
    assert!(login.contains("Date: "));
    let from = login.lines().find(|l| l.starts_with("From: ")).unwrap();
    assert!(from.ends_with("<no-reply@portal.test>"), "{from}");
    assert_eq!(
        display_name(from),
        firm.firm.name,
        "the firm's name is the display name"
    );
    assert!(login.contains("multipart/alternative"));
    assert!(login.contains("text/plain") && login.contains("text/html"));
    assert!(login.contains(&job.link), "the link is in the mail");
    assert!(login.contains(&format!("enter this code: {}", job.code)));

    app.api(
        &firm.api_key,
        Method::POST,
        &format!("/api/v1/contacts/{}/invitation", ann.id),
        None,
    )
    .await;
    let invitation = app.last_link("ann@example.com").await.unwrap();
    let messages = sink.wait_for(2, 15).await;
    let mail = unfold(&messages[1]);
    assert!(mail.contains("Subject: Access your account at"), "{mail}");
    assert!(mail.contains(&invitation.link));
    assert!(mail.contains(&invitation.code));
    assert!(mail.contains("lasts 7 days"));
    assert!(
        status(&app).contains("queued: 0"),
        "acknowledged and removed"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_550_dead_letters_at_once_bad_jobs_too_and_requeue_delivers_them() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    app.add_contact(&firm, "ann@example.com", true).await;
    let sink = SmtpSink::start().await;
    sink.set_mode(Mode::Reject);
    let mailer_process = start_mailer(&app, Some(&sink));

    // Junk on the stream is dead-lettered and the worker keeps going.
    let mut redis = app.redis.clone();
    let stream = format!("{}mail:jobs", app.config.redis_prefix);
    let _: String = redis::cmd("XADD")
        .arg(&stream)
        .arg("*")
        .arg("job")
        .arg("{not json")
        .query_async(&mut redis)
        .await
        .unwrap();
    app.browser()
        .request_link(&app, &firm.firm.slug, "ann@example.com")
        .await;
    let mut dead = 0;
    for _ in 0..100 {
        let s = status(&app);
        dead = s
            .lines()
            .find_map(|l| l.strip_prefix("dead: "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0);
        if dead == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(dead, 2, "the 550 and the junk are dead: {}", status(&app));
    let reasons: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg(format!("{}mail:dead", app.config.redis_prefix))
        .arg("-")
        .arg("+")
        .query_async(&mut redis)
        .await
        .unwrap();
    let errors: Vec<String> = reasons
        .ids
        .iter()
        .map(|e| e.get::<String>("error").unwrap())
        .collect();
    assert!(errors.iter().any(|e| e.contains("550")), "{errors:?}");
    assert!(
        errors.iter().any(|e| e.contains("unreadable job")),
        "{errors:?}"
    );
    assert!(sink.messages().is_empty());

    // The server accepts again; requeueing delivers the real job (the junk dies again).
    sink.set_mode(Mode::Accept);
    let output = mailer(&app.vars).arg("requeue-dead").output().unwrap();
    assert!(String::from_utf8_lossy(&output.stdout).contains("requeued 2"));
    let messages = sink.wait_for(1, 15).await;
    assert!(messages[0].contains("Your sign-in link"));
    drop(mailer_process);
    app.stop().await;
}

#[tokio::test]
async fn without_smtp_the_mail_lands_in_the_outbox() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    app.add_contact(&firm, "ann@example.com", true).await;
    let _mailer = start_mailer(&app, None);
    app.browser()
        .request_link(&app, &firm.firm.slug, "ann@example.com")
        .await;
    let job = app.last_link("ann@example.com").await.unwrap();
    let file = app
        .config
        .data_dir
        .join("outbox")
        .join(format!("{}.eml", job.job.id));
    for _ in 0..100 {
        if file.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let eml = unfold(&std::fs::read_to_string(&file).expect("an .eml in the outbox"));
    assert!(eml.contains(&job.link));
    app.stop().await;
}
