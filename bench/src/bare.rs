//! The bare twin of the gateway's sign-in and home routes, for `shared_cost_bench`: each
//! handler does the route's irreducible work and nothing else, so that the Redis and database
//! work of the real route can be set beside it.
//!
//! Irreducible means what the answer cannot be made without: the same Redis commands and SQL
//! statements, issued through the same functions the gateway's handlers call
//! (`services::links`, `services::sessions`, the store, the sign-in group writer), so the
//! statements, their parameters and their round trips are the gateway's by construction; the
//! same template rendered with the same context (`http::layout::page`,
//! `http::views::render_home`); the same body and cookies. What it leaves out is what sits
//! around that work in the gateway: the middleware stack (request ids, tracing spans and
//! the access log, metrics, security headers, timeouts, client-address resolution, per-IP
//! limits), the extractors (the firm looked up from the `Host`, the CSRF check, the
//! session extractor's language preference) and the kept-page cache with its bookkeeping.
//! It serves one firm, loaded at start, and logs nothing (unless `RUST_LOG` is set, for the
//! benchmark's count of SQL statements).
//!
//! Run as its own process (`shared_cost_bench --bare-server SLUG`, with the gateway's
//! environment), so its CPU time is measured like the gateway's.

use std::io::Write;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::CookieJar;
use minijinja::context;
use portico_gateway::http::extract::ClientSession;
use portico_gateway::http::layout::page;
use portico_gateway::http::views::render_home;
use portico_gateway::services::links::{self, Consumed, Issued, Proof};
use portico_gateway::services::sessions::{self, Audience};
use portico_gateway::services::{cookies, csrf};
use portico_gateway::state::AppState;
use portico_shared::email::Email;
use portico_shared::ids::ContactId;
use portico_shared::now_unix;
use portico_shared::store::{Firm, SignIn};
use portico_shared::token::{PlainCode, verify_link};
use serde::Deserialize;

/// The path of the home page rendered on every request (`/` is the kept one).
pub const RENDERED_HOME: &str = "/rendered";

struct Bare {
    state: AppState,
    firm: Firm,
    /// The firm's host without the port (`{slug}.{base domain}`), as CSRF tokens bind it.
    host: String,
    /// The home page kept as last rendered, with the portal version it was made under.
    kept: Mutex<Option<(i64, String)>>,
}

/// What stands for the CSRF token in a kept page (the gateway's cache does the same).
const CSRF_MARKER: &str = "\u{0}csrf\u{0}";

type Answer = std::result::Result<Response, Failure>;

/// Any failure of a dependency: a 503, as the gateway would answer.
struct Failure;

impl<E: std::fmt::Debug> From<E> for Failure {
    fn from(_: E) -> Failure {
        Failure
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        StatusCode::SERVICE_UNAVAILABLE.into_response()
    }
}

#[derive(Deserialize)]
struct LoginForm {
    email: String,
    #[serde(default)]
    csrf: String,
}

#[derive(Deserialize)]
struct CodeForm {
    token: String,
    code: String,
    #[serde(default)]
    csrf: String,
}

impl Bare {
    fn secure(&self) -> bool {
        self.state.config.cookie_secure
    }

    /// The CSRF token the page's forms carry: one HMAC of the anchor cookie and the host.
    fn csrf_token(&self, jar: &CookieJar) -> String {
        let anchor = cookies::get(jar, cookies::CSRF, self.secure()).unwrap_or("");
        csrf::token(self.state.keys(), &self.host, anchor)
    }

    /// The signed-in client: the session read (and its idle expiry pushed back) in Redis, the
    /// contact, its access and the portal version read in one statement.
    async fn session(&self, jar: &CookieJar) -> std::result::Result<ClientSession, Failure> {
        let value = cookies::get(jar, cookies::SESSION, self.secure()).ok_or(Failure)?;
        let record = sessions::load(&self.state, Audience::Client, value)
            .await?
            .filter(|r| r.firm_id == self.firm.id)
            .ok_or(Failure)?;
        let contact_id = record.contact_id().ok_or(Failure)?;
        let found = self
            .state
            .store
            .session_contact(&self.firm.id, &contact_id)
            .await?
            .filter(|c| c.contact.portal_access && c.contact.auth_epoch == record.epoch)
            .ok_or(Failure)?;
        Ok(ClientSession {
            firm: self.firm.clone(),
            contact: found.contact,
            other_companies: found.other_companies,
            portal_version: found.portal_version,
            access: found.access,
            preview: None,
        })
    }
}

/// `POST /login`: the contact looked up, the link minted and stored with its mail job in
/// one script, the "sent" page rendered, the binding cookie set.
async fn request_link(
    State(bare): State<Arc<Bare>>,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> Answer {
    let state = &bare.state;
    let email = Email::parse(&form.email).map_err(|_| Failure)?;
    let binding = cookies::binding_of(&jar, bare.secure());
    let contact = state.store.contact_by_email(&bare.firm.id, &email).await?;
    let network = std::net::IpAddr::from([127, 0, 0, 1]);
    let issued = links::request_login(
        state,
        &bare.firm,
        &email,
        contact.as_ref(),
        &binding,
        network,
    )
    .await?;
    if let Issued::RateLimited(_) = issued {
        return Ok(StatusCode::TOO_MANY_REQUESTS.into_response());
    }
    let ttl_days = state.config.link_ttl.as_secs().div_ceil(86_400);
    let extra = context! { email => email.as_str(), ttl_days => ttl_days };
    let html = page(
        state,
        "portal/login_sent.html",
        &bare.firm,
        &form.csrf,
        None,
        extra,
    )?;
    let cookie = cookies::binding(binding, state.config.login_one_click, bare.secure());
    Ok((jar.add(cookie), html).into_response())
}

/// `POST /auth/magic` with the code: the link verified and consumed by its script, the
/// sign-in written (through the same group writer), the session stored, a redirect home.
async fn confirm_code(
    State(bare): State<Arc<Bare>>,
    jar: CookieJar,
    Form(form): Form<CodeForm>,
) -> Answer {
    let _ = form.csrf;
    let state = &bare.state;
    let gone = || Ok(StatusCode::GONE.into_response());
    let Ok(link) = verify_link(state.keys(), &bare.firm.id, &form.token, now_unix()) else {
        return gone();
    };
    let Some(code) = PlainCode::parse(&form.code) else {
        return gone();
    };
    let Consumed::Won { subject, epoch, .. } =
        links::consume(state, bare.firm.id.as_str(), &link, Proof::Code(&code)).await?
    else {
        return gone();
    };
    let Some(contact_id) = ContactId::parse(&subject) else {
        return gone();
    };
    let recorded = state
        .sign_ins
        .record(SignIn {
            firm_id: bare.firm.id.clone(),
            contact_id: contact_id.clone(),
            epoch,
            via_invitation: false,
        })
        .await?;
    if !recorded {
        return gone();
    }
    let previous = cookies::get(&jar, cookies::SESSION, bare.secure());
    let cookie = sessions::start(
        state,
        Audience::Client,
        previous,
        &bare.firm.id,
        contact_id.as_str(),
        epoch,
    )
    .await?;
    Ok((jar.add(cookie), Redirect::to("/")).into_response())
}

/// `GET /`, kept: the session and the portal version checked, the page kept under that
/// version answered with this browser's CSRF token put in.
async fn kept_home(State(bare): State<Arc<Bare>>, jar: CookieJar) -> Answer {
    let session = bare.session(&jar).await?;
    let csrf = bare.csrf_token(&jar);
    let version = session.portal_version.ok_or(Failure)?;
    if let Some((kept_version, html)) = bare.kept.lock().map_err(|_| Failure)?.as_ref()
        && *kept_version == version
    {
        return Ok(Html(html.replace(CSRF_MARKER, &csrf)).into_response());
    }
    let Html(html) = render_home(&bare.state, &session, CSRF_MARKER, None).await?;
    let answer = html.replace(CSRF_MARKER, &csrf);
    *bare.kept.lock().map_err(|_| Failure)? = Some((version, html));
    Ok(Html(answer).into_response())
}

/// `GET /`, rendered every time: the session checked, the page's statements run and its
/// template rendered.
async fn rendered_home(State(bare): State<Arc<Bare>>, jar: CookieJar) -> Answer {
    let session = bare.session(&jar).await?;
    let csrf = bare.csrf_token(&jar);
    Ok(render_home(&bare.state, &session, &csrf, None)
        .await?
        .into_response())
}

/// The gateway's `/readyz` has work of its own; this one only says the process serves.
async fn ready() -> &'static str {
    "ready"
}

/// Serves the twin of firm `slug`'s routes on a free loopback port, configured from the
/// gateway's environment, and prints `listening ADDR` on stdout.
pub async fn serve(slug: &str) -> Result<()> {
    let config = portico_shared::config::Config::from_env().context("the gateway's settings")?;
    let state = portico_gateway::app::state(config).await?;
    let firm = state
        .store
        .firm_by_slug(slug)
        .await?
        .with_context(|| format!("no firm {slug}"))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let host = format!("{slug}.{}", state.config.base_domain);
    let log_format = state.config.log_format;
    let bare = Arc::new(Bare {
        state,
        firm,
        host,
        kept: Mutex::new(None),
    });
    let app: Router = Router::new()
        .route("/login", post(request_link))
        .route("/auth/magic", post(confirm_code))
        .route("/", get(kept_home))
        .route(RENDERED_HOME, get(rendered_home))
        .route("/readyz", get(ready))
        .with_state(bare);
    // With RUST_LOG set (the benchmark's statement count, never its measured phases), log as
    // the gateway does, each request in a span named by its `x-request-id`.
    let logging = std::env::var_os("RUST_LOG").map(|_| portico_shared::logging::init(log_format));
    let app = match logging {
        Some(_) => app.layer(axum::middleware::from_fn(request_span)),
        None => app,
    };
    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening {addr}")?;
    stdout.flush()?;
    axum::serve(listener, app)
        .with_graceful_shutdown(portico_gateway::app::shutdown_signal())
        .await?;
    // Dropping the guard flushes the last lines.
    drop(logging);
    Ok(())
}

/// The request's work in a span `request` with its `x-request-id`, as the gateway's, so that
/// `plans::statements_by_request` reads the twin's log like the gateway's.
async fn request_span(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    use tracing::Instrument;
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string();
    next.run(request)
        .instrument(tracing::info_span!("request", id = %id))
        .await
}
