//! Emails to clients about what staff did: each becomes a job on the mail stream (templates in
//! the mailer). Only contacts who can see the item in their portal are notified.

use portico_shared::mail::{FirmBrand, MailJob, Recipient, Template};
use portico_shared::store::{Conversation, Firm, SigningRequest, TaskDetail};
use serde_json::json;

use crate::error::Result;
use crate::state::AppState;

fn brand(state: &AppState, firm: &Firm) -> FirmBrand {
    FirmBrand {
        id: firm.id.clone(),
        slug: firm.slug.clone(),
        name: firm.portal_name().to_string(),
        brand_color: firm.brand_color.clone(),
        portal_url: state.config.portal_url(&firm.slug),
    }
}

/// "A task was shared with you", to each contact who can now see it.
pub async fn task_shared(
    state: &AppState,
    firm: &Firm,
    detail: &TaskDetail,
    contact_ids: &[String],
) -> Result<()> {
    let mut pipe = redis::pipe();
    let mut queued = 0;
    for contact_id in contact_ids {
        let Some(contact) = state.store.contact(&firm.id, contact_id).await? else {
            continue;
        };
        if !contact.portal_access {
            continue;
        }
        let brand = brand(state, firm);
        let mut job = MailJob::new(
            Template::TaskShared,
            Recipient {
                email: contact.email.clone(),
                name: contact.name.clone(),
            },
            brand.clone(),
        );
        job.data = json!({
            "task_title": detail.task.title,
            "task_url": format!("{}/tasks/{}", brand.portal_url, detail.task.id),
            "due_date": detail.task.due_date,
            "checklist_items": detail.checklist.len(),
        });
        pipe.add_command(job.enqueue_cmd(&state.redis_keys))
            .ignore();
        queued += 1;
    }
    if queued > 0 {
        let mut redis = state.redis();
        let () = pipe.query_async(&mut redis).await?;
    }
    Ok(())
}

/// "The firm replied to your request", to the conversation's contact.
pub async fn request_reply(
    state: &AppState,
    firm: &Firm,
    conversation: &Conversation,
    reply: &str,
) -> Result<()> {
    let Some(contact) = state
        .store
        .contact(&firm.id, &conversation.contact_id)
        .await?
        .filter(|c| c.portal_access)
    else {
        return Ok(());
    };
    let brand = brand(state, firm);
    let mut job = MailJob::new(
        Template::RequestReply,
        Recipient {
            email: contact.email,
            name: contact.name,
        },
        brand.clone(),
    );
    let excerpt: String = reply.chars().take(EXCERPT_CHARS).collect();
    job.data = json!({
        "request_subject": conversation.subject,
        "reply_excerpt": excerpt,
        "request_url": format!("{}/requests/{}", brand.portal_url, conversation.id),
    });
    let mut redis = state.redis();
    let _: String = job
        .enqueue_cmd(&state.redis_keys)
        .query_async(&mut redis)
        .await?;
    Ok(())
}

/// "Please sign this document", to the request's contact. The one place that decides whether
/// this contact is emailed about signing requests.
pub async fn signature_requested(
    state: &AppState,
    firm: &Firm,
    request: &SigningRequest,
) -> Result<()> {
    let Some(contact) = state
        .store
        .contact(&firm.id, &request.contact_id)
        .await?
        .filter(|c| c.portal_access)
    else {
        return Ok(());
    };
    let brand = brand(state, firm);
    let mut job = MailJob::new(
        Template::SignatureRequested,
        Recipient {
            email: contact.email,
            name: contact.name,
        },
        brand.clone(),
    );
    job.data = json!({
        "document_title": request.title,
        "sign_url": format!("{}/sign/{}", brand.portal_url, request.id),
    });
    let mut redis = state.redis();
    let _: String = job
        .enqueue_cmd(&state.redis_keys)
        .query_async(&mut redis)
        .await?;
    Ok(())
}

/// How much of a reply the notification quotes.
const EXCERPT_CHARS: usize = 200;
