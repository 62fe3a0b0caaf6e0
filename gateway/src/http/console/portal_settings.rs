//! The console's portal settings: `GET/POST /staff/settings/portal` (display name, brand
//! colour, menu links, billing and e-signing switches) and the logo's upload and removal
//! (`POST /staff/settings/portal/logo`, `…/logo/delete`). Checked and saved by the same
//! service as the API's `PATCH /api/v1/portal` (`services::portal_settings`), so clients see
//! the change on their next page. Viewing needs `portal_settings` view; every change, edit.

use axum::Router;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::context;
use portico_shared::policy::{Action, Area, Intent};
use portico_shared::store::{MenuLink, PortalPatch};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::http::documents::FORM_OVERHEAD;
use crate::http::extract::CsrfOnly;
use crate::http::extract::{
    CsrfProtected, CsrfToken, ProtectedForm, ProtectedMultipart, StaffSession,
};
use crate::http::layout::console_page;
use crate::services::portal_settings::{
    self, MAX_DISPLAY_NAME, MAX_LINKS, MAX_LOGO, brand_color, display_name, logo_too_large, menu,
};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/staff/settings/portal", get(show).post(save))
        .route(
            "/staff/settings/portal/logo",
            post(upload_logo).layer(DefaultBodyLimit::max(MAX_LOGO + FORM_OVERHEAD)),
        )
        .route("/staff/settings/portal/logo/delete", post(remove_logo))
}

/// The settings as the form shows them.
#[derive(Serialize)]
struct SettingsView {
    display_name: String,
    brand_color: String,
    links: Vec<MenuLink>,
    billing_enabled: bool,
    esign_enabled: bool,
}

#[derive(Deserialize)]
struct ShowQuery {
    done: Option<String>,
}

fn flash(done: Option<&str>) -> Option<&'static str> {
    match done? {
        "saved" => Some("Portal settings saved. Clients see them on their next page."),
        "logo" => Some("Logo uploaded."),
        "logo_removed" => Some("Logo removed."),
        _ => None,
    }
}

fn render(
    state: &AppState,
    staff: &StaffSession,
    csrf: &str,
    view: &SettingsView,
    flash: Option<&str>,
    error: Option<(StatusCode, &str, String)>,
) -> Result<Response> {
    let (status, field, message) = match error {
        Some((status, field, message)) => (status, Some(field), Some(message)),
        None => (StatusCode::OK, None, None),
    };
    // Room for every link, plus two empty rows to add more (never past the limit).
    let rows = (view.links.len() + 2).min(MAX_LINKS);
    let links: Vec<_> = (0..rows)
        .map(|i| {
            let link = view.links.get(i);
            context! {
                n => i + 1,
                label => link.map(|l| l.label.as_str()).unwrap_or(""),
                url => link.map(|l| l.url.as_str()).unwrap_or(""),
            }
        })
        .collect();
    let html = console_page(
        state,
        "console/portal_settings.html",
        staff,
        csrf,
        "portal",
        context! {
            settings => view,
            links => links,
            flash => flash,
            error => message,
            error_field => field,
            has_logo => staff.firm.logo_sha256.is_some(),
            may_edit => staff.may(Intent::Act(Area::PortalSettings, Action::Edit)),
            max_display_name => MAX_DISPLAY_NAME,
            max_links => MAX_LINKS,
            max_logo_kb => MAX_LOGO / 1024,
        },
    )?;
    Ok((status, html).into_response())
}

async fn show(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<ShowQuery>,
) -> Result<Response> {
    staff.decide(Intent::Act(Area::PortalSettings, Action::View))?;
    let view = saved_view(&staff);
    render(
        &state,
        &staff,
        &csrf,
        &view,
        flash(query.done.as_deref()),
        None,
    )
}

/// The posted fields in order (`link_label_N` / `link_url_N` pairs for the menu).
#[derive(Deserialize)]
#[serde(transparent)]
struct SettingsForm(Vec<(String, String)>);

impl SettingsForm {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl CsrfProtected for SettingsForm {
    fn csrf(&self) -> &str {
        self.get("csrf").unwrap_or("")
    }
}

/// The menu's rows as typed; a row with neither label nor link is skipped.
fn typed_links(form: &SettingsForm) -> Vec<MenuLink> {
    (1..=MAX_LINKS + 1)
        .filter_map(|n| {
            let label = form.get(&format!("link_label_{n}")).unwrap_or("").trim();
            let url = form.get(&format!("link_url_{n}")).unwrap_or("").trim();
            (!label.is_empty() || !url.is_empty()).then(|| MenuLink {
                label: label.to_string(),
                url: url.to_string(),
            })
        })
        .collect()
}

async fn save(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    ProtectedForm(form): ProtectedForm<SettingsForm>,
) -> Result<Response> {
    staff.decide(Intent::Act(Area::PortalSettings, Action::Edit))?;
    let typed = SettingsView {
        display_name: form.get("display_name").unwrap_or("").to_string(),
        brand_color: form.get("brand_color").unwrap_or("").to_string(),
        links: typed_links(&form),
        billing_enabled: form.get("billing_enabled").is_some(),
        esign_enabled: form.get("esign_enabled").is_some(),
    };
    let patch = (|| -> Result<PortalPatch> {
        let display_name = display_name(&typed.display_name)?;
        let pairs: Vec<_> = typed
            .links
            .iter()
            .map(|l| (l.label.as_str(), l.url.as_str()))
            .collect();
        let menu_links = menu(&pairs)?;
        Ok(PortalPatch {
            display_name: Some(display_name),
            brand_color: Some(brand_color(&typed.brand_color)?),
            menu_links: Some(menu_links),
            billing_enabled: Some(typed.billing_enabled),
            esign_enabled: Some(typed.esign_enabled),
        })
    })();
    match patch {
        Ok(patch) => {
            portal_settings::save(&state, &staff.firm, &patch).await?;
            Ok(Redirect::to("/staff/settings/portal?done=saved").into_response())
        }
        Err(Error::Unprocessable { field, message }) => render(
            &state,
            &staff,
            &csrf,
            &typed,
            None,
            Some((StatusCode::UNPROCESSABLE_ENTITY, field, message)),
        ),
        Err(e) => Err(e),
    }
}

fn saved_view(staff: &StaffSession) -> SettingsView {
    let firm = &staff.firm;
    SettingsView {
        display_name: firm.portal_name().to_string(),
        brand_color: firm.brand_color.clone(),
        links: firm.menu_links(),
        billing_enabled: firm.billing_enabled,
        esign_enabled: firm.esign_enabled,
    }
}

async fn upload_logo(
    State(state): State<AppState>,
    staff: StaffSession,
    CsrfToken(csrf): CsrfToken,
    ProtectedMultipart(mut multipart): ProtectedMultipart,
) -> Result<Response> {
    staff.decide(Intent::Act(Area::PortalSettings, Action::Edit))?;
    let read = async {
        let mut bytes: Option<Vec<u8>> = None;
        while let Some(mut field) = multipart.next_field().await.map_err(|_| logo_too_large())? {
            if field.name() != Some("logo") || bytes.is_some() {
                return Err(Error::invalid("logo", "send one logo image"));
            }
            let mut kept = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(|_| logo_too_large())? {
                if kept.len() + chunk.len() > MAX_LOGO {
                    return Err(logo_too_large());
                }
                kept.extend_from_slice(&chunk);
            }
            bytes = Some(kept);
        }
        bytes
            .filter(|b| !b.is_empty())
            .ok_or_else(|| Error::invalid("logo", "choose an image to upload"))
    };
    let logo = match read
        .await
        .and_then(|bytes| portal_settings::logo(None, &bytes))
    {
        Ok(logo) => logo,
        Err(e @ (Error::Unprocessable { .. } | Error::FieldTooLarge { .. })) => {
            let status = if matches!(e, Error::FieldTooLarge { .. }) {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            let view = saved_view(&staff);
            return render(
                &state,
                &staff,
                &csrf,
                &view,
                None,
                Some((status, "logo", e.to_string())),
            );
        }
        Err(e) => return Err(e),
    };
    portal_settings::set_logo(&state, &staff.firm, Some(&logo)).await?;
    Ok(Redirect::to("/staff/settings/portal?done=logo").into_response())
}

async fn remove_logo(
    State(state): State<AppState>,
    staff: StaffSession,
    ProtectedForm(_form): ProtectedForm<CsrfOnly>,
) -> Result<Response> {
    staff.decide(Intent::Act(Area::PortalSettings, Action::Edit))?;
    portal_settings::set_logo(&state, &staff.firm, None).await?;
    Ok(Redirect::to("/staff/settings/portal?done=logo_removed").into_response())
}
