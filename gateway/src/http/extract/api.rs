//! The staff API's extractors: [`ApiActor`] (who the bearer key is: its firm, and the member
//! it acts for with its role), [`ApiFirm`] (just the firm), and JSON bodies and query strings
//! whose rejections become API errors with the right status.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::Json;
use portico_shared::ids::{ApiKeyId, ClientAccountId, ContactId, MemberId};
use portico_shared::policy::{Action, Actor, Area, Decision, Intent, decide};
use portico_shared::store::{Firm, Scoped, StoreError};
use portico_shared::token::ApiKey;
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::state::AppState;

/// Who the request's API key is: its firm, and the actor it is (the member who made it, with
/// the key's role narrowed to the member's current one: `policy::Actor::new`). Read once per
/// request; the member's role is read with the key, so a role edited or a member removed
/// takes effect on the next request.
#[derive(Clone)]
pub struct ApiActor {
    pub firm: Firm,
    pub actor: Actor,
    pub key_id: ApiKeyId,
}

impl ApiActor {
    /// Asks the policy; a refusal is the API's 403.
    pub fn decide(&self, intent: Intent<'_>) -> Result<Decision, Error> {
        match decide(&self.actor, intent) {
            Decision::Denied(reason) => Err(Error::Forbidden(reason)),
            allowed => Ok(allowed),
        }
    }

    /// Asks for `action` on `area`: `None` reaches every client, `Some(member)` only the
    /// clients assigned to that member; a refusal is the API's 403.
    pub fn scope(&self, area: Area, action: Action) -> Result<Option<MemberId>, Error> {
        Ok(match self.decide(Intent::Act(area, action))? {
            Decision::Assigned(member) => Some(member),
            _ => None,
        })
    }

    /// 404 unless `item` lies within `scope` (asks the database only for a limited scope),
    /// so an item outside it is answered as if it did not exist.
    pub async fn reach(
        &self,
        state: &AppState,
        scope: Option<&MemberId>,
        item: Scoped<'_>,
    ) -> Result<(), Error> {
        match scope {
            Some(member) if !state.store.in_scope(&self.firm.id, member, item).await? => {
                Err(Error::NotFound)
            }
            _ => Ok(()),
        }
    }

    /// Those of `contacts` the actor may see: all of them without a scope, else those assigned
    /// to the scope's member (one query).
    pub async fn visible_contacts(
        &self,
        state: &AppState,
        scope: Option<&MemberId>,
        contacts: &[ContactId],
    ) -> Result<Vec<ContactId>, Error> {
        match scope {
            None => Ok(contacts.to_vec()),
            Some(_) if contacts.is_empty() => Ok(Vec::new()),
            Some(member) => Ok(state
                .store
                .assigned_among(&self.firm.id, member, contacts)
                .await?),
        }
    }

    /// A 422 on `field`, worded as for an account the firm does not have, unless the firm has
    /// `account` and it lies within `scope` (a member reaches an account when they look after
    /// at least one of its contacts).
    pub async fn reach_account(
        &self,
        state: &AppState,
        scope: Option<&MemberId>,
        field: &'static str,
        account: &ClientAccountId,
    ) -> Result<(), Error> {
        let reached = match scope {
            Some(member) => {
                state
                    .store
                    .account_in_scope(&self.firm.id, member, account)
                    .await?
            }
            None => state.store.account(&self.firm.id, account).await?.is_some(),
        };
        if reached {
            Ok(())
        } else {
            Err(unknown_account(field, account.as_str()))
        }
    }

    /// A 422 on `field`, worded as for a contact the firm does not have, unless every one of
    /// `contacts` lies within `scope`: a scoped actor learns nothing of other clients.
    pub async fn reach_contacts(
        &self,
        state: &AppState,
        scope: Option<&MemberId>,
        field: &'static str,
        contacts: &[ContactId],
    ) -> Result<(), Error> {
        let within = self.visible_contacts(state, scope, contacts).await?;
        match contacts.iter().find(|c| !within.contains(c)) {
            Some(outside) => Err(StoreError::UnknownReference(field, outside.to_string()).into()),
            None => Ok(()),
        }
    }
}

impl FromRequestParts<AppState> for ApiActor {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        if let Some(found) = parts.extensions.get::<ApiActor>() {
            return Ok(found.clone());
        }
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or(Error::Unauthorized(
                "an API key is required: Authorization: Bearer <key>",
            ))?;
        let key = header
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or(Error::Unauthorized(
                "the Authorization header must be: Bearer <key>",
            ))?;
        let auth = state
            .store
            .authenticate_api_key(&ApiKey::presented(key).hash().hash)
            .await?
            .ok_or(Error::Unauthorized("this API key is not valid"))?;
        tracing::Span::current().record("firm", auth.firm.slug.as_str());
        let found = ApiActor {
            actor: Actor::new(
                auth.member.member.id.clone(),
                &auth.member.role,
                Some(&auth.key_role),
            ),
            firm: auth.firm,
            key_id: auth.key_id,
        };
        parts.extensions.insert(found.clone());
        Ok(found)
    }
}

/// The firm of the request's API key.
pub struct ApiFirm(pub Firm);

impl FromRequestParts<AppState> for ApiFirm {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        Ok(ApiFirm(
            ApiActor::from_request_parts(parts, state).await?.firm,
        ))
    }
}

/// A JSON body whose rejections become API errors with the right status: malformed JSON 400,
/// a wrong or missing field 422, no JSON content type 415, too large 413.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = Error;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Error> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(JsonRejection::JsonDataError(e)) => Err(Error::invalid("body", e.body_text())),
            Err(JsonRejection::JsonSyntaxError(e)) => Err(Error::BadRequest(e.body_text())),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(Error::UnsupportedMediaType(
                "send JSON with Content-Type: application/json".into(),
            )),
            Err(other) if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(Error::TooLarge("request body too large".into()))
            }
            Err(other) => Err(Error::BadRequest(other.body_text())),
        }
    }
}

/// A list's query string; a parameter it does not know (where `T` denies unknown fields) or a
/// value of the wrong type is a 422 on `query`.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        let Query(query) = Query::<T>::from_request_parts(parts, state)
            .await
            .map_err(|e| Error::invalid("query", e.body_text()))?;
        Ok(ApiQuery(query))
    }
}

/// The 422 for an account id the firm does not have (or the caller may not reach).
pub fn unknown_account(field: &'static str, id: &str) -> Error {
    Error::Unprocessable {
        field,
        message: format!("{field}: {id:?} is not a client account of this firm"),
    }
}
