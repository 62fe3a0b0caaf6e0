//! Who is asking, worked out once per request by [`resolve_client`] (a layer on every route):
//! the [`ClientAddress`] (through trusted proxies only), the per-IP rate limit's key, and
//! [`ClientOrigin`] for audit trails.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::Method;
use axum::http::header::USER_AGENT;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::IntoResponse;
use axum::response::Response;
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::key_extractor::KeyExtractor;
use tower_governor::{GovernorError, GovernorLayer};

use crate::error::Error;
use crate::services::client_ip::ClientAddress;
use crate::state::AppState;

/// Resolves the client's address and keeps it in the request. A trusted proxy that sends no
/// `X-Forwarded-For` makes every client share one address (and one rate-limit bucket): each
/// such request is counted, and the first is logged.
pub async fn resolve_client(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    if let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>() {
        let address =
            ClientAddress::resolve(peer.ip(), request.headers(), &state.config.trusted_proxies);
        if address.proxy_without_forwarded_for {
            state.metrics.proxy_without_forwarded_for(peer.ip());
        }
        request.extensions_mut().insert(address);
    }
    next.run(request).await
}

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Error> {
        parts
            .extensions
            .get::<ClientAddress>()
            .copied()
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("client address layer missing")))
    }
}

/// tower-governor's key: the client's network ([`ClientAddress::network`]).
#[derive(Clone)]
pub struct ClientNetworkKey;

impl KeyExtractor for ClientNetworkKey {
    type Key = IpAddr;

    fn extract<T>(&self, req: &axum::http::Request<T>) -> Result<IpAddr, GovernorError> {
        req.extensions()
            .get::<ClientAddress>()
            .map(ClientAddress::network)
            .ok_or(GovernorError::UnableToExtractKey)
    }
}

/// Where a request comes from, for audit trails: the client address (through trusted proxies
/// only) and the user agent, cut to a sane length.
#[derive(Clone, Debug)]
pub struct ClientOrigin {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

const MAX_USER_AGENT: usize = 512;

impl FromRequestParts<AppState> for ClientOrigin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _: &AppState,
    ) -> Result<Self, std::convert::Infallible> {
        let ip = parts
            .extensions
            .get::<ClientAddress>()
            .map(|address| address.ip.to_string());
        let user_agent = parts.headers.get(USER_AGENT).map(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .chars()
                .take(MAX_USER_AGENT)
                .collect()
        });
        Ok(ClientOrigin { ip, user_agent })
    }
}

/// `PORTICO_LOGIN_PER_IP` on the POSTs of a sign-in group (the portal's, the console's) that
/// guess or spend: asking for links, trying codes. Each call is a limiter of its own.
pub fn per_ip_limit(
    state: &AppState,
) -> GovernorLayer<ClientNetworkKey, governor::middleware::NoOpMiddleware, axum::body::Body> {
    let rate = state.config.login_per_ip;
    let period = rate.per / rate.count;
    let config = GovernorConfigBuilder::default()
        .key_extractor(ClientNetworkKey)
        .period(period.max(Duration::from_millis(1)))
        .burst_size(rate.count)
        .methods(vec![Method::POST])
        .finish()
        .expect("a rate of at least 1 per positive duration");
    let limiter = config.limiter().clone();
    // The limiter remembers every address it has seen; forget the ones that are quiet again.
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            limiter.retain_recent();
        }
    });
    let metrics = state.metrics.clone();
    GovernorLayer::new(config).error_handler(move |error| {
        let wait = match error {
            tower_governor::GovernorError::TooManyRequests { wait_time, .. } => wait_time,
            _ => 1,
        };
        metrics.rate_limited("ip");
        Error::RateLimited {
            retry_after: Duration::from_secs(wait.max(1)),
        }
        .into_response()
    })
}
