//! Prometheus metrics of the gateway, served as text on `GET /metrics`. Each gateway holds its
//! own registry (no global recorder), so several can run in one process, as tests do.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::error::Dependency;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DependencyLabels {
    pub dependency: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: &'static str,
}

type Latency = Family<RouteLabels, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Latency,
    links_issued: Family<KindLabels, Counter>,
    links_consumed: Family<KindLabels, Counter>,
    links_rejected: Family<KindLabels, Counter>,
    rate_limit_hits: Family<KindLabels, Counter>,
    pub sessions_started: Counter,
    /// Home pages answered from the page cache, and rendered afresh.
    pub home_pages: Family<KindLabels, Counter>,
    pub mail_queue_depth: Gauge,
    pub mail_dead_depth: Gauge,
    /// Whether Redis keeps its data across a restart, read at start
    /// (`portico_shared::redis_persistence`): 1 yes, 0 no, -1 unknown.
    pub redis_persistence: Gauge,
    proxy_without_forwarded_for: Counter,
    warned_proxy: AtomicBool,
    /// Requests answered 503 because Redis or the database failed, by which.
    dependency_errors: Family<DependencyLabels, Counter>,
}

fn latency_histogram() -> Histogram {
    // 0.25 ms … ~4 s
    Histogram::new(exponential_buckets(0.000_25, 2.0, 15))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("portico");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: Latency = Family::new_with_constructor(latency_histogram);
        let links_issued = Family::<KindLabels, Counter>::default();
        let links_consumed = Family::<KindLabels, Counter>::default();
        let links_rejected = Family::<KindLabels, Counter>::default();
        let rate_limit_hits = Family::<KindLabels, Counter>::default();
        let sessions_started = Counter::default();
        let home_pages = Family::<KindLabels, Counter>::default();
        let mail_queue_depth = Gauge::default();
        let mail_dead_depth = Gauge::default();
        let redis_persistence = Gauge::default();
        // Unknown until the check at start has answered.
        redis_persistence.set(-1);
        let proxy_without_forwarded_for = Counter::default();
        let dependency_errors = Family::<DependencyLabels, Counter>::default();
        // Both series exist from the start, so a dashboard's rate() sees the first error.
        for dependency in [Dependency::Redis, Dependency::Database] {
            drop(dependency_errors.get_or_create(&DependencyLabels {
                dependency: dependency.label(),
            }));
        }
        registry.register(
            "dependency_errors",
            "Requests answered 503 because a shared component failed, by dependency \
             (redis, database)",
            dependency_errors.clone(),
        );
        registry.register(
            "proxy_requests_without_forwarded_for",
            "Requests from a trusted proxy that carried no X-Forwarded-For",
            proxy_without_forwarded_for.clone(),
        );
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request",
            latency.clone(),
        );
        registry.register(
            "links_issued",
            "Magic links issued, by purpose",
            links_issued.clone(),
        );
        registry.register(
            "links_consumed",
            "Magic links used to sign in, by proof (binding cookie or code)",
            links_consumed.clone(),
        );
        registry.register(
            "links_rejected",
            "Magic links refused, by reason",
            links_rejected.clone(),
        );
        registry.register(
            "rate_limit_hits",
            "Requests refused by a rate limit, by limiter",
            rate_limit_hits.clone(),
        );
        registry.register(
            "sessions_started",
            "Sessions started",
            sessions_started.clone(),
        );
        registry.register(
            "home_pages",
            "Client home pages, by source (cache or render)",
            home_pages.clone(),
        );
        registry.register(
            "mail_queue_depth",
            "Entries in the mail stream (sampled when scraped)",
            mail_queue_depth.clone(),
        );
        registry.register(
            "mail_dead_depth",
            "Entries in the dead-letter mail stream (sampled when scraped)",
            mail_dead_depth.clone(),
        );
        registry.register(
            "redis_persistence",
            "Whether Redis keeps its data across a restart, read at start: 1 AOF or RDB \
             snapshots on, 0 neither (queued mail is lost if Redis restarts), -1 unknown \
             (CONFIG refused)",
            redis_persistence.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            links_issued,
            links_consumed,
            links_rejected,
            rate_limit_hits,
            sessions_started,
            home_pages,
            mail_queue_depth,
            mail_dead_depth,
            redis_persistence,
            proxy_without_forwarded_for,
            warned_proxy: AtomicBool::new(false),
            dependency_errors,
        }
    }
}

impl Metrics {
    /// A request from a trusted proxy without `X-Forwarded-For`: counted, and the first one
    /// logged (the proxy is misconfigured: all its clients share its address).
    pub fn proxy_without_forwarded_for(&self, proxy: IpAddr) {
        self.proxy_without_forwarded_for.inc();
        if !self.warned_proxy.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                %proxy,
                "a trusted proxy sent a request without X-Forwarded-For: every client behind it \
                 shares one address and one rate-limit bucket; make it add the header \
                 (counted in portico_proxy_requests_without_forwarded_for_total; logged once)"
            );
        }
    }

    pub fn link_issued(&self, kind: &'static str) {
        self.links_issued.get_or_create(&KindLabels { kind }).inc();
    }

    pub fn link_consumed(&self, kind: &'static str) {
        self.links_consumed
            .get_or_create(&KindLabels { kind })
            .inc();
    }

    pub fn home_page(&self, source: &'static str) {
        self.home_pages
            .get_or_create(&KindLabels { kind: source })
            .inc();
    }

    pub fn link_rejected(&self, kind: &'static str) {
        self.links_rejected
            .get_or_create(&KindLabels { kind })
            .inc();
    }

    /// A request answered 503 because `dependency` failed.
    pub fn dependency_error(&self, dependency: Dependency) {
        self.dependency_errors
            .get_or_create(&DependencyLabels {
                dependency: dependency.label(),
            })
            .inc();
    }

    pub fn rate_limited(&self, kind: &'static str) {
        self.rate_limit_hits
            .get_or_create(&KindLabels { kind })
            .inc();
    }

    /// One request answered: counted and timed by its route pattern (never the raw path,
    /// which would carry ids and let the label set grow without bound).
    pub fn request(&self, method: String, route: String, status: u16, elapsed: Duration) {
        self.latency
            .get_or_create(&RouteLabels {
                route: route.clone(),
            })
            .observe(elapsed.as_secs_f64());
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route,
                status,
            })
            .inc();
    }

    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}
