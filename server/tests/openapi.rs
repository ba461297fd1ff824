//! The served OpenAPI document is complete and consistent: what a client generator or a fuzzer
//! (the `api` suite of `cargo xtask test` runs schemathesis on it) needs to trust it. The full
//! OpenAPI 3.1 validation (openapi-spec-validator) runs in that suite; these checks need no
//! Python.

mod common;

use std::collections::BTreeSet;

use common::{Backend, TestApp};
use reqwest::Method;
use serde_json::Value;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Every operation of the document: (method, path, operation).
fn operations(doc: &Value) -> Vec<(&str, &str, &Value)> {
    let paths = doc["paths"].as_object().expect("paths");
    let mut ops = Vec::new();
    for (path, item) in paths {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                ops.push((method, path.as_str(), op));
            }
        }
    }
    ops
}

/// The `{name}`s of a path template.
fn template_params(path: &str) -> BTreeSet<String> {
    path.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_owned()))
        .collect()
}

/// Follows a local `$ref` (`#/components/schemas/Name`).
fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    doc.pointer(reference.strip_prefix('#')?)
}

/// Every `$ref` anywhere below `v`.
fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r),
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_openapi_document_is_complete_and_consistent() {
    let app = TestApp::start(Backend::Sqlite).await;
    let (status, doc) = app
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(status, 200);
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        doc["openapi"]
    );

    let mut problems = Vec::new();
    let mut ids = BTreeSet::new();
    let ops = operations(&doc);
    assert!(ops.len() >= 20, "only {} operations", ops.len());
    for (method, path, op) in &ops {
        let at = format!("{} {path}", method.to_uppercase());
        match op["operationId"].as_str() {
            Some(id) if !ids.insert(id.to_owned()) => {
                problems.push(format!("{at}: operationId {id} is used twice"))
            }
            Some(_) => {}
            None => problems.push(format!("{at}: no operationId")),
        }

        // Path parameters are exactly the template's; the rest are query parameters.
        let params: Vec<&Value> = op["parameters"]
            .as_array()
            .map(|p| p.iter().collect())
            .unwrap_or_default();
        let mut in_path = BTreeSet::new();
        for p in &params {
            let name = p["name"].as_str().unwrap_or_default();
            match p["in"].as_str() {
                Some("path") => {
                    in_path.insert(name.to_owned());
                    if p["required"] != true {
                        problems.push(format!("{at}: path parameter {name} is not required"));
                    }
                }
                Some("query") => {}
                other => problems.push(format!("{at}: parameter {name} is in {other:?}")),
            }
        }
        if in_path != template_params(path) {
            problems.push(format!(
                "{at}: path parameters {in_path:?} are not the template's"
            ));
        }

        // Every failure answers with the one error shape; an operation that takes a session,
        // a body or a parameter documents its 4xx.
        let responses = op["responses"].as_object().expect("responses");
        for (status, resp) in responses {
            if status.starts_with('4') || status.starts_with('5') {
                let schema = &resp["content"]["application/json"]["schema"]["$ref"];
                if schema != "#/components/schemas/ErrorBody" {
                    problems.push(format!("{at}: {status} is not an ErrorBody"));
                }
            }
        }
        let can_fail =
            op.get("security").is_some() || op.get("requestBody").is_some() || !params.is_empty();
        if can_fail && !responses.keys().any(|s| s.starts_with('4')) {
            problems.push(format!("{at}: no 4xx answer documented"));
        }
        if op.get("security").is_some() && !responses.contains_key("401") {
            problems.push(format!("{at}: takes a session but documents no 401"));
        }
        if op.get("requestBody").is_some() {
            for status in ["400", "413", "415", "422"] {
                if !responses.contains_key(status) {
                    problems.push(format!("{at}: takes JSON but documents no {status}"));
                }
            }
        }
    }

    let mut all_refs = Vec::new();
    refs(&doc, &mut all_refs);
    for r in all_refs {
        if resolve(&doc, r).is_none() {
            problems.push(format!("{r} does not resolve"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_schemas_state_what_the_server_enforces() {
    let app = TestApp::start(Backend::Sqlite).await;
    let (_, doc) = app
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    let schema = |name: &str| doc["components"]["schemas"][name].clone();
    let invite = schema("InviteRequest");
    assert_eq!(invite["properties"]["visitorName"]["minLength"], 1);
    // Text refuses control characters.
    assert!(
        invite["properties"]["visitorName"]["pattern"]
            .as_str()
            .is_some_and(|p| p.contains("\\u0000"))
    );
    assert_eq!(invite["properties"]["validForMinutes"]["maximum"], 10080);
    assert_eq!(invite["properties"]["validForMinutes"]["minimum"], 1);
    assert_eq!(invite["additionalProperties"], false);
    let checkin = schema("CheckinRequest");
    let one_of = checkin["oneOf"]
        .as_array()
        .expect("CheckinRequest is a oneOf");
    let required: Vec<&Value> = one_of.iter().map(|s| &s["required"][0]).collect();
    assert_eq!(required, ["otp", "qr"]);
    assert_eq!(
        schema("InternalNotifyRequest")["properties"]["ttlSeconds"]["maximum"],
        28 * 24 * 3600
    );
    let list = &doc["paths"]["/api/v1/notifications"]["get"]["parameters"];
    let limit = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap();
    assert_eq!(
        (
            &limit["in"],
            &limit["schema"]["minimum"],
            &limit["schema"]["maximum"]
        ),
        (&Value::from("query"), &Value::from(1), &Value::from(100))
    );
    app.stop().await;
}

#[test]
fn template_params_are_the_braced_names() {
    assert_eq!(
        template_params("/api/v1/visits/{id}/approve"),
        BTreeSet::from(["id".to_owned()])
    );
    assert!(template_params("/api/v1/visits").is_empty());
}
