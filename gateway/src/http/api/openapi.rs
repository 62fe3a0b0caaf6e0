//! `GET /api/v1/openapi.json`: the API described for people and client generators. The
//! document is generated ([`super::document`]) from the handlers' `#[utoipa::path]`
//! attributes and the request and response types they use, so it cannot say other than what
//! they do; the `openapi` test holds it to the routes [`super::served`] reports and to the
//! OpenAPI 3.1 schema, and the API suites check every body they receive against it.
//! Public: it describes shapes, never data.
//!
//! Schemas keep the names the hand-written document of earlier versions gave them
//! (`#[schema(as = …)]`), so clients generated from it keep their type names.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::OpenApi;
use utoipa::openapi::path::Operation;
use utoipa::openapi::path::ParameterIn;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};

use super::route::ApiRoute;

/// The scheme every route but this document names.
const SCHEME: &str = "apiKey";

pub fn routes() -> Vec<ApiRoute> {
    vec![ApiRoute::get("/openapi.json", document)]
}

/// Info, tags and the key every route needs; the operations are nested in by
/// [`super::document`].
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Portico staff API",
        version = "1",
        description = "The JSON API a firm's staff (or practice-management system) use to share \
            contacts, tasks, signing requests, invoices and replies into the client portal. Every \
            route but this document needs `Authorization: Bearer <api key>` (keys are made with \
            `gateway apikey create`); every query is scoped to the key's firm, so another firm's \
            ids answer 404, as do paths the API does not have. Lists are cursor-paginated. Errors \
            are JSON `{\"error\": {\"code\", \"message\", \"field\"?, \"reference\"?}}`."
    ),
    servers((url = "/")),
    security(("apiKey" = [])),
    tags(
        (name = "Firm"),
        (name = "Portal"),
        (name = "Contacts"),
        (name = "Accounts"),
        (name = "Permission sets"),
        (name = "Tasks"),
        (name = "Signing"),
        (name = "Conversations"),
        (name = "Invoices"),
        (name = "Team"),
        (name = "Roles"),
        (name = "API keys"),
        (name = "Meta")
    ),
    components(schemas(super::ErrorBody))
)]
pub struct Frame;

#[derive(OpenApi)]
#[openapi(paths(document))]
pub struct Doc;

/// What every operation can answer besides its own outcomes: what its extractors refuse
/// (`ApiFirm`: a missing or wrong key; `ApiJson`: a body that is not JSON, too large, of
/// another type or of the wrong shape; `ApiQuery`: unknown or mistyped parameters), and an
/// unreachable database or Redis, or a fault, for every route that needs a key.
pub fn finish(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let components = doc.components.get_or_insert_default();
    components.add_security_scheme(
        SCHEME,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("An API key of the firm."))
                .build(),
        ),
    );
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for operation in operations.into_iter().flatten() {
            shared_answers(operation);
        }
    }
    doc
}

fn shared_answers(operation: &mut Operation) {
    // `security(())` on a path reads as "no key needed"; in the document that is written `[]`.
    let public = operation
        .security
        .as_ref()
        .is_some_and(|s| s.iter().all(|r| *r == SecurityRequirement::default()));
    if public {
        operation.security = Some(Vec::new());
        return;
    }
    let json_body = operation
        .request_body
        .as_ref()
        .is_some_and(|body| body.content.contains_key("application/json"));
    let has_query = operation.parameters.as_ref().is_some_and(|ps| {
        ps.iter()
            .any(|p| matches!(p.parameter_in, ParameterIn::Query))
    });
    let mut answers = vec![
        (
            401,
            "No API key, or not a valid one (with `WWW-Authenticate: Bearer`)",
        ),
        (500, "A fault on our side; the error carries a `reference`"),
        (
            503,
            "The database or Redis is unreachable; try again (`Retry-After`)",
        ),
    ];
    // Every route but the firm's own asks the key's role (`policy::decide`).
    if operation.operation_id.as_deref() != Some("getFirm") {
        answers.push((403, "The key's role does not allow this (`forbidden`)"));
    }
    if json_body {
        answers.extend([
            (400, "The body is not JSON"),
            (413, "The body is larger than 1 MB"),
            (415, "The body is not sent as `application/json`"),
            (
                422,
                "A field is missing, unknown, of the wrong type or not valid (`field`)",
            ),
        ]);
    }
    if has_query {
        answers.push((422, "A query parameter is unknown or not valid (`field`)"));
    }
    for (status, description) in answers {
        operation
            .responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| error_response(description).into());
    }
}

/// An error answer: `description`, with the error shape.
pub fn error_response(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Error")))
                .build(),
        )
        .build()
}

/// This document
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "Meta",
    operation_id = "getOpenApi",
    security(()),
    responses((status = 200, description = "The OpenAPI document", body = Object))
)]
async fn document() -> impl IntoResponse {
    static JSON: OnceLock<String> = OnceLock::new();
    let json = JSON.get_or_init(|| {
        super::document()
            .to_json()
            .expect("the document serializes")
    });
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        json.as_str(),
    )
}
