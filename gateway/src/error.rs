//! One error type for every handler, turned into a response in one place.
//!
//! A handler returns [`Error`]; its `IntoResponse` puts the status and an [`ErrorInfo`] in the
//! response. The route group then decides the body: the portal renders a friendly page
//! (`routes::portal_errors`), the API writes `{"error":{"code","message"}}`
//! (`routes::api::json_errors`). Internal causes are logged with a short reference that the
//! user also sees, and never shown.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portico_shared::store::StoreError;

use crate::services::content::ContentError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not found")]
    NotFound,
    /// The API has no route for this path (unlike `NotFound`: no such record); only the
    /// message differs.
    #[error("no such API route")]
    NoRoute,
    /// A portal page needs a session: the client is sent to the sign-in page.
    #[error("please sign in")]
    SignInRequired,
    /// A console page needs a staff session: the member is sent to the staff sign-in page.
    #[error("please sign in")]
    StaffSignInRequired,
    /// The actor's role does not allow this (`policy::decide` said so, and why).
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    BadRequest(String),
    #[error("{message}")]
    Unprocessable {
        field: &'static str,
        message: String,
    },
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("the form has expired; please try again")]
    Csrf,
    /// The message says what the limit is.
    #[error("{0}")]
    TooLarge(String),
    /// One field's content is too large (an upload), named so the client knows which.
    #[error("{message}")]
    FieldTooLarge {
        field: &'static str,
        message: String,
    },
    /// The message names what was refused and what is accepted.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Past the storage allowed to this client; the message says what is used and allowed.
    #[error("{0}")]
    InsufficientStorage(String),
    #[error("too many requests")]
    RateLimited { retry_after: Duration },
    #[error("{0} is unavailable")]
    Unavailable(Dependency),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// A shared component whose failure makes the gateway answer 503.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dependency {
    Redis,
    Database,
}

impl Dependency {
    /// The `dependency` label of `portico_dependency_errors_total`.
    pub fn label(self) -> &'static str {
        match self {
            Dependency::Redis => "redis",
            Dependency::Database => "database",
        }
    }
}

impl std::fmt::Display for Dependency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Dependency::Redis => "Redis",
            Dependency::Database => "the database",
        })
    }
}

/// What the route group needs to write the body of an error response.
#[derive(Clone, Debug)]
pub struct ErrorInfo {
    pub code: &'static str,
    pub message: String,
    pub field: Option<&'static str>,
    pub retry_after: Option<u64>,
    /// Shown on 500 pages and logged beside the cause.
    pub reference: Option<String>,
    /// The component whose failure this 503 reports; the route groups keep the `ErrorInfo`
    /// on the response they render, and `http::ops::track` counts it.
    pub unavailable: Option<Dependency>,
}

impl From<redis::RedisError> for Error {
    fn from(e: redis::RedisError) -> Error {
        tracing::warn!(error = %e, "redis request failed");
        Error::Unavailable(Dependency::Redis)
    }
}

impl From<ContentError> for Error {
    fn from(e: ContentError) -> Error {
        Error::Internal(e.into())
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Error {
        match e {
            e if e.is_unavailable() => {
                tracing::warn!(error = %e, "database unreachable");
                Error::Unavailable(Dependency::Database)
            }
            StoreError::UnknownReference(field, value) => Error::Unprocessable {
                field,
                message: match field {
                    "account_id" => {
                        format!("{field}: {value:?} is not a client account of this firm")
                    }
                    "permission_set" => {
                        format!("{field}: {value:?} is not a permission set of this firm")
                    }
                    _ => format!("{field}: {value:?} is not a contact of this firm"),
                },
            },
            StoreError::Conflict(field) => Error::Conflict {
                code: "conflict",
                message: format!("{field} is already taken"),
            },
            other => Error::Internal(other.into()),
        }
    }
}

impl Error {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Error {
        Error::Unprocessable {
            field,
            message: message.into(),
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Error::NotFound | Error::NoRoute => StatusCode::NOT_FOUND,
            Error::SignInRequired | Error::StaffSignInRequired => StatusCode::SEE_OTHER,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Conflict { .. } => StatusCode::CONFLICT,
            Error::Csrf => StatusCode::FORBIDDEN,
            Error::TooLarge(_) | Error::FieldTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::InsufficientStorage(_) => StatusCode::INSUFFICIENT_STORAGE,
            Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            // Same code as a missing record: clients need not tell them apart.
            Error::NotFound | Error::NoRoute => "not_found",
            Error::SignInRequired | Error::StaffSignInRequired => "sign_in_required",
            Error::Forbidden(_) => "forbidden",
            Error::Unauthorized(_) => "unauthorized",
            Error::BadRequest(_) => "bad_request",
            Error::Unprocessable { .. } => "invalid_field",
            Error::Conflict { code, .. } => code,
            Error::Csrf => "csrf",
            Error::TooLarge(_) | Error::FieldTooLarge { .. } => "too_large",
            Error::UnsupportedMediaType(_) => "unsupported_media_type",
            Error::InsufficientStorage(_) => "insufficient_storage",
            Error::RateLimited { .. } => "rate_limited",
            Error::Unavailable(_) => "unavailable",
            Error::Internal(_) => "internal",
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut info = ErrorInfo {
            code: self.code(),
            message: self.to_string(),
            field: None,
            retry_after: None,
            reference: None,
            unavailable: None,
        };
        match &self {
            Error::Unprocessable { field, .. } | Error::FieldTooLarge { field, .. } => {
                info.field = Some(field);
            }
            Error::RateLimited { retry_after } => {
                info.retry_after = Some(retry_after.as_secs().max(1));
            }
            Error::Unavailable(dependency) => {
                info.retry_after = Some(5);
                info.unavailable = Some(*dependency);
            }
            Error::Internal(cause) => {
                let reference =
                    portico_shared::secret::hex(&portico_shared::secret::random_bytes::<4>());
                tracing::error!(reference = %reference, error = ?cause, "internal error");
                info.message = "something went wrong on our side".into();
                info.reference = Some(reference);
            }
            _ => {}
        }
        let mut response = (status, info.message.clone()).into_response();
        let sign_in = match self {
            Error::SignInRequired => Some("/login"),
            Error::StaffSignInRequired => Some("/staff/login"),
            _ => None,
        };
        if let Some(location) = sign_in {
            response
                .headers_mut()
                .insert(header::LOCATION, HeaderValue::from_static(location));
        }
        if let Some(secs) = info.retry_after {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_str(&secs.to_string()).expect("digits"),
            );
        }
        response.extensions_mut().insert(info);
        response
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
