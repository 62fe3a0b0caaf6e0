//! The portal home page (`GET /`), kept as rendered while nothing it shows has changed
//! (`services::page_cache`); the page itself is made by `views::home`.

use axum::Router;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;

use crate::error::Result;
use crate::http::extract::{ClientSession, CsrfToken};
use crate::http::views::{render_home, today};
use crate::services::page_cache::PageInputs;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(home))
}

async fn home(
    State(state): State<AppState>,
    session: ClientSession,
    CsrfToken(csrf): CsrfToken,
) -> Result<Html<String>> {
    // Taken before the page's queries run: a write that lands while they do bumps the
    // version after this one, so a page kept under this version is never newer than it says.
    let Some(inputs) = session.portal_version.map(|portal_version| PageInputs {
        portal_version,
        firm: session.firm.clone(),
        contact: session.contact.clone(),
        access: session.access.clone(),
        other_companies: session.other_companies,
        lang: crate::i18n::current(),
        today: today(),
    }) else {
        return render_home(&state, &session, &csrf, None).await;
    };
    if let Some(html) = state.home_pages.get(&inputs, &csrf) {
        state.metrics.home_page("cache");
        return Ok(Html(html));
    }
    let Html(kept) = render_home(&state, &session, state.home_pages.marker(), None).await?;
    state.metrics.home_page("render");
    let html = kept.replace(state.home_pages.marker(), &csrf);
    state.home_pages.keep(inputs, kept);
    Ok(Html(html))
}
