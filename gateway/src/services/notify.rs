//! Emails to clients about what staff did: each becomes a job on the mail stream (templates in
//! the mailer). Only contacts who can see the item in their portal, and who have not turned
//! that kind of email off in their settings, are notified ([`recipient`] decides both).

use portico_shared::email::Email;
use portico_shared::ids::{ContactId, SigningRequestId};
use portico_shared::mail::{FirmBrand, MailJob, Recipient, TaggedJob, Template};
use portico_shared::store::{Contact, Conversation, Firm, Notification, TaskDetail};
use serde_json::json;

use crate::error::Result;
use crate::state::AppState;

fn brand(state: &AppState, firm: &Firm) -> FirmBrand {
    FirmBrand {
        id: firm.id.to_string(),
        slug: firm.slug.clone(),
        name: firm.portal_name().to_string(),
        brand_color: firm.brand_color.clone(),
        portal_url: state.config.portal_url(&firm.slug),
    }
}

/// The contact to email about `kind`, if they have portal access, want such emails, and
/// their stored address is one we accept (an older, unaccepted one waits for staff to
/// correct it: `gateway contacts check` lists them).
pub async fn recipient(
    state: &AppState,
    firm: &Firm,
    contact_id: &ContactId,
    kind: Notification,
) -> Result<Option<Contact>> {
    Ok(state
        .store
        .contact(&firm.id, contact_id)
        .await?
        .filter(|c| c.portal_access && c.wants(kind) && Email::parse(&c.email).is_ok()))
}

fn job(state: &AppState, firm: &Firm, template: Template, contact: &Contact) -> MailJob {
    let mut job = MailJob::new(
        template,
        Recipient {
            email: contact.email.clone(),
            name: contact.name.clone(),
        },
        brand(state, firm),
    );
    // The mailer writes the email in the client's portal language.
    job.data = json!({ "language": contact.language.as_deref().unwrap_or("en") });
    job
}

/// Adds template data to a job made by [`job`], and tags the finished job (the mailer sends
/// no job without its tag).
fn finished(state: &AppState, mut job: MailJob, data: serde_json::Value) -> TaggedJob {
    if let (Some(into), serde_json::Value::Object(from)) = (job.data.as_object_mut(), data) {
        into.extend(from);
    }
    job.authenticate(state.keys(), &state.redis_keys)
}

async fn enqueue(state: &AppState, job: &TaggedJob) -> Result<()> {
    let mut redis = state.redis();
    let _: String = job.enqueue_cmd().query_async(&mut redis).await?;
    Ok(())
}

/// "A task was shared with you", to each contact who can now see it.
pub async fn task_shared(
    state: &AppState,
    firm: &Firm,
    detail: &TaskDetail,
    contact_ids: &[ContactId],
) -> Result<()> {
    let mut pipe = redis::pipe();
    let mut queued = 0;
    for contact_id in contact_ids {
        let Some(contact) = recipient(state, firm, contact_id, Notification::TaskShared).await?
        else {
            continue;
        };
        let portal_url = state.config.portal_url(&firm.slug);
        let job = finished(
            state,
            job(state, firm, Template::TaskShared, &contact),
            json!({
                "task_title": detail.task.title,
                "task_url": format!("{portal_url}/tasks/{}", detail.task.id),
                "due_date": detail.task.due_date,
                "checklist_items": detail.checklist.len(),
            }),
        );
        pipe.add_command(job.enqueue_cmd()).ignore();
        queued += 1;
    }
    if queued > 0 {
        let mut redis = state.redis();
        let () = pipe.query_async(&mut redis).await?;
    }
    Ok(())
}

/// "Please sign this document", to the contact asked to sign; `signing_request_id` makes the
/// link `{portal}/sign/{id}`. Returns whether an email was queued.
pub async fn signature_requested(
    state: &AppState,
    firm: &Firm,
    contact_id: &ContactId,
    signing_request_id: &SigningRequestId,
    document_title: &str,
) -> Result<bool> {
    let Some(contact) =
        recipient(state, firm, contact_id, Notification::SignatureRequested).await?
    else {
        return Ok(false);
    };
    let portal_url = state.config.portal_url(&firm.slug);
    let job = finished(
        state,
        job(state, firm, Template::SignatureRequested, &contact),
        json!({
            "document_title": document_title,
            "sign_url": format!("{portal_url}/sign/{signing_request_id}"),
        }),
    );
    enqueue(state, &job).await?;
    Ok(true)
}

/// "The firm replied to your request", to the conversation's contact.
pub async fn request_reply(
    state: &AppState,
    firm: &Firm,
    conversation: &Conversation,
    reply: &str,
) -> Result<()> {
    let Some(contact) = recipient(
        state,
        firm,
        &conversation.contact_id,
        Notification::RequestReply,
    )
    .await?
    else {
        return Ok(());
    };
    let portal_url = state.config.portal_url(&firm.slug);
    let excerpt: String = reply.chars().take(EXCERPT_CHARS).collect();
    let job = finished(
        state,
        job(state, firm, Template::RequestReply, &contact),
        json!({
            "request_subject": conversation.subject,
            "reply_excerpt": excerpt,
            "request_url": format!("{portal_url}/requests/{}", conversation.id),
        }),
    );
    enqueue(state, &job).await
}

/// How much of a reply the notification quotes.
const EXCERPT_CHARS: usize = 200;
