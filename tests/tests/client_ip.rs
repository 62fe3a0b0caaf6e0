//! The client's address behind proxies: IPv4-mapped proxy addresses match IPv4 trusted ranges,
//! and the per-IP limit counts an IPv6 client by its /64.

use portico_e2e::TestApp;
use reqwest::StatusCode;

/// Posts the login form `count` times, each forwarded for the address `forwarded(i)`;
/// returns the statuses.
async fn logins(
    app: &TestApp,
    forwarded: impl Fn(usize) -> String,
    count: usize,
) -> Vec<StatusCode> {
    let firm = app.create_firm("proxy").await;
    let login = app.url(&firm.firm.slug, "/login");
    let browser = app.browser();
    let csrf = browser.csrf(&login).await;
    let mut statuses = Vec::new();
    for i in 0..count {
        let r = browser
            .client
            .post(&login)
            .header("x-forwarded-for", forwarded(i))
            .form(&[("email", "x@example.com"), ("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        statuses.push(r.status());
    }
    statuses
}

fn behind_proxies(extra: &'static str) -> [(&'static str, &'static str); 3] {
    [
        ("PORTICO_LOGIN_PER_IP", "3/min"),
        ("PORTICO_TRUSTED_PROXIES", extra),
        ("PORTICO_METRICS_TOKEN", "metrics-token-0123456789"),
    ]
}

#[tokio::test]
async fn a_mapped_proxy_address_is_the_ipv4_proxy_it_names() {
    // The inner proxy reports itself IPv4-mapped; it is the trusted 10.0.0.0/8 proxy, so each
    // client in front of it has its own bucket (before, all shared the proxy's).
    let app = TestApp::spawn_with(&behind_proxies("127.0.0.1, 10.0.0.0/8")).await;
    let statuses = logins(&app, |i| format!("198.51.100.{i}, ::ffff:10.1.2.3"), 6).await;
    assert_eq!(statuses, [StatusCode::OK; 6]);
    app.stop().await;
}

#[tokio::test]
async fn an_ipv6_client_is_limited_by_its_64() {
    let app = TestApp::spawn_with(&behind_proxies("127.0.0.1")).await;
    // Hopping around one /64 does not escape the limit…
    let statuses = logins(&app, |i| format!("2001:db8:1:2::{:x}", i + 1), 4).await;
    assert_eq!(statuses[..3], [StatusCode::OK; 3]);
    assert_eq!(statuses[3], StatusCode::TOO_MANY_REQUESTS);
    // …while another /64 has its own bucket.
    let statuses = logins(&app, |_| "2001:db8:1:3::1".to_string(), 1).await;
    assert_eq!(statuses, [StatusCode::OK]);
    app.stop().await;
}
