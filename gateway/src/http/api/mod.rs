//! The staff JSON API under `/api/v1`. A bearer key (created by the CLI, stored as a SHA-256)
//! names the firm; every query is scoped to it, so another firm's ids answer 404.
//! Errors are `{"error": {"code", "message"}}` ([`json_errors`], [`ErrorBody`]).
//!
//! Each resource module lists its routes (`routes()`, what the router is built from) and
//! documents the same handlers (`Doc`, from their `#[utoipa::path]` and the request and
//! response types they use); [`document`] puts the documents together.

mod accounts;
mod api_keys;
mod contacts;
mod conversations;
mod firm;
mod invoices;
pub mod openapi;
mod pagination;
pub mod portal;
mod roles;
mod route;
mod signing;
mod tasks;
mod team;

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::MethodRouter;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

pub use route::ApiRoute;

use crate::error::{Error, ErrorInfo};
use crate::state::AppState;

/// Where the API lives; route paths below are relative to it.
pub const PREFIX: &str = "/api/v1";

fn all_routes() -> Vec<ApiRoute> {
    [
        firm::routes(),
        contacts::routes(),
        accounts::routes(),
        tasks::routes(),
        conversations::routes(),
        portal::routes(),
        invoices::routes(),
        signing::routes(),
        team::routes(),
        roles::routes(),
        api_keys::routes(),
        openapi::routes(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Every `(method, full path)` the API serves, e.g. `(PATCH, "/api/v1/tasks/{id}")`.
pub fn served() -> Vec<(Method, String)> {
    all_routes()
        .into_iter()
        .map(|r| (r.method, format!("{PREFIX}{}", r.path)))
        .collect()
}

/// The OpenAPI document of everything [`served`]: each module's operations under [`PREFIX`],
/// in the frame [`openapi::frame`] gives them (info, security, the answers every route shares).
pub fn document() -> utoipa::openapi::OpenApi {
    let parts = [
        firm::Doc::openapi(),
        contacts::Doc::openapi(),
        accounts::Doc::openapi(),
        tasks::Doc::openapi(),
        conversations::Doc::openapi(),
        portal::Doc::openapi(),
        invoices::Doc::openapi(),
        signing::Doc::openapi(),
        team::Doc::openapi(),
        roles::Doc::openapi(),
        api_keys::Doc::openapi(),
        openapi::Doc::openapi(),
    ];
    let doc = parts
        .into_iter()
        .fold(openapi::Frame::openapi(), |doc, part| {
            doc.nest(PREFIX, part)
        });
    openapi::finish(doc)
}

pub fn router(state: &AppState) -> Router<AppState> {
    let upload_limit = usize::try_from(state.config.upload_max_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(crate::http::documents::FORM_OVERHEAD);
    let mut by_path: BTreeMap<&'static str, MethodRouter<AppState>> = BTreeMap::new();
    for mut route in all_routes() {
        if route.upload {
            route.handler = route.handler.layer(DefaultBodyLimit::max(upload_limit));
        }
        // `merge` panics at start on a method listed twice for one path.
        let methods = by_path.remove(route.path).unwrap_or_default();
        by_path.insert(route.path, methods.merge(route.handler));
    }
    let v1 = by_path
        .into_iter()
        .fold(Router::new(), |router, (path, methods)| {
            router.route(path, methods)
        })
        .fallback(|| async { Error::NoRoute });
    Router::new()
        .nest(PREFIX, v1)
        .layer(middleware::from_fn(json_errors))
}

/// The body of every error answer of the API.
#[derive(Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    #[schema(inline)]
    error: ErrorDetail,
}

/// What went wrong.
#[derive(Serialize, ToSchema)]
struct ErrorDetail {
    /// Stable machine-readable code, e.g. `not_found`, `invalid_field`, `unauthorized`,
    /// `conflict`, `email_taken`, `number_taken`, `too_large`, `rate_limited`.
    code: &'static str,
    message: String,
    /// The request field at fault (422, and 413 for uploads).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    field: Option<&'static str>,
    /// On 500: the reference to quote to the operator.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    reference: Option<String>,
}

/// Writes error responses of the API as JSON.
async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let Some(info) = response.extensions().get::<ErrorInfo>().cloned() else {
        return response;
    };
    let body = ErrorBody {
        error: ErrorDetail {
            code: info.code,
            message: info.message.clone(),
            field: info.field,
            reference: info.reference.clone(),
        },
    };
    let mut json = (response.status(), Json(body)).into_response();
    for name in [header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(value) = response.headers().get(&name) {
            json.headers_mut().insert(name, value.clone());
        }
    }
    if response.status() == StatusCode::UNAUTHORIZED {
        json.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    // For the layers outside (metrics count what a 503 reports).
    json.extensions_mut().insert(info);
    json
}
