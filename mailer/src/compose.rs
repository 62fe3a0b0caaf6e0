//! Turning a job into an email: subject, plain text and HTML from `templates/email/`
//! (`{template}.subject.txt`, `{template}.txt`, `{template}.html`), and the headers a careful
//! transactional mail carries.

use lettre::Message;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use minijinja::{Environment, context};
use portico_shared::keys::Keyring;
use portico_shared::mail::{LinkSecrets, MailJob, Template};

pub struct Composer {
    env: Environment<'static>,
    from: Mailbox,
}

impl Composer {
    pub fn new(mail_from: &str) -> anyhow::Result<Composer> {
        let mut env = Environment::new();
        minijinja_embed::load_templates!(&mut env);
        let from: Mailbox = mail_from
            .parse()
            .map_err(|e| anyhow::anyhow!("MAIL_FROM: {e}, got {mail_from:?}"))?;
        Ok(Composer { env, from })
    }

    /// The email of a job, or why it cannot be made (a permanent failure: dead-letter it).
    pub fn compose(
        &self,
        job: &MailJob,
        keys: &Keyring,
    ) -> anyhow::Result<(Message, Option<LinkSecrets>)> {
        let secrets: Option<LinkSecrets> = match job.template {
            Template::LoginLink | Template::Invitation => Some(job.unseal(keys)?),
            _ => None,
        };
        let name = job.template.name();
        let ctx = context! {
            firm => &job.firm,
            to => &job.to,
            data => &job.data,
            secrets => &secrets,
        };
        let subject = self
            .env
            .get_template(&format!("{name}.subject.txt"))?
            .render(&ctx)?;
        let subject = subject.trim().to_string();
        let text = self
            .env
            .get_template(&format!("{name}.txt"))?
            .render(&ctx)?;
        let html = self
            .env
            .get_template(&format!("{name}.html"))?
            .render(context! { subject => &subject, ..ctx })?;
        // From: the configured address, with the firm's name as display name.
        let from = Mailbox::new(Some(job.firm.name.clone()), self.from.email.clone());
        let to = Mailbox::new(
            Some(job.to.name.clone()).filter(|n| !n.is_empty()),
            job.to.email.parse()?,
        );
        let domain = self.from.email.domain().to_string();
        let message = Message::builder()
            .from(from)
            .to(to)
            .subject(subject)
            .message_id(Some(format!("<{}@{domain}>", job.id)))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                "auto-generated".into(),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("X-Auto-Response-Suppress"),
                "All".into(),
            ))
            .multipart(MultiPart::alternative_plain_html(text, html))?;
        Ok((message, secrets))
    }
}
