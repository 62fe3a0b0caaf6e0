//! Prometheus metrics, served in the text format on `MAILER_METRICS_BIND` (`GET /metrics`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::queue::QueueStatus;

type Labels = Vec<(&'static str, &'static str)>;

pub struct Metrics {
    registry: Registry,
    /// Accepted by the server (or written to the outbox), by template.
    pub sent: Family<Labels, Counter>,
    /// Transient failures scheduled for another attempt.
    pub retried: Counter,
    /// Dead-lettered, by reason: `permanent` (5xx), `exhausted`, `bad_job`.
    pub dead: Family<Labels, Counter>,
    /// Login or invitation jobs whose link expired before they could be sent.
    pub dropped: Counter,
    /// Jobs found already sent (their acknowledgement had been lost) and not sent again.
    pub duplicates_skipped: Counter,
    /// Redis commands that failed (each is retried; a run of them is an outage).
    pub redis_errors: Counter,
    pub in_flight: Gauge,
    pub queued: Gauge,
    pub pending: Gauge,
    pub retrying: Gauge,
    pub dead_letters: Gauge,
    /// Whether Redis keeps its data across a restart, read once connected
    /// (`portico_shared::redis_persistence`): 1 yes, 0 no, -1 unknown (or not connected yet).
    pub redis_persistence: Gauge,
    /// From the gateway's enqueue to the server's acceptance.
    pub enqueue_to_accept: Histogram,
    /// One SMTP transaction (or outbox write).
    pub send_duration: Histogram,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("mailer");
        let m = Metrics {
            sent: Family::default(),
            retried: Counter::default(),
            dead: Family::default(),
            dropped: Counter::default(),
            duplicates_skipped: Counter::default(),
            redis_errors: Counter::default(),
            in_flight: Gauge::default(),
            queued: Gauge::default(),
            pending: Gauge::default(),
            retrying: Gauge::default(),
            dead_letters: Gauge::default(),
            redis_persistence: Gauge::default(),
            enqueue_to_accept: Histogram::new(exponential_buckets(0.001, 2.0, 18)),
            send_duration: Histogram::new(exponential_buckets(0.0005, 2.0, 18)),
            registry: Registry::default(),
        };
        registry.register("sent", "Mails accepted by the server", m.sent.clone());
        registry.register(
            "retried",
            "Transient failures retried later",
            m.retried.clone(),
        );
        registry.register("dead", "Jobs dead-lettered, by reason", m.dead.clone());
        registry.register(
            "dropped",
            "Jobs dropped: their link expired",
            m.dropped.clone(),
        );
        registry.register(
            "duplicates_skipped",
            "Jobs already sent, acknowledged without sending again",
            m.duplicates_skipped.clone(),
        );
        registry.register(
            "redis_errors",
            "Redis commands that failed and were retried",
            m.redis_errors.clone(),
        );
        registry.register("in_flight", "Sends in progress", m.in_flight.clone());
        registry.register(
            "queue_depth",
            "Jobs on the stream not yet taken by a mailer",
            m.queued.clone(),
        );
        registry.register("pending", "Jobs taken, not yet settled", m.pending.clone());
        registry.register(
            "retrying",
            "Jobs waiting for another attempt",
            m.retrying.clone(),
        );
        registry.register(
            "dead_letters",
            "Jobs on the dead-letter stream",
            m.dead_letters.clone(),
        );
        m.redis_persistence.set(-1);
        registry.register(
            "redis_persistence",
            "Whether Redis keeps its data across a restart, read at start: 1 AOF or RDB \
             snapshots on, 0 neither (queued mail is lost if Redis restarts), -1 unknown \
             (CONFIG refused, or Redis not reached yet)",
            m.redis_persistence.clone(),
        );
        registry.register(
            "enqueue_to_accept_seconds",
            "Time from enqueue to the server's acceptance",
            m.enqueue_to_accept.clone(),
        );
        registry.register(
            "send_seconds",
            "Duration of one SMTP transaction",
            m.send_duration.clone(),
        );
        Metrics { registry, ..m }
    }

    pub fn set_status(&self, status: &QueueStatus) {
        self.queued.set(status.queued as i64);
        self.pending.set(status.pending as i64);
        self.retrying.set(status.retrying as i64);
        self.dead_letters.set(status.dead as i64);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("metrics encode");
        out
    }
}

/// Serves `GET /metrics` until the process ends.
pub async fn serve(bind: SocketAddr, metrics: Arc<Metrics>) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(bind).await?;
    tracing::info!(addr = %listener.local_addr()?, "metrics on /metrics");
    let app = Router::new()
        .route("/metrics", get(metrics_page))
        .with_state(metrics);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "metrics server stopped");
        }
    });
    Ok(())
}

async fn metrics_page(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.render(),
    )
}
