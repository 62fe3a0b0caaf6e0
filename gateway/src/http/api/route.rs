//! One route of the API ([`ApiRoute`]), and how handlers answer: [`ok`] with a JSON body,
//! timestamps in RFC 3339.

use axum::handler::Handler;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::MethodRouter;

use crate::state::AppState;

/// One route of the API. Each module lists its routes; the router is built from these lists
/// alone, and [`served`] reports them, so a test can hold the OpenAPI document to exactly
/// what is served.
pub struct ApiRoute {
    pub method: Method,
    pub path: &'static str,
    pub(super) handler: MethodRouter<AppState>,
    /// Takes an uploaded document: its body may be as large as `PORTICO_UPLOAD_MAX_BYTES`
    /// allows, where every other route keeps the global 1 MB.
    pub(super) upload: bool,
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
