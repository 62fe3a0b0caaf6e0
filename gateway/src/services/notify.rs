//! Emails to clients about what staff did: each becomes a job on the mail stream (templates in
//! the mailer). Only contacts who can see the item in their portal, and who have not turned
//! that kind of email off in their settings, are notified ([`recipient`] decides both). An
//! item shared with a client account is also told to the account's client managers (SPEC
//! §13), each once; their email names the colleague whose item it is.

use portico_shared::email::Email;
use portico_shared::ids::{ClientAccountId, ContactId, SigningRequestId};
use portico_shared::mail::{FirmBrand, MailJob, Recipient, TaggedJob, Template};
use portico_shared::store::{
    Contact, Conversation, Firm, Notification, SigningRequest, TaskDetail,
};
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
    let mark = redis.mark();
    let _: String = job.enqueue_cmd().query_async(&mut redis).await?;
    redis.replicated(mark).await?;
    Ok(())
}

/// Queues several jobs in one round trip.
async fn enqueue_all(state: &AppState, jobs: &[TaggedJob]) -> Result<()> {
    if jobs.is_empty() {
        return Ok(());
    }
    let mut pipe = redis::pipe();
    for job in jobs {
        pipe.add_command(job.enqueue_cmd()).ignore();
    }
    let mut redis = state.redis();
    let mark = redis.mark();
    let () = pipe.query_async(&mut redis).await?;
    redis.replicated(mark).await?;
    Ok(())
}

/// `first`, then the managers of `account` (when there is one) who are not `first`: the
/// contacts told of an item of `first`'s shared with the account, each once.
async fn with_managers(
    state: &AppState,
    firm: &Firm,
    first: &ContactId,
    account: Option<&ClientAccountId>,
) -> Result<Vec<ContactId>> {
    let mut audience = vec![first.clone()];
    if let Some(account) = account {
        let managers = state.store.account_managers(&firm.id, account).await?;
        audience.extend(managers.into_iter().filter(|m| m != first));
    }
    Ok(audience)
}

/// The name of the contact whose item a manager is told of, for the email to say whose.
async fn name_of(state: &AppState, firm: &Firm, contact_id: &ContactId) -> Result<String> {
    Ok(state
        .store
        .contact(&firm.id, contact_id)
        .await?
        .map(|c| c.name)
        .unwrap_or_default())
}

/// "A task was shared with you", to each contact who can now see it.
pub async fn task_shared(
    state: &AppState,
    firm: &Firm,
    detail: &TaskDetail,
    contact_ids: &[ContactId],
) -> Result<()> {
    let mut jobs = Vec::new();
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
        jobs.push(job);
    }
    enqueue_all(state, &jobs).await
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

/// "The firm asked your colleague to sign this document", to the managers of the account a
/// new signing request is shared with (not its signer, who is asked by
/// [`signature_requested`]): they may read it, only the signer signs it (SPEC §13). The same
/// email and setting as the signer's, naming the signer. Returns how many were queued.
pub async fn signature_shared(
    state: &AppState,
    firm: &Firm,
    request: &SigningRequest,
) -> Result<usize> {
    let audience = with_managers(
        state,
        firm,
        &request.contact_id,
        request.account_id.as_ref(),
    )
    .await?;
    let portal_url = state.config.portal_url(&firm.slug);
    let mut signer_name = None;
    let mut jobs = Vec::new();
    for contact_id in audience.iter().filter(|c| **c != request.contact_id) {
        let Some(contact) =
            recipient(state, firm, contact_id, Notification::SignatureRequested).await?
        else {
            continue;
        };
        if signer_name.is_none() {
            signer_name = Some(name_of(state, firm, &request.contact_id).await?);
        }
        jobs.push(finished(
            state,
            job(state, firm, Template::SignatureRequested, &contact),
            json!({
                "document_title": request.title,
                "sign_url": format!("{portal_url}/sign/{}", request.id),
                "signer_name": signer_name,
            }),
        ));
    }
    enqueue_all(state, &jobs).await?;
    Ok(jobs.len())
}

/// "The firm replied to your request", to the conversation's contact and, when it is shared
/// with their account, to the account's client managers (each once; a manager's email names
/// whose request it is).
pub async fn request_reply(
    state: &AppState,
    firm: &Firm,
    conversation: &Conversation,
    reply: &str,
) -> Result<()> {
    let starter = &conversation.contact_id;
    let audience = with_managers(state, firm, starter, conversation.account_id.as_ref()).await?;
    let portal_url = state.config.portal_url(&firm.slug);
    let excerpt: String = reply.chars().take(EXCERPT_CHARS).collect();
    let mut starter_name = None;
    let mut jobs = Vec::new();
    for contact_id in &audience {
        let Some(contact) = recipient(state, firm, contact_id, Notification::RequestReply).await?
        else {
            continue;
        };
        let started_by = if contact_id == starter {
            None
        } else {
            if starter_name.is_none() {
                starter_name = Some(name_of(state, firm, starter).await?);
            }
            starter_name.clone()
        };
        jobs.push(finished(
            state,
            job(state, firm, Template::RequestReply, &contact),
            json!({
                "request_subject": conversation.subject,
                "reply_excerpt": excerpt,
                "request_url": format!("{portal_url}/requests/{}", conversation.id),
                "started_by": started_by,
            }),
        ));
    }
    enqueue_all(state, &jobs).await
}

/// How much of a reply the notification quotes.
const EXCERPT_CHARS: usize = 200;
