//! A signing document's pages as the sign page (portal) and the request's page (console) show
//! them: images rendered once per document (`services::previews`), served one by one.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use minijinja::{Value, context};
use portico_shared::store::{PageImages, SigningRequest};

use crate::error::{Error, Result};
use crate::services::page_images;
use crate::state::AppState;

/// What a page shows of the document's pages: their images once rendered (`state` "ready",
/// with `shown` of `total`), or a note while they are being prepared ("preparing") or when
/// they cannot be ("failed"). Starts the rendering of a document that has none yet.
pub async fn document_pages(state: &AppState, request: &SigningRequest) -> Result<Value> {
    Ok(
        match page_images::current(state, &request.document_sha256).await? {
            PageImages::Ready {
                page_count,
                rendered,
            } if rendered > 0 => context! {
                state => "ready",
                shown => rendered,
                total => page_count.max(rendered),
            },
            PageImages::Rendering { .. } => context! { state => "preparing" },
            _ => context! { state => "failed" },
        },
    )
}

/// Page `page` (from 1, as the path has it) of the request's document as a PNG; 404 for any
/// other page or none. The caller has checked that the asker may see the request. An image
/// never changes (it is named by the document's hash), so the browser may keep it.
pub async fn page_image(
    state: &AppState,
    request: &SigningRequest,
    page: &str,
) -> Result<Response> {
    let page = page
        .parse::<u32>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or(Error::NotFound)?;
    let image = state
        .store
        .stored_page_image(&request.document_sha256, page)
        .await?
        .ok_or(Error::NotFound)?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            (
                header::CACHE_CONTROL,
                "private, max-age=31536000, immutable",
            ),
        ],
        image,
    )
        .into_response())
}
