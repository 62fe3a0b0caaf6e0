//! The load generator: plain HTTP/1.1 keep-alive connections (hyper, one per worker), each
//! sending its next request as soon as the previous answer is read in full. Latency is from
//! writing the request to having the whole body.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, HOST, HeaderMap};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Where requests go: a socket address, and the `Host` header that selects the firm.
#[derive(Clone, Debug)]
pub struct Target {
    pub addr: SocketAddr,
    pub host: String,
}

/// One request to send, and the status that counts as success.
pub struct Req {
    pub method: Method,
    pub path: String,
    pub cookie: Option<String>,
    pub authorization: Option<String>,
    /// The body and its content type.
    pub body: Option<(&'static str, String)>,
    pub expect: StatusCode,
    /// Which series the latency belongs to (for interleaved phases).
    pub label: usize,
    /// Further request headers (e.g. `x-request-id`).
    pub headers: Vec<(&'static str, String)>,
    /// Text the body must contain to count as success, so an error page with the expected
    /// status is never measured as an answer.
    pub must_contain: Option<Arc<str>>,
}

impl Req {
    pub fn get(path: &str) -> Req {
        Req {
            method: Method::GET,
            path: path.to_string(),
            cookie: None,
            authorization: None,
            body: None,
            expect: StatusCode::OK,
            label: 0,
            headers: Vec::new(),
            must_contain: None,
        }
    }

    /// `POST` of a JSON body with a bearer key.
    pub fn post_json(path: &str, bearer: &str, json: &serde_json::Value) -> Req {
        Req {
            method: Method::POST,
            path: path.to_string(),
            cookie: None,
            authorization: Some(format!("Bearer {bearer}")),
            body: Some(("application/json", json.to_string())),
            expect: StatusCode::CREATED,
            label: 0,
            headers: Vec::new(),
            must_contain: None,
        }
    }

    pub fn post_form(path: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> Req {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        Req {
            method: Method::POST,
            path: path.to_string(),
            cookie: cookie.map(str::to_string),
            authorization: None,
            body: Some(("application/x-www-form-urlencoded", body)),
            expect: StatusCode::OK,
            label: 0,
            headers: Vec::new(),
            must_contain: None,
        }
    }

    pub fn expect(mut self, status: StatusCode) -> Req {
        self.expect = status;
        self
    }

    pub fn label(mut self, label: usize) -> Req {
        self.label = label;
        self
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Req {
        self.headers.push((name, value.to_string()));
        self
    }

    pub fn must_contain(mut self, text: Arc<str>) -> Req {
        self.must_contain = Some(text);
        self
    }

    /// Whether `answer` is what this request expects: the status, and the text if any.
    pub fn accepts(&self, answer: &Answer) -> bool {
        answer.status == self.expect
            && self.must_contain.as_deref().is_none_or(|text| {
                answer
                    .body
                    .windows(text.len())
                    .any(|w| w == text.as_bytes())
            })
    }
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One keep-alive HTTP/1.1 connection.
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> Result<Conn> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Conn { sender })
    }

    pub async fn send(&mut self, target: &Target, req: &Req) -> Result<Answer> {
        let mut builder = Request::builder()
            .method(req.method.clone())
            .uri(req.path.as_str())
            .header(HOST, target.host.as_str());
        if let Some(cookie) = &req.cookie {
            builder = builder.header(COOKIE, cookie.as_str());
        }
        for (name, value) in &req.headers {
            builder = builder.header(*name, value.as_str());
        }
        if let Some(authorization) = &req.authorization {
            builder = builder.header(AUTHORIZATION, authorization.as_str());
        }
        let body = match &req.body {
            Some((content_type, body)) => {
                builder = builder.header(CONTENT_TYPE, *content_type);
                Full::new(Bytes::from(body.clone()))
            }
            None => Full::new(Bytes::new()),
        };
        self.sender.ready().await?;
        let response = self.sender.send_request(builder.body(body)?).await?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}

/// One timed request.
#[derive(Clone, Copy)]
pub struct Sample {
    pub label: usize,
    pub latency: Duration,
}

#[derive(Default)]
pub struct Stats {
    pub ok: Vec<Sample>,
    pub errors: usize,
    /// The first unexpected answer, for the report.
    pub first_error: Option<String>,
    pub elapsed: Duration,
}

impl Stats {
    pub fn count(&self) -> usize {
        self.ok.len()
    }

    pub fn rps(&self) -> f64 {
        if self.elapsed.is_zero() {
            return 0.0;
        }
        self.ok.len() as f64 / self.elapsed.as_secs_f64()
    }

    /// The `p` quantile (nearest rank) of the successful requests' latencies, in ms,
    /// of one series (`Some(label)`) or of all.
    pub fn quantile_ms(&self, label: Option<usize>, p: f64) -> f64 {
        let mut latencies: Vec<Duration> = self
            .ok
            .iter()
            .filter(|s| label.is_none_or(|l| s.label == l))
            .map(|s| s.latency)
            .collect();
        if latencies.is_empty() {
            return f64::NAN;
        }
        latencies.sort_unstable();
        let rank = ((p * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len());
        latencies[rank - 1].as_secs_f64() * 1e3
    }

    pub fn label_count(&self, label: usize) -> usize {
        self.ok.iter().filter(|s| s.label == label).count()
    }

    pub fn error_rate(&self) -> f64 {
        let total = self.ok.len() + self.errors;
        if total == 0 {
            return 1.0;
        }
        self.errors as f64 / total as f64
    }
}

/// Builds request number `seq` for worker `worker`.
pub type MakeReq = Arc<dyn Fn(usize, usize) -> Req + Send + Sync>;

/// How hard and how long to push.
#[derive(Clone, Copy)]
pub struct Plan {
    pub connections: usize,
    pub duration: Duration,
    /// At most this many requests.
    pub limit: usize,
}

/// Runs `connections` workers, each on its own connection, until `duration` has passed or
/// `limit` requests have been started. All connections are open before the clock starts.
pub async fn run(target: &Target, plan: Plan, make: MakeReq) -> Result<Stats> {
    run_paced(target, plan, None, make).await
}

/// [`run`], with the requests paced at `rate` per second when it is given: two servers loaded
/// at the same rate can be compared per request (a server's CPU per request falls as its load
/// rises and wake-ups are shared).
///
/// The requests are released one by one by a [`Pacer`] thread, at the times of a Poisson
/// process (as independent clients arrive) drawn from a fixed seed, so that both sides of a
/// comparison get the same schedule. tokio's timer has a resolution of 1 ms: sleeping until
/// each request's time released them in bursts of `rate / 1000`, and how a burst's Redis
/// commands then met on a shared connection depended on how fast each server got through
/// the burst, not on the commands themselves.
pub async fn run_paced(
    target: &Target,
    plan: Plan,
    rate: Option<f64>,
    make: MakeReq,
) -> Result<Stats> {
    let Plan {
        connections,
        duration,
        limit,
    } = plan;
    let next = Arc::new(AtomicUsize::new(0));
    let (start_tx, start_rx) = tokio::sync::watch::channel::<Option<Instant>>(None);
    let mut conns = Vec::with_capacity(connections);
    for _ in 0..connections {
        conns.push(Conn::open(target.addr).await?);
    }
    let pacer = rate.map(|rate| Pacer::new(rate, duration));
    let mut workers = Vec::with_capacity(connections);
    for (worker, mut conn) in conns.into_iter().enumerate() {
        let (target, next, make) = (target.clone(), next.clone(), make.clone());
        let mut start_rx = start_rx.clone();
        let permits = pacer.as_ref().map(|p| p.permits.clone());
        workers.push(tokio::spawn(async move {
            let start = start_rx
                .wait_for(Option::is_some)
                .await
                .map(|s| s.expect("set"))
                .unwrap_or_else(|_| Instant::now());
            let deadline = start + duration;
            let mut stats = Stats::default();
            let mut last = start;
            loop {
                if Instant::now() >= deadline {
                    break;
                }
                if let Some(permits) = &permits {
                    match permits.acquire().await {
                        Ok(permit) => permit.forget(),
                        // Closed: the pacer has released every request due before the deadline.
                        Err(_) => break,
                    }
                }
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if seq >= limit {
                    break;
                }
                let req = make(worker, seq);
                let sent = Instant::now();
                let outcome = conn.send(&target, &req).await;
                last = Instant::now();
                match outcome {
                    Ok(answer) if req.accepts(&answer) => stats.ok.push(Sample {
                        label: req.label,
                        latency: last - sent,
                    }),
                    Ok(answer) => {
                        stats.errors += 1;
                        if stats.first_error.is_none() {
                            let text = answer.text();
                            let snippet: String = text.chars().take(160).collect();
                            stats.first_error = Some(format!(
                                "{} {} answered {} (expected {}{}): {}",
                                req.method,
                                req.path,
                                answer.status,
                                req.expect,
                                match &req.must_contain {
                                    Some(text) => format!(" with {text:?}"),
                                    None => String::new(),
                                },
                                snippet.replace('\n', " ")
                            ));
                        }
                    }
                    Err(e) => {
                        stats.errors += 1;
                        if stats.first_error.is_none() {
                            stats.first_error = Some(format!("{} {}: {e:#}", req.method, req.path));
                        }
                        match Conn::open(target.addr).await {
                            Ok(fresh) => conn = fresh,
                            Err(_) => break,
                        }
                    }
                }
            }
            (stats, last)
        }));
    }
    let start = Instant::now();
    start_tx.send(Some(start))?;
    if let Some(pacer) = &pacer {
        pacer.start(start);
    }
    let mut total = Stats::default();
    let mut end = start;
    for worker in workers {
        let (stats, last) = worker.await?;
        total.ok.extend(stats.ok);
        total.errors += stats.errors;
        if total.first_error.is_none() {
            total.first_error = stats.first_error;
        }
        end = end.max(last);
    }
    total.elapsed = end - start;
    Ok(total)
}

/// Releases requests from `start` until the deadline, with exponentially distributed gaps of
/// mean `1 / rate` (a Poisson process), from a thread of its own: `std::thread::sleep` wakes
/// within tens of microseconds, where tokio's timer rounds to the millisecond. A request
/// released late (the thread was descheduled) is released at once, so the rate holds over the
/// run.
struct Pacer {
    permits: Arc<tokio::sync::Semaphore>,
    rate: f64,
    duration: Duration,
}

impl Pacer {
    fn new(rate: f64, duration: Duration) -> Self {
        Pacer {
            permits: Arc::new(tokio::sync::Semaphore::new(0)),
            rate,
            duration,
        }
    }

    fn start(&self, start: Instant) {
        let (permits, rate, deadline) = (self.permits.clone(), self.rate, start + self.duration);
        std::thread::spawn(move || {
            let mut arrivals = Arrivals::new(rate);
            loop {
                let due = start + arrivals.next_offset();
                if due >= deadline || permits.is_closed() {
                    break;
                }
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                permits.add_permits(1);
            }
            permits.close();
        });
    }
}

impl Drop for Pacer {
    /// Stops the thread when the run ends early (every worker gone after errors or `limit`).
    fn drop(&mut self) {
        self.permits.close();
    }
}

/// The arrival times of a Poisson process of `rate` per second, from a fixed seed
/// (SplitMix64): the same sequence on every run.
struct Arrivals {
    rate: f64,
    state: u64,
    at: f64,
}

impl Arrivals {
    fn new(rate: f64) -> Self {
        Arrivals {
            rate,
            state: 0x005E_ED0F_A221_7A15,
            at: 0.0,
        }
    }

    /// The next arrival, as an offset from the start.
    fn next_offset(&mut self) -> Duration {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // Uniform in (0, 1]: 53 random bits, never 0, so the logarithm is finite.
        let uniform = ((z >> 11) + 1) as f64 / (1u64 << 53) as f64;
        self.at += -uniform.ln() / self.rate;
        Duration::from_secs_f64(self.at)
    }
}

#[cfg(test)]
mod tests {
    use super::Arrivals;

    #[test]
    fn arrivals_keep_the_rate_and_repeat() {
        let (mut a, mut b) = (Arrivals::new(1000.0), Arrivals::new(1000.0));
        let mut last = std::time::Duration::ZERO;
        for _ in 0..100_000 {
            let next = a.next_offset();
            assert!(next >= last);
            assert_eq!(next, b.next_offset(), "the same schedule every time");
            last = next;
        }
        // 100,000 arrivals at 1,000 a second take about 100 s.
        assert!((99.0..101.0).contains(&last.as_secs_f64()), "{last:?}");
    }
}
