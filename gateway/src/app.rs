//! Builds the gateway: its state from the configuration, and its router with every layer in
//! one place, read top to bottom from the outermost.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Request, header};
use axum::middleware;
use portico_shared::config::{Config, RedisTopology, redact_url};
use portico_shared::redis_conn::{RedisConn, RedisKeys};
use portico_shared::redis_persistence;
use portico_shared::secret::random_string;
use portico_shared::store;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::http;
use crate::metrics::Metrics;
use crate::render::Templates;
use crate::services::page_cache::HomePages;
use crate::services::sign_ins::SignIns;
use crate::state::{AppState, AppStateInner};

/// Styles and images only from ourselves; no scripts, no frames, no inline code at all. Forms
/// may also lead to the other firms' hosts, where company switching redirects. (The sign page
/// shows a document as page images, not in a frame: phone browsers show a framed PDF blank.)
fn content_security_policy(config: &portico_shared::config::Config) -> String {
    let port = config
        .public_port
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    format!(
        "default-src 'none'; style-src 'self'; img-src 'self' data:; \
         form-action 'self' {}://*.{}{port}; frame-ancestors 'none'; base-uri 'none'",
        config.public_scheme, config.base_domain
    )
}

/// Opens the database (migrating it) and Redis. Failures name the variable to fix.
pub async fn state(config: Config) -> anyhow::Result<AppState> {
    let store = store::open(&config.database_url).await.with_context(|| {
        format!(
            "DATABASE_URL: cannot open {}",
            redact_url(&config.database_url)
        )
    })?;
    store
        .migrate()
        .await
        .context("DATABASE_URL: migrating the database failed")?;
    let redis_keys = RedisKeys::new(&config.redis_prefix);
    let wait = config
        .redis_replica_wait
        .map(|wait| (wait, redis_keys.other("replica-fence")));
    let redis = RedisConn::connect_acknowledged(&config.redis, wait)
        .await
        .with_context(|| {
            format!(
                "{}: cannot connect to {}",
                config.redis.variable(),
                config.redis.describe()
            )
        })?;
    let metrics = Arc::new(Metrics::default());
    let persistence = redis_persistence::read(&mut redis.clone()).await;
    persistence.log();
    check_replicas(&config, &mut redis.clone()).await;
    metrics.redis_persistence.set(persistence.gauge());
    let home_pages = HomePages::new(config.home_cache_bytes);
    Ok(AppState::new(AppStateInner {
        redis_keys,
        config: Arc::new(config),
        sign_ins: SignIns::start(store.clone()),
        store,
        redis,
        templates: Arc::new(Templates::load().context("templates/i18n")?),
        metrics,
        firms: Arc::default(),
        home_pages,
    }))
}

/// Warns at start when what is answered for can be lost at a failover, or when fewer replicas
/// are connected than `PORTICO_REDIS_WAIT_REPLICAS` waits for (sign-in then answers 503).
async fn check_replicas(config: &Config, redis: &mut RedisConn) {
    let Some(wait) = config.redis_replica_wait else {
        if let RedisTopology::Sentinel { .. } = config.redis {
            tracing::warn!(
                "PORTICO_REDIS_WAIT_REPLICAS is not set: a SENTINEL FAILOVER can drop the sessions \
                 and mail jobs written during the switch; set it to the number of replicas"
            );
        }
        return;
    };
    let info: redis::RedisResult<redis::InfoDict> = redis::cmd("INFO")
        .arg("replication")
        .query_async(redis)
        .await;
    let connected = info
        .ok()
        .and_then(|info| info.get::<u32>("connected_slaves"));
    match connected {
        Some(n) if n >= wait.replicas => {
            tracing::info!(
                replicas = n,
                waits_for = wait.replicas,
                "sessions and mail jobs are answered for once Redis replicas hold them"
            );
        }
        n => tracing::warn!(
            replicas = ?n,
            waits_for = wait.replicas,
            "the Redis master has fewer replicas than PORTICO_REDIS_WAIT_REPLICAS waits for: \
             sign-in answers 503 until they connect"
        ),
    }
}

#[derive(Clone, Default)]
struct ShortRequestId;

impl MakeRequestId for ShortRequestId {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&random_string::<9>())
            .ok()
            .map(RequestId::new)
    }
}

pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let csp = HeaderValue::from_str(&content_security_policy(&state.config))
        .expect("the policy is ASCII: the base domain is validated as a host name");
    let static_header =
        |name, value| SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value));
    Router::new()
        .merge(http::ops::router())
        .merge(http::api::router(&state))
        .merge(http::console::router(&state))
        .merge(http::portal::router(&state))
        .layer(DefaultBodyLimit::max(1024 * 1024))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            http::extract::client::resolve_client,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            http::ops::track,
        ))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(30),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            csp,
        ))
        .layer(static_header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(static_header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(static_header(header::REFERRER_POLICY, "no-referrer"))
        .layer(static_header(header::CACHE_CONTROL, "no-store"))
        .layer(static_header(
            HeaderName::from_static("permissions-policy"),
            "camera=(), microphone=(), geolocation=(), interest-cohort=()",
        ))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(
            // One line a request, with the path but never the query (it may carry a token).
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<_>| {
                    let id = request
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!(
                        "request",
                        id = %id,
                        method = %request.method(),
                        path = %request.uri().path(),
                        firm = tracing::field::Empty,
                    )
                })
                .on_request(())
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(SetRequestIdLayer::new(request_id, ShortRequestId))
        .with_state(state)
}

/// Serves until `shutdown` resolves, then finishes the requests in flight.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// A gateway running in the background, for tests and benchmarks.
pub struct Running {
    pub addr: SocketAddr,
    pub state: AppState,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// Starts a gateway on `listener` in the background.
pub async fn spawn(config: Config, listener: TcpListener) -> anyhow::Result<Running> {
    let addr = listener.local_addr()?;
    let state = state(config).await?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(state.clone(), listener, async {
        let _ = stopped.await;
    }));
    Ok(Running {
        addr,
        state,
        stop: Some(stop),
        task,
    })
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
