//! The OpenAPI document describes exactly the API that is served: every route the router is
//! built from is documented, every documented route is served (except the few listed below),
//! and the routes answer over HTTP as the lists say. The document is valid OpenAPI 3.1, and
//! the check every API helper runs on the bodies it receives refuses one it does not allow.

use std::collections::BTreeSet;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use portico_e2e::TestApp;
use portico_e2e::openapi_check::{check_answer, served as served_document, validate_document};
use portico_gateway::http::api::served;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The message of a 404 for a path the API does not have (a missing record says otherwise).
const NO_ROUTE: &str = "no such API route";

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            let method = method.to_ascii_uppercase();
            assert!(METHODS.contains(&method.as_str()), "{method} {path}");
            routes.insert((method, path.clone()));
        }
    }
    routes
}

/// Every `$ref` in the document, to check that each resolves.
fn refs(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                found.push(r.clone());
            }
            map.values().for_each(|v| refs(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
        _ => {}
    }
}

/// A concrete URL path for a templated one.
fn concrete(path: &str) -> String {
    path.replace("{id}", "xx_0000000000000000000000")
        .replace("{file}", "fl_0000000000000000000000")
}

async fn call(app: &TestApp, key: &str, method: &str, path: &str) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .request(
            Method::from_bytes(method.as_bytes()).unwrap(),
            app.plain_url(&concrete(path)),
        )
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body = response.text().await.unwrap();
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_document_matches_the_routes_the_server_serves() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;

    // Public: no key needed.
    let response = reqwest::Client::new()
        .get(app.plain_url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let doc: Value = response.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    if let Err(problems) = validate_document(&doc) {
        panic!("not a valid OpenAPI 3.1 document:\n{}", problems.join("\n"));
    }

    let documented = documented(&doc);
    let served: BTreeSet<(String, String)> = served()
        .into_iter()
        .map(|(m, p)| (m.as_str().to_string(), p))
        .collect();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "served but not in openapi.json: {undocumented:?}"
    );
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        unserved.is_empty(),
        "in openapi.json but not served: {unserved:?}"
    );

    // The list is what the router is built from: each served route answers (never "no such
    // route" or "method not allowed"), and methods not documented for a path are not allowed.
    for (method, path) in &served {
        let (status, body) = call(&app, &firm.api_key, method, path).await;
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert_ne!(body["error"]["message"], NO_ROUTE, "{method} {path}");
        assert!(
            !status.is_server_error(),
            "{method} {path}: {status} {body}"
        );
    }
    let paths: BTreeSet<&String> = served.iter().map(|(_, p)| p).collect();
    for path in paths {
        for method in METHODS {
            if documented.contains(&(method.to_string(), path.clone())) {
                continue;
            }
            let (status, _) = call(&app, &firm.api_key, method, path).await;
            assert_eq!(
                status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path} is served but not documented"
            );
        }
    }
    let (status, body) = call(&app, &firm.api_key, "GET", "/api/v1/no-such-thing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["message"], NO_ROUTE);

    // The document hangs together: references resolve, operations are complete, path
    // parameters are declared.
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(!found.is_empty());
    for r in found {
        let pointer = r.strip_prefix('#').expect("local reference");
        assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
    }
    let mut operation_ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().expect("operationId");
            assert!(operation_ids.insert(id.to_string()), "{id} twice");
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {path}"
            );
            let declared: BTreeSet<&str> = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter(|p| p["in"] == "path")
                        .filter_map(|p| p["name"].as_str())
                        .collect()
                })
                .unwrap_or_default();
            let in_path: BTreeSet<&str> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                .collect();
            assert_eq!(declared, in_path, "{method} {path}");
            let needs_key = path != "/api/v1/openapi.json";
            if needs_key {
                assert!(op["responses"]["401"].is_object(), "{method} {path}: 401");
            }
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn a_body_the_document_does_not_allow_is_refused() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    // Checked on the way in, as every answer of `api` is.
    let created = app
        .api_ok(
            &firm,
            Method::POST,
            "/api/v1/contacts",
            Some(json!({"name": "Ann", "email": "ann@example.com"})),
        )
        .await;
    let path = format!("/api/v1/contacts/{}", created["id"].as_str().unwrap());
    let (status, body) = app.api(&firm.api_key, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    let checker = served_document(&app).await;
    assert_eq!(checker.check("GET", &path, 200, &body), Ok(()));

    // The same answer with a property the document does not name.
    let mut wrong = body.clone();
    wrong["role"] = json!("admin");
    let problem = checker
        .check("GET", &path, 200, &wrong)
        .expect_err("an unknown property");
    assert!(problem.contains("role"), "{problem}");
    let failed = AssertUnwindSafe(check_answer(&app, "GET", &path, 200, &wrong))
        .catch_unwind()
        .await;
    assert!(failed.is_err(), "the helpers' check fails the test");

    // Without a required property, with a null where none may be, or as another status.
    let mut missing = body.clone();
    missing.as_object_mut().unwrap().remove("updated_at");
    assert!(checker.check("GET", &path, 200, &missing).is_err());
    let mut null = body.clone();
    null["email"] = Value::Null;
    assert!(checker.check("GET", &path, 200, &null).is_err());
    assert!(checker.check("GET", &path, 404, &body).is_err());
    app.stop().await;
}
