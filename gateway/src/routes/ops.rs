//! Operations: `/healthz` (the process is up), `/readyz` (database and Redis answer),
//! `/metrics` (Prometheus text).

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use serde_json::json;

use crate::state::AppState;

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

async fn metrics(State(state): State<AppState>) -> Response {
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
