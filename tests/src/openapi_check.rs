//! The OpenAPI document as a test oracle.
//!
//! - [`validate_document`] holds a document to the official OpenAPI 3.1 schema (pinned in
//!   `tests/schemas/`, see its README), and each schema in it to JSON Schema 2020-12, which the
//!   official schema leaves to the dialect.
//! - A [`Checker`] made from a document checks a JSON body the API answered against the schema
//!   of its route (the path template the request matched) and status, strictly: an object may
//!   carry no property its schema does not name, required properties must be there, and
//!   formats (`date-time`, `date`, `email`, `uri`) are checked.
//! - [`check_answer`] is what the API helpers of [`crate::TestApp`] call on every JSON body
//!   they receive, with a checker made once per test binary from the served
//!   `/api/v1/openapi.json`: a test fails when the API answers what its document does not say.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use jsonschema::{Draft, Validator};
use serde_json::{Map, Value};

use crate::TestApp;

/// The official OpenAPI 3.1 schema (`https://spec.openapis.org/oas/3.1/schema/2022-10-07`).
pub const OPENAPI_31_SCHEMA: &str = include_str!("../schemas/openapi-3.1.json");

/// Where the API serves its document.
pub const DOCUMENT_PATH: &str = "/api/v1/openapi.json";

/// Every way `doc` is not a valid OpenAPI 3.1 document, one line each.
pub fn validate_document(doc: &Value) -> Result<(), Vec<String>> {
    let schema: Value = serde_json::from_str(OPENAPI_31_SCHEMA).expect("the pinned schema is JSON");
    let validator = jsonschema::options()
        .with_draft(Draft::Draft202012)
        .build(&schema)
        .expect("the pinned schema compiles");
    let mut problems: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    let mut schemas = Vec::new();
    schemas_in(doc, String::new(), &mut schemas);
    for (at, schema) in schemas {
        if let Err(e) = jsonschema::draft202012::meta::validate(schema) {
            problems.push(format!("{at}: not a JSON Schema 2020-12 schema: {e}"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// The Schema Objects of a document: the values of `schema` keys (parameters, media types,
/// headers) and of `components.schemas`, with where they are.
fn schemas_in<'a>(value: &'a Value, at: String, found: &mut Vec<(String, &'a Value)>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let here = format!("{at}/{key}");
                if key == "schema" {
                    found.push((here, child));
                } else if key == "schemas" && at == "/components" {
                    if let Value::Object(schemas) = child {
                        for (name, schema) in schemas {
                            found.push((format!("{here}/{name}"), schema));
                        }
                    }
                } else {
                    schemas_in(child, here, found);
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                schemas_in(item, format!("{at}/{i}"), found);
            }
        }
        _ => {}
    }
}

/// A documented operation: its method, its path template cut into segments, and where it is.
struct Route {
    method: String,
    segments: Vec<String>,
    template: String,
}

/// Checks JSON bodies against the responses a document declares.
pub struct Checker {
    doc: Value,
    routes: Vec<Route>,
    /// Validators by `METHOD template status`, each compiled when first needed.
    compiled: Mutex<HashMap<String, Arc<Validator>>>,
}

impl Checker {
    pub fn new(doc: Value) -> Checker {
        let mut routes = Vec::new();
        if let Some(paths) = doc["paths"].as_object() {
            for (template, item) in paths {
                for method in item.as_object().into_iter().flat_map(|m| m.keys()) {
                    routes.push(Route {
                        method: method.to_ascii_uppercase(),
                        segments: template.split('/').map(str::to_string).collect(),
                        template: template.clone(),
                    });
                }
            }
        }
        Checker {
            doc,
            routes,
            compiled: Mutex::default(),
        }
    }

    /// Whether `body`, answered with `status` to `method path` (`path` may carry a query),
    /// is what the document says that route answers; otherwise every way it is not.
    pub fn check(&self, method: &str, path: &str, status: u16, body: &Value) -> Result<(), String> {
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let validator = self.validator(method, path, status)?;
        let problems: Vec<String> = validator
            .iter_errors(body)
            .map(|e| format!("at {:?}: {e}", e.instance_path().as_str()))
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }

    fn validator(&self, method: &str, path: &str, status: u16) -> Result<Arc<Validator>, String> {
        let (key, schema) = match self.route(method, path) {
            Some(route) => {
                let key = format!("{} {} {status}", route.method, route.template);
                (key, self.response_schema(route, status)?)
            }
            // A path the API does not have answers 404 with the error shape.
            None if status == 404 && !self.routes.iter().any(|r| r.matches(path)) => (
                "no route 404".to_string(),
                serde_json::json!({ "$ref": "#/components/schemas/Error" }),
            ),
            None => return Err(format!("the document has no operation {method} {path}")),
        };
        let mut compiled = self.compiled.lock().expect("not poisoned");
        if let Some(validator) = compiled.get(&key) {
            return Ok(validator.clone());
        }
        let strict = strict(&schema, &self.doc, 0)?;
        let validator = jsonschema::options()
            .with_draft(Draft::Draft202012)
            .should_validate_formats(true)
            .build(&strict)
            .map_err(|e| format!("{key}: the schema does not compile: {e}"))?;
        let validator = Arc::new(validator);
        compiled.insert(key, validator.clone());
        Ok(validator)
    }

    /// The operation for `method path`; a literal segment beats a template one.
    fn route(&self, method: &str, path: &str) -> Option<&Route> {
        self.routes
            .iter()
            .filter(|r| r.method.eq_ignore_ascii_case(method) && r.matches(path))
            .max_by_key(|r| r.segments.iter().filter(|s| !s.starts_with('{')).count())
    }

    /// The JSON schema of the answer of `route` with `status`.
    fn response_schema(&self, route: &Route, status: u16) -> Result<Value, String> {
        let operation = &self.doc["paths"][&route.template][route.method.to_ascii_lowercase()];
        let responses = &operation["responses"];
        let range = format!("{}XX", status / 100);
        let response = [status.to_string(), range, "default".to_string()]
            .iter()
            .find_map(|key| responses.get(key))
            .ok_or_else(|| {
                format!(
                    "{} {} does not document status {status}",
                    route.method, route.template
                )
            })?;
        let response = resolve(response, &self.doc)?;
        response["content"]["application/json"]
            .get("schema")
            .cloned()
            .ok_or_else(|| {
                format!(
                    "{} {} documents no JSON body for status {status}",
                    route.method, route.template
                )
            })
    }
}

impl Route {
    fn matches(&self, path: &str) -> bool {
        let segments: Vec<&str> = path.split('/').collect();
        segments.len() == self.segments.len()
            && self
                .segments
                .iter()
                .zip(&segments)
                .all(|(template, segment)| {
                    template == segment || (template.starts_with('{') && !segment.is_empty())
                })
    }
}

/// The target of a local `$ref`, or `value` itself.
fn resolve<'a>(value: &'a Value, doc: &'a Value) -> Result<&'a Value, String> {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => reference
            .strip_prefix('#')
            .and_then(|pointer| doc.pointer(pointer))
            .ok_or_else(|| format!("{reference} does not resolve")),
        None => Ok(value),
    }
}

/// `schema` with every reference put in place, `allOf`s of objects merged into one object,
/// and every object with `properties` closed (`additionalProperties: false`) — merging first,
/// so a property one part of an `allOf` names is not refused by another.
fn strict(schema: &Value, doc: &Value, depth: usize) -> Result<Value, String> {
    if depth > 64 {
        return Err("the schema nests too deep (a recursive reference?)".into());
    }
    let Value::Object(map) = schema else {
        return Ok(schema.clone());
    };
    if map.contains_key("$ref") {
        // The siblings of a reference (a description, an example) say nothing about shape.
        return strict(resolve(schema, doc)?, doc, depth + 1);
    }
    let mut out = Map::new();
    for (key, value) in map {
        let value = match (key.as_str(), value) {
            ("properties" | "patternProperties" | "$defs", Value::Object(children)) => {
                let mut strict_children = Map::new();
                for (name, child) in children {
                    strict_children.insert(name.clone(), strict(child, doc, depth + 1)?);
                }
                Value::Object(strict_children)
            }
            ("allOf" | "anyOf" | "oneOf" | "prefixItems", Value::Array(items)) => Value::Array(
                items
                    .iter()
                    .map(|item| strict(item, doc, depth + 1))
                    .collect::<Result<_, _>>()?,
            ),
            (
                "items" | "additionalProperties" | "not" | "contains" | "if" | "then" | "else",
                Value::Object(_),
            ) => strict(value, doc, depth + 1)?,
            _ => value.clone(),
        };
        out.insert(key.clone(), value);
    }
    let mergeable = out
        .get("allOf")
        .and_then(Value::as_array)
        .is_some_and(|parts| parts.iter().all(is_object_schema));
    if mergeable && let Some(Value::Array(parts)) = out.remove("allOf") {
        for part in parts {
            let Value::Object(part) = part else { continue };
            for (key, value) in part {
                match key.as_str() {
                    "properties" => {
                        let properties = out
                            .entry("properties")
                            .or_insert_with(|| Value::Object(Map::new()));
                        if let (Value::Object(into), Value::Object(from)) = (properties, value) {
                            into.extend(from);
                        }
                    }
                    "required" => {
                        let required = out
                            .entry("required")
                            .or_insert_with(|| Value::Array(Vec::new()));
                        if let (Value::Array(into), Value::Array(from)) = (required, value) {
                            into.extend(from);
                        }
                    }
                    "additionalProperties" => {}
                    _ => {
                        out.entry(key).or_insert(value);
                    }
                }
            }
        }
    }
    if out.contains_key("properties") && !out.contains_key("additionalProperties") {
        out.insert("additionalProperties".into(), Value::Bool(false));
    }
    Ok(Value::Object(out))
}

fn is_object_schema(schema: &Value) -> bool {
    schema.get("properties").is_some() || schema["type"] == "object"
}

/// The checker of the document the API serves, fetched from the first app that asks.
pub async fn served(app: &TestApp) -> &'static Checker {
    static SERVED: tokio::sync::OnceCell<Checker> = tokio::sync::OnceCell::const_new();
    SERVED
        .get_or_init(|| async {
            let doc: Value = reqwest::get(app.plain_url(DOCUMENT_PATH))
                .await
                .expect("the OpenAPI document is served")
                .json()
                .await
                .expect("the OpenAPI document is JSON");
            Checker::new(doc)
        })
        .await
}

/// Fails the test when `body`, a JSON answer of the API to `method path` with `status`, is not
/// what the served document says that route answers. A missing body (`Null`) is not checked.
pub async fn check_answer(app: &TestApp, method: &str, path: &str, status: u16, body: &Value) {
    if body.is_null() {
        return;
    }
    if let Err(problem) = served(app).await.check(method, path, status, body) {
        panic!(
            "{method} {path} answered {status} with a body its OpenAPI document does not allow: \
             {problem}\nbody: {body}"
        );
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::{Checker, validate_document};

    fn generated() -> Value {
        let json = portico_gateway::http::api::document()
            .to_json()
            .expect("the document serializes");
        serde_json::from_str(&json).expect("JSON")
    }

    #[test]
    fn the_generated_document_is_valid_and_planted_defects_are_found() {
        let doc = generated();
        assert_eq!(validate_document(&doc), Ok(()));

        // A path item with a field OpenAPI does not have.
        let mut bad = doc.clone();
        bad["paths"]["/api/v1/firm"]["fetch"] = json!({"responses": {}});
        let problems = validate_document(&bad).expect_err("an unknown path item field");
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("/paths/~1api~1v1~1firm")),
            "{problems:?}"
        );

        // An operation without responses, and a security scheme of no known type.
        let mut bad = doc.clone();
        bad["paths"]["/api/v1/firm"]["get"]
            .as_object_mut()
            .unwrap()
            .remove("responses");
        bad["components"]["securitySchemes"]["apiKey"]["type"] = json!("password");
        assert!(validate_document(&bad).is_err());

        // A schema that is not JSON Schema: the official schema leaves those to the dialect.
        let mut bad = doc;
        bad["components"]["schemas"]["Firm"]["type"] = json!("thing");
        let problems = validate_document(&bad).expect_err("a bad schema type");
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("/components/schemas/Firm")),
            "{problems:?}"
        );
    }

    fn contact() -> Value {
        json!({
            "id": "ct_0000000000000000000000",
            "name": "Ann",
            "email": "ann@example.com",
            "portal_access": true,
            "last_login_at": null,
            "created_at": "2026-01-02T03:04:05Z",
            "updated_at": "2026-01-02T03:04:05Z",
            "assigned_staff": [],
            "account_id": "ca_0000000000000000000000",
            "permission_set": "client_manager",
        })
    }

    #[test]
    fn bodies_are_held_to_their_route_and_status() {
        let checker = Checker::new(generated());
        let ok = |method, path, status, body: &Value| checker.check(method, path, status, body);
        assert_eq!(ok("GET", "/api/v1/contacts/ct_1", 200, &contact()), Ok(()));
        let page = json!({"data": [contact()], "next_cursor": null});
        assert_eq!(ok("GET", "/api/v1/contacts?limit=1", 200, &page), Ok(()));
        let error = json!({"error": {"code": "not_found", "message": "not found"}});
        assert_eq!(ok("GET", "/api/v1/contacts/ct_1", 404, &error), Ok(()));
        assert_eq!(ok("GET", "/api/v1/no-such-thing", 404, &error), Ok(()));

        let mut unknown = contact();
        unknown["admin"] = json!(true);
        let mut missing = contact();
        missing.as_object_mut().unwrap().remove("last_login_at");
        let mut mistyped = contact();
        mistyped["portal_access"] = json!("yes");
        let mut unformatted = contact();
        unformatted["created_at"] = json!("yesterday");
        for wrong in [unknown, missing, mistyped, unformatted] {
            assert!(
                ok("GET", "/api/v1/contacts/ct_1", 200, &wrong).is_err(),
                "{wrong}"
            );
            let page = json!({"data": [wrong], "next_cursor": null});
            assert!(ok("GET", "/api/v1/contacts", 200, &page).is_err(), "{page}");
        }
        // A task with its files is an `allOf`: its parts' properties are all allowed, and
        // nothing else.
        let mut task = json!({
            "id": "tk_1", "title": "Receipts", "description": "", "due_date": "2026-12-31",
            "portal": true, "status": "open", "completed_at": null, "completed_by": null,
            "assignees": [], "account_id": null, "checklist": [], "files": [],
            "created_at": "2026-01-02T03:04:05Z", "updated_at": "2026-01-02T03:04:05Z",
        });
        assert_eq!(ok("GET", "/api/v1/tasks/tk_1", 200, &task), Ok(()));
        assert!(ok("PATCH", "/api/v1/tasks/tk_1", 200, &task).is_err());
        task["status"] = json!("late");
        assert!(ok("GET", "/api/v1/tasks/tk_1", 200, &task).is_err());

        assert!(ok("GET", "/api/v1/contacts/ct_1", 418, &error).is_err());
        assert!(ok("DELETE", "/api/v1/firm", 200, &contact()).is_err());
        let error_with_extra = json!({"error": {"code": "x", "message": "y", "trace": "z"}});
        assert!(ok("GET", "/api/v1/contacts/ct_1", 404, &error_with_extra).is_err());
    }
}
