//! The baseline: a bare axum handler that does only what consuming any signed, single-use
//! token must do at the least — one HMAC-SHA256 verify (ring), one Redis `SET` and one
//! `GETDEL` on the same Redis, over one multiplexed connection like the gateway's. It runs in
//! its own process (this binary, `--baseline-server`), so it is measured like the gateway.

use std::io::Write;
use std::sync::Arc;

use anyhow::Result;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::routing::post;
use portico_shared::redis_conn::RedisConn;
use redis::AsyncCommands;
use ring::hmac;
use serde::Deserialize;

/// The baseline's signing key; the load generator signs its tokens with it too.
const KEY: &[u8; 32] = b"portico-bench-baseline-hmac-key!";

pub const PATH: &str = "/consume";

fn key() -> hmac::Key {
    hmac::Key::new(hmac::HMAC_SHA256, KEY)
}

/// A token shaped like a link token: `{random-ish body}.{tag}`, both base64url.
pub fn token(run: &str, seq: usize) -> String {
    use portico_shared::secret::b64;
    let body = b64(format!("{run}{seq:016x}").as_bytes());
    let tag = hmac::sign(&key(), body.as_bytes());
    format!("{body}.{}", b64(tag.as_ref()))
}

struct Baseline {
    key: hmac::Key,
    redis: RedisConn,
    prefix: String,
}

#[derive(Deserialize)]
struct ConsumeForm {
    token: String,
}

async fn consume(
    State(state): State<Arc<Baseline>>,
    Form(form): Form<ConsumeForm>,
) -> (StatusCode, &'static str) {
    let Some((body, tag)) = form.token.split_once('.') else {
        return (StatusCode::BAD_REQUEST, "malformed");
    };
    let Some(tag) = portico_shared::secret::unb64(tag) else {
        return (StatusCode::BAD_REQUEST, "malformed");
    };
    if hmac::verify(&state.key, body.as_bytes(), &tag).is_err() {
        return (StatusCode::FORBIDDEN, "bad tag");
    }
    let key = format!("{}baseline:{body}", state.prefix);
    let mut redis = state.redis.clone();
    let set: redis::RedisResult<()> = redis.set_ex(&key, "1", 60).await;
    let got: redis::RedisResult<Option<String>> = redis.get_del(&key).await;
    match (set, got) {
        (Ok(()), Ok(Some(_))) => (StatusCode::OK, "ok"),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "redis"),
    }
}

/// Serves the baseline on a free loopback port and prints `listening ADDR` on stdout.
pub async fn serve(redis_url: &str, prefix: &str) -> Result<()> {
    let redis = portico_shared::redis_conn::connect(redis_url).await?;
    let state = Arc::new(Baseline {
        key: key(),
        redis,
        prefix: prefix.to_string(),
    });
    let app = axum::Router::new()
        .route(PATH, post(consume))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening {}", listener.local_addr()?)?;
    stdout.flush()?;
    axum::serve(listener, app).await?;
    Ok(())
}
