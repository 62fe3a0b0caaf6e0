//! One route of the API ([`ApiRoute`]), and what its answers are made of: timestamps in
//! RFC 3339, and the schemas of strings that take a few values ([`one_of`]).

use axum::handler::Handler;
use axum::http::Method;
use axum::routing::MethodRouter;
use utoipa::ToSchema;
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};

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

/// The schema of a string that is one of `values` (a status, a kind), for the document.
pub fn one_of(values: &[&str]) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.iter().copied()))
        .build()
}

// Raw bytes (an uploaded logo, a downloaded document), for the document: it names a schema
// only, as bodies of bytes go in and out as streams.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub struct Binary(Vec<u8>);
