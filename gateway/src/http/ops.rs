//! Operations: `/healthz` (the process is up), `/readyz` (database and Redis answer),
//! `/metrics` (Prometheus text), and [`track`], the layer that counts and times requests.
//!
//! `/metrics` tells an outsider which routes are used and how often sign-ins fail, so it is
//! not public: it wants `Authorization: Bearer {PORTICO_METRICS_TOKEN}` when that is set,
//! and otherwise answers only peers on the loopback interface (a scraper beside the gateway,
//! never a request relayed by a proxy on the same machine, which would carry forwarding
//! headers).

use std::net::SocketAddr;
use std::time::Instant;

use axum::Router;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use serde_json::json;

use crate::error::ErrorInfo;
use crate::state::AppState;

/// Counts and times every request by its route pattern, and the 503s a failing Redis or
/// database caused (the route groups keep the error's `ErrorInfo` on the page they render).
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let response = next.run(request).await;
    if let Some(dependency) = response
        .extensions()
        .get::<ErrorInfo>()
        .and_then(|info| info.unavailable)
    {
        state.metrics.dependency_error(dependency);
    }
    let status = response.status().as_u16();
    state
        .metrics
        .request(method, route, status, started.elapsed());
    response
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<AppState>) -> Response {
    let database = state.store.ping().await.is_ok();
    let mut redis = state.redis();
    let redis_ok = redis::cmd("PING")
        .query_async::<String>(&mut redis)
        .await
        .is_ok();
    let status = if database && redis_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let word = |ok: bool| if ok { "ok" } else { "unreachable" };
    let body = json!({
        "database": word(database),
        "database_backend": state.store.backend(),
        "redis": word(redis_ok),
    });
    (status, Json(body)).into_response()
}

fn sha256(text: &str) -> ring::digest::Digest {
    ring::digest::digest(&ring::digest::SHA256, text.as_bytes())
}

/// Whether this request may read `/metrics`.
fn may_read_metrics(token: Option<&str>, peer: Option<SocketAddr>, headers: &HeaderMap) -> bool {
    match token {
        Some(token) => headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            // Digests are compared, so the time taken says nothing about the token.
            .is_some_and(|given| sha256(given).as_ref() == sha256(token).as_ref()),
        None => {
            peer.is_some_and(|p| p.ip().is_loopback())
                && !headers.contains_key("x-forwarded-for")
                && !headers.contains_key(header::FORWARDED)
        }
    }
}

async fn metrics(State(state): State<AppState>, request: Request) -> Response {
    let token = state.config.metrics_token.as_deref();
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(p)| *p);
    if !may_read_metrics(token, peer, request.headers()) {
        let mut refused = (StatusCode::UNAUTHORIZED, "metrics need a token\n").into_response();
        if token.is_none() {
            // Nothing to authenticate with: the route is simply not here for this peer.
            *refused.status_mut() = StatusCode::NOT_FOUND;
        } else {
            refused.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        return refused;
    }
    let mut redis = state.redis();
    let depths: Result<(i64, i64), _> = redis::pipe()
        .cmd("XLEN")
        .arg(state.redis_keys.mail_stream())
        .cmd("XLEN")
        .arg(state.redis_keys.mail_dead())
        .query_async(&mut redis)
        .await;
    if let Ok((queued, dead)) = depths {
        state.metrics.mail_queue_depth.set(queued);
        state.metrics.mail_dead_depth.set(dead);
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_need_the_token_or_a_loopback_peer_without_forwarding() {
        let loopback: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let remote: SocketAddr = "203.0.113.9:5000".parse().unwrap();
        let none = HeaderMap::new();
        assert!(may_read_metrics(None, Some(loopback), &none));
        assert!(!may_read_metrics(None, Some(remote), &none));
        assert!(!may_read_metrics(None, None, &none));
        let mut forwarded = HeaderMap::new();
        forwarded.insert("x-forwarded-for", "198.51.100.1".parse().unwrap());
        assert!(!may_read_metrics(None, Some(loopback), &forwarded));

        let token = Some("0123456789abcdef");
        let mut good = HeaderMap::new();
        good.insert(
            header::AUTHORIZATION,
            "Bearer 0123456789abcdef".parse().unwrap(),
        );
        let mut bad = HeaderMap::new();
        bad.insert(
            header::AUTHORIZATION,
            "Bearer 0123456789abcdeX".parse().unwrap(),
        );
        assert!(may_read_metrics(token, Some(remote), &good));
        assert!(!may_read_metrics(token, Some(loopback), &bad));
        assert!(!may_read_metrics(token, Some(loopback), &none));
    }
}
