//! The staff JSON API under `/api/v1`. A bearer key (created by the CLI, stored as a SHA-256)
//! names the firm; every query is scoped to it, so another firm's ids answer 404.
//! Errors are `{"error": {"code", "message"}}` ([`json_errors`]).

mod contacts;
mod conversations;
mod firm;
mod invoices;
pub mod openapi;
mod pagination;
pub mod portal;
mod signing;
mod tasks;

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request};
use axum::handler::Handler;
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::MethodRouter;
use portico_shared::secret::hex;
use portico_shared::store::Firm;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::error::{Error, ErrorInfo};
use crate::state::AppState;

/// Where the API lives; route paths below are relative to it.
pub const PREFIX: &str = "/api/v1";

/// One route of the API. Each module lists its routes; the router is built from these lists
/// alone, and [`served`] reports them, so a test can hold the OpenAPI document to exactly
/// what is served.
pub struct ApiRoute {
    pub method: Method,
    pub path: &'static str,
    handler: MethodRouter<AppState>,
    /// Takes an uploaded document: its body may be as large as `PORTICO_UPLOAD_MAX_BYTES`
    /// allows, where every other route keeps the global 1 MB.
    upload: bool,
}

impl ApiRoute {
    /// Marks a route that takes an uploaded document.
    pub fn upload(mut self) -> ApiRoute {
        self.upload = true;
        self
    }
}

macro_rules! route_constructors {
    ($($name:ident => $method:ident),*) => {
        impl ApiRoute {
            $(
                pub fn $name<H, T>(path: &'static str, handler: H) -> ApiRoute
                where
                    H: Handler<T, AppState>,
                    T: 'static,
                {
                    ApiRoute {
                        method: Method::$method,
                        path,
                        handler: axum::routing::$name(handler),
                        upload: false,
                    }
                }
            )*
        }
    };
}
route_constructors!(get => GET, post => POST, put => PUT, patch => PATCH, delete => DELETE);

fn all_routes() -> Vec<ApiRoute> {
    [
        firm::routes(),
        contacts::routes(),
        tasks::routes(),
        conversations::routes(),
        portal::routes(),
        invoices::routes(),
        signing::routes(),
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

pub fn router(state: &AppState) -> Router<AppState> {
    let upload_limit = usize::try_from(state.config.upload_max_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(crate::blobs::FORM_OVERHEAD);
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

/// Writes error responses of the API as JSON.
async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let Some(info) = response.extensions().get::<ErrorInfo>().cloned() else {
        return response;
    };
    let mut error = json!({ "code": info.code, "message": info.message });
    if let Some(field) = info.field {
        error["field"] = json!(field);
    }
    if let Some(reference) = &info.reference {
        error["reference"] = json!(reference);
    }
    let mut json = (response.status(), Json(json!({ "error": error }))).into_response();
    for name in [header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(value) = response.headers().get(&name) {
            json.headers_mut().insert(name, value.clone());
        }
    }
    if response.status() == StatusCode::UNAUTHORIZED {
        json.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    json
}

/// The firm of the request's API key.
pub struct ApiFirm(pub Firm);

/// SHA-256 of an API key, as stored. Keys carry 256 random bits, so a plain hash suffices.
pub fn api_key_hash(key: &str) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, key.as_bytes()).as_ref())
}

impl FromRequestParts<AppState> for ApiFirm {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
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
        let firm = state
            .store
            .firm_by_api_key(&api_key_hash(key))
            .await?
            .ok_or(Error::Unauthorized("this API key is not valid"))?;
        tracing::Span::current().record("firm", firm.slug.as_str());
        Ok(ApiFirm(firm))
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

/// RFC 3339 for API timestamps.
pub fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

pub fn ok<T: serde::Serialize>(status: StatusCode, body: T) -> Response {
    (status, Json(body)).into_response()
}
