//! Turning a job into an email. `render` fills the job's three templates from
//! `templates/email/` (`{name}.subject.txt`, `{name}.txt`, `{name}.html`; compiled into the
//! binary, HTML autoescaped) in the recipient's language: the job's `data.language`, English
//! when it is missing or unknown. The words come from the same catalogs as the portal's
//! (`templates/i18n/`, `email.*` keys) through the same `t()` and `date` helpers
//! (`portico_shared::i18n`), so one template serves every language. `message` wraps them in
//! the headers a careful transactional mail carries and signs it with DKIM when a key is
//! configured.
//!
//! Anything wrong with a job (missing data, a secret that does not open, an address that does
//! not parse) is a [`JobError`]: the job is dead-lettered with that reason, never retried.

use lettre::Message;
use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm,
    DkimSigningKey,
};
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use minijinja::{Environment, UndefinedBehavior};
use portico_shared::config::ConfigError;
use portico_shared::i18n::{self, Catalogs, Lang};
use portico_shared::keys::Keyring;
use portico_shared::mail::{LinkSecrets, MailJob, Template};
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;

use crate::settings::DkimSettings;

/// Why a job cannot become an email. Permanent: retrying would fail the same way.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct JobError(pub String);

fn bad(message: impl Into<String>) -> JobError {
    JobError(message.into())
}

/// Shown when a firm's brand colour is not a plain hex colour (it goes into `style=`).
const DEFAULT_COLOR: &str = "#1f2937";

pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The sign-in link and code of a login or invitation job.
    pub secrets: Option<LinkSecrets>,
}

pub struct Composer {
    env: Environment<'static>,
    from: Mailbox,
    dkim: Option<DkimConfig>,
}

#[derive(Serialize)]
struct FirmContext<'a> {
    name: &'a str,
    brand_color: &'a str,
    portal_url: &'a str,
}

#[derive(Serialize)]
struct LinkContext<'a> {
    url: &'a str,
    code: &'a str,
    /// Whole days the link lasts.
    days: i64,
}

#[derive(Serialize)]
struct Context<'a> {
    /// The language the email is written in (`t()` and `date` read it).
    lang: Lang,
    firm: FirmContext<'a>,
    /// The recipient's name; empty for a greeting without one.
    greeting_name: &'a str,
    link: Option<LinkContext<'a>>,
    /// Where to ask for a new sign-in link.
    login_url: String,
    data: &'a Value,
    /// The rendered subject, for the HTML `<title>`.
    subject: &'a str,
}

impl Composer {
    pub fn new(mail_from: &str, dkim: Option<&DkimSettings>) -> Result<Composer, ConfigError> {
        let mut env = Environment::new();
        minijinja_embed::load_templates!(&mut env);
        // The catalogs are compiled in and their completeness is a unit test of
        // `portico_shared::i18n`: a broken one cannot reach a release.
        let catalogs = Catalogs::load().expect("the built-in catalogs are complete");
        i18n::install(&mut env, Arc::new(catalogs));
        // Printing a missing value is an error (the job is dead-lettered), not a blank.
        env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        let from: Mailbox = mail_from.parse().map_err(|e| ConfigError {
            var: "MAIL_FROM",
            message: format!("{e}, got {mail_from:?}"),
        })?;
        let dkim = match dkim {
            None => None,
            Some(settings) => Some(dkim_config(settings, &from)?),
        };
        Ok(Composer { env, from, dkim })
    }

    /// Checks that every template renders, so a broken build fails at start, not per job.
    pub fn self_check(&self) -> anyhow::Result<()> {
        for template in ALL_TEMPLATES {
            for part in ["subject.txt", "txt", "html"] {
                self.env
                    .get_template(&format!("{}.{part}", template.name()))
                    .map_err(|e| anyhow::anyhow!("email template: {e}"))?;
            }
        }
        Ok(())
    }

    /// Subject, text and HTML of a job.
    pub fn render(&self, job: &MailJob, keys: &Keyring) -> Result<Rendered, JobError> {
        check_data(job)?;
        let secrets: Option<LinkSecrets> = match job.template {
            Template::LoginLink
            | Template::Invitation
            | Template::StaffLoginLink
            | Template::TeamInvitation
            | Template::StaffEmailChange => {
                let secrets: LinkSecrets = job
                    .unseal(keys)
                    .map_err(|e| bad(format!("sealed link: {e}")))?;
                if !is_web_url(&secrets.link) {
                    return Err(bad("sealed link: not an http(s) URL"));
                }
                if secrets.code.trim().is_empty() {
                    return Err(bad("sealed link: empty code"));
                }
                Some(secrets)
            }
            _ => None,
        };
        let portal_url = job.firm.portal_url.trim_end_matches('/');
        let login_url = match job.data.get("login_url").and_then(Value::as_str) {
            Some(url) if is_web_url(url) => url.to_string(),
            _ => format!("{portal_url}/login"),
        };
        let link = secrets.as_ref().map(|s| LinkContext {
            url: &s.link,
            code: &s.code,
            days: link_days(job),
        });
        let greeting_name = job.to.name.trim();
        let lang = job
            .data
            .get("language")
            .and_then(Value::as_str)
            .and_then(Lang::parse)
            .unwrap_or_default();
        let firm = FirmContext {
            name: job.firm.name.trim(),
            brand_color: if is_hex_color(&job.firm.brand_color) {
                &job.firm.brand_color
            } else {
                DEFAULT_COLOR
            },
            portal_url,
        };
        let mut ctx = Context {
            lang,
            firm,
            greeting_name,
            link,
            login_url,
            data: &job.data,
            subject: "",
        };
        let name = job.template.name();
        let render = |part: &str, ctx: &Context<'_>| {
            self.env
                .get_template(&format!("{name}.{part}"))
                .and_then(|t| t.render(ctx))
                .map_err(|e| bad(format!("template {name}.{part}: {e}")))
        };
        let subject = one_line(&render("subject.txt", &ctx)?);
        let text = render("txt", &ctx)?;
        ctx.subject = &subject;
        let html = render("html", &ctx)?;
        drop(ctx);
        Ok(Rendered {
            subject,
            text,
            html,
            secrets,
        })
    }

    /// The message: multipart/alternative (text, then HTML), with a `Message-ID` made from
    /// the job id, the firm's name as the sender's display name, and the headers that keep
    /// auto-responders quiet.
    pub fn message(&self, job: &MailJob, rendered: &Rendered) -> Result<Message, JobError> {
        let from = Mailbox::new(Some(one_line(&job.firm.name)), self.from.email.clone());
        let address = job
            .to
            .email
            .trim()
            .parse()
            .map_err(|_| bad("recipient address does not parse"))?;
        let to_name = one_line(&job.to.name);
        let to = Mailbox::new(Some(to_name).filter(|n| !n.is_empty()), address);
        let domain = self.from.email.domain();
        let mut message = Message::builder()
            .from(from)
            .to(to)
            .subject(rendered.subject.clone())
            .message_id(Some(format!("<{}@{domain}>", job.id)))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                "auto-generated".into(),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("X-Auto-Response-Suppress"),
                "All".into(),
            ))
            .multipart(MultiPart::alternative_plain_html(
                rendered.text.clone(),
                rendered.html.clone(),
            ))
            .map_err(|e| bad(format!("building the message: {e}")))?;
        if let Some(dkim) = &self.dkim {
            message.sign(dkim);
        }
        Ok(message)
    }
}

const ALL_TEMPLATES: [Template; 8] = [
    Template::LoginLink,
    Template::Invitation,
    Template::TaskShared,
    Template::SignatureRequested,
    Template::RequestReply,
    Template::StaffLoginLink,
    Template::TeamInvitation,
    Template::StaffEmailChange,
];

/// Job ids become file names and `Message-ID`s: only a safe alphabet is accepted.
pub fn check_id(id: &str) -> Result<(), JobError> {
    if !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        Ok(())
    } else {
        Err(bad("job id must be 1 to 128 letters, digits, _ or -"))
    }
}

/// The data fields each notification needs (documented on [`Template`]); links must be
/// http(s) URLs, since they become `href`s.
fn check_data(job: &MailJob) -> Result<(), JobError> {
    let (texts, urls): (&[&str], &[&str]) = match job.template {
        Template::LoginLink
        | Template::Invitation
        | Template::StaffLoginLink
        | Template::TeamInvitation
        | Template::StaffEmailChange => (&[], &[]),
        Template::TaskShared => (&["task_title"], &["task_url"]),
        Template::SignatureRequested => (&["document_title"], &["sign_url"]),
        Template::RequestReply => (&["request_subject", "reply_excerpt"], &["request_url"]),
    };
    for field in texts {
        match job.data.get(*field).and_then(Value::as_str) {
            Some(v) if !v.trim().is_empty() => {}
            _ => return Err(bad(format!("data.{field} is missing or not text"))),
        }
    }
    for field in urls {
        match job.data.get(*field).and_then(Value::as_str) {
            Some(v) if is_web_url(v) => {}
            _ => {
                return Err(bad(format!(
                    "data.{field} is missing or not an http(s) URL"
                )));
            }
        }
    }
    if !is_web_url(&job.firm.portal_url) {
        return Err(bad("firm.portal_url is not an http(s) URL"));
    }
    Ok(())
}

/// Whole days a link lasts: `data.link_ttl_days` when the gateway says, else from the job's
/// expiry and enqueue time.
fn link_days(job: &MailJob) -> i64 {
    if let Some(days) = job.data.get("link_ttl_days").and_then(Value::as_i64) {
        return days;
    }
    match job.not_after {
        Some(not_after) => {
            let secs = not_after - job.enqueued_at_ms / 1000;
            ((secs + 86_399) / 86_400).max(1)
        }
        None => 7,
    }
}

fn is_web_url(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() > "http://".len()
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn is_hex_color(color: &str) -> bool {
    let Some(hex) = color.strip_prefix('#') else {
        return false;
    };
    matches!(hex.len(), 3 | 6) && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Headers are one line: control characters and runs of whitespace become one space.
fn one_line(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn dkim_config(settings: &DkimSettings, from: &Mailbox) -> Result<DkimConfig, ConfigError> {
    let key_error = |message: String| ConfigError {
        var: "MAILER_DKIM_KEY_FILE",
        message,
    };
    let text = std::fs::read_to_string(&settings.key_file)
        .map_err(|e| key_error(format!("cannot read {}: {e}", settings.key_file.display())))?;
    // An RSA key in PKCS#1 PEM, or an Ed25519 key as the base64 of its 32-byte seed.
    let (key, algorithm) = if text.contains("-----BEGIN RSA PRIVATE KEY-----") {
        (text.as_str(), DkimSigningAlgorithm::Rsa)
    } else {
        (text.trim(), DkimSigningAlgorithm::Ed25519)
    };
    let key = DkimSigningKey::new(key, algorithm).map_err(|_| {
        key_error(format!(
            "{} is neither an RSA key in PKCS#1 PEM (BEGIN RSA PRIVATE KEY) nor the base64 of an Ed25519 seed",
            settings.key_file.display()
        ))
    })?;
    let domain = settings
        .domain
        .clone()
        .unwrap_or_else(|| from.email.domain().to_ascii_lowercase());
    let headers = [
        "From",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "Auto-Submitted",
    ]
    .into_iter()
    .map(HeaderName::new_from_ascii_str)
    .collect();
    Ok(DkimConfig::new(
        settings.selector.clone(),
        domain,
        key,
        headers,
        DkimCanonicalization {
            header: DkimCanonicalizationType::Relaxed,
            body: DkimCanonicalizationType::Relaxed,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use portico_shared::mail::{FirmBrand, Recipient};
    use serde_json::json;

    fn job(template: Template, data: Value) -> MailJob {
        let mut job = MailJob::new(
            template,
            Recipient {
                email: "ann@example.com".into(),
                name: "Ann <Admin>".into(),
            },
            FirmBrand {
                id: "fm_1".into(),
                slug: "acme".into(),
                name: "Acme & Sons".into(),
                brand_color: "#0b5fff".into(),
                portal_url: "https://acme.portal.test".into(),
            },
        );
        job.data = data;
        job
    }

    #[test]
    fn html_is_escaped_text_is_not_and_missing_data_is_an_error() {
        let composer = Composer::new("Portico <no-reply@portal.test>", None).unwrap();
        composer.self_check().unwrap();
        let keys = Keyring::generate("k");
        let task = job(
            Template::TaskShared,
            json!({"task_title": "<b>Q3</b> VAT", "task_url": "https://acme.portal.test/tasks/t1"}),
        );
        let r = composer.render(&task, &keys).unwrap();
        assert!(
            r.html.contains("&lt;b&gt;Q3") && !r.html.contains("<b>Q3"),
            "{}",
            r.html
        );
        assert!(r.text.contains("<b>Q3</b> VAT"));
        assert!(r.html.contains("Acme &amp; Sons"));
        assert!(r.html.contains("#0b5fff"));
        assert!(r.subject.contains("Acme & Sons"));

        let missing = job(
            Template::TaskShared,
            json!({"task_url": "https://x.test/t"}),
        );
        let e = composer.render(&missing, &keys).err().unwrap();
        assert!(e.0.contains("task_title"), "{e}");
        let script = job(
            Template::SignatureRequested,
            json!({"document_title": "D", "sign_url": "javascript:alert(1)"}),
        );
        assert!(composer.render(&script, &keys).is_err());
    }

    #[test]
    fn login_link_carries_link_and_code_after_the_word_code() {
        let composer = Composer::new("Portico <no-reply@portal.test>", None).unwrap();
        let keys = Keyring::generate("k");
        let mut login = job(Template::LoginLink, json!({"link_ttl_days": 7}));
        login.seal(
            &keys,
            &LinkSecrets {
                link: "https://acme.portal.test/auth/magic?token=abc".into(),
                code: "ABCD-EFGH".into(),
            },
        );
        let r = composer.render(&login, &keys).unwrap();
        assert!(r.text.contains("code: ABCD-EFGH"), "{}", r.text);
        assert!(r.html.contains("code: <strong"), "{}", r.html);
        let message = composer.message(&login, &r).unwrap();
        let raw = String::from_utf8(message.formatted()).unwrap();
        assert!(raw.contains(&format!("Message-ID: <{}@portal.test>", login.id)));
    }

    #[test]
    fn every_template_renders_in_every_language_with_its_dates_written_out() {
        let composer = Composer::new("Portico <no-reply@portal.test>", None).unwrap();
        let keys = Keyring::generate("k");
        for lang in Lang::ALL {
            for template in ALL_TEMPLATES {
                let mut j = job(
                    template,
                    json!({
                        "language": lang.code(),
                        "task_title": "T", "task_url": "https://a.test/t", "due_date": "2026-03-05",
                        "document_title": "D", "sign_url": "https://a.test/s",
                        "request_subject": "S", "reply_excerpt": "R", "request_url": "https://a.test/r",
                    }),
                );
                j.seal(
                    &keys,
                    &LinkSecrets {
                        link: "https://a.test/auth/magic?token=x".into(),
                        code: "ABCD-EFGH".into(),
                    },
                );
                let r = composer
                    .render(&j, &keys)
                    .unwrap_or_else(|e| panic!("{} in {}: {e}", template.name(), lang.code()));
                assert!(r.html.contains(&format!("<html lang=\"{}\">", lang.code())));
                if template == Template::TaskShared {
                    let due = if lang == Lang::De {
                        "5. März 2026"
                    } else {
                        "5 Mar 2026"
                    };
                    assert!(r.text.contains(due), "{}", r.text);
                }
            }
        }
        let unknown = job(
            Template::SignatureRequested,
            json!({"language": "xx", "document_title": "D", "sign_url": "https://a.test/s"}),
        );
        let r = composer.render(&unknown, &keys).unwrap();
        assert!(r.text.starts_with("Hello Ann <Admin>,"), "{}", r.text);
    }
}
