//! `/v1/openapi.json` on the in-process stack: it lists exactly the routes the
//! gateway serves over HTTP, each listed route is served, every schema it
//! refers to is defined, and the schemas are the protos' canonical JSON.

mod support;

use std::collections::BTreeSet;

use serde_json::Value;
use support::http::{get, request};

/// What the gateway serves over HTTP, written down here: the doc must list
/// exactly these, and each must be served.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/v1/overview"),
    ("get", "/v1/segments"),
    ("get", "/v1/hours"),
    ("get", "/v1/channels"),
    ("get", "/v1/products"),
    ("get", "/v1/categories"),
    ("get", "/v1/rfm"),
    ("get", "/v1/suggestions"),
    ("get", "/v1/stores"),
    ("get", "/v1/status"),
    ("post", "/v1/sync:trigger"),
    ("get", "/v1/sync/jobs"),
    ("get", "/v1/sync/jobs/{jobId}"),
    ("get", "/v1/sync/qualityReport"),
    ("get", "/v1/customers/{customerId}"),
    ("get", "/v1/customers/{customerId}/days"),
    ("get", "/v1/customers/{customerId}/preferences"),
    ("get", "/v1/anomalies"),
    ("get", "/v1/summary"),
    ("post", "/v1/customers:find"),
    ("get", "/v1/customers"),
    ("get", "/v1/clusters"),
    ("post", "/v1/clusters:recompute"),
    ("get", "/v1/openapi.json"),
    ("get", "/v1/models/fit"),
    ("post", "/v1/models:refit"),
    ("get", "/v1/customers/{customerId}/model"),
    ("get", "/v1/associations"),
    ("get", "/v1/patterns"),
    ("get", "/v1/suggestions/{suggestionId}/audience"),
    ("post", "/v1/suggestions:adopt"),
    ("post", "/v1/suggestions:dismiss"),
    ("get", "/v1/adoptions"),
    ("get", "/v1/adoptions/{id}/effect"),
    ("get", "/v1/adoptions/{id}/members"),
    ("get", "/v1/segments/flows"),
    ("get", "/v1/audit"),
    ("post", "/v1/customers:reveal"),
    ("get", "/v1/caller"),
];

fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push(r.clone());
            }
            map.values().for_each(|v| refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

/// openapi-spec-validator (Python) accepts the document as OpenAPI 3.1.
async fn validate_independently(doc: &Value) {
    let Some(python) = portrait_testkit::server_env("PORTRAIT_PYTHON", "openapi-spec-validator")
    else {
        return;
    };
    let mut child = tokio::process::Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/openapi_validate.py"
        ))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python runs");
    let mut stdin = child.stdin.take().expect("stdin");
    let text = serde_json::to_vec(doc).expect("json");
    tokio::io::AsyncWriteExt::write_all(&mut stdin, &text)
        .await
        .expect("write");
    drop(stdin);
    let output = child.wait_with_output().await.expect("python ends");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_lists_exactly_the_served_routes() {
    let fed = support::fed_stack(13).await;
    let addr = fed.stack.gateway_addr;
    let doc = get(addr, "/v1/openapi.json").await;
    assert_eq!(doc.status, 200);
    let doc = doc.body;
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    let mut listed = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            listed.insert((method.clone(), path.clone()));
        }
    }
    let want: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(listed, want);
    // Each listed route is served: never the unknown-route 404 nor a 405.
    for (method, path) in &listed {
        let body = (method == "post").then_some("{}");
        let answer = request(
            addr,
            &method.to_uppercase(),
            &path.replace("{jobId}", "1"),
            body,
        )
        .await;
        let message = answer.body["message"].as_str().unwrap_or_default();
        assert!(
            !message.starts_with("no route"),
            "{method} {path}: {message}"
        );
        assert_ne!(answer.status, 405, "{method} {path}");
    }
    // Every schema referred to is defined.
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(all.len() > 20, "{all:?}");
    for r in all {
        let name = r
            .strip_prefix("#/components/schemas/")
            .expect("a schema ref");
        assert!(doc["components"]["schemas"][name].is_object(), "{r}");
    }
    // The descriptors' shape in canonical JSON: camelCase, int64 as a string,
    // enums by name, parameters from the request message.
    let schemas = &doc["components"]["schemas"];
    let overview = &schemas["portrait.v1.Overview"]["properties"];
    assert_eq!(overview["totalCustomers"]["type"], "string");
    assert_eq!(overview["totalCustomers"]["format"], "int64");
    assert_eq!(overview["averageOrderValueFen"]["type"], "number");
    let segments = schemas["portrait.v1.Segment"]["enum"]
        .as_array()
        .expect("enum");
    assert_eq!(segments.len(), 9);
    assert!(segments.contains(&Value::from("SEGMENT_GENERAL_WIN_BACK")));
    let params = doc["paths"]["/v1/products"]["get"]["parameters"]
        .as_array()
        .expect("parameters");
    let names: BTreeSet<&str> = params.iter().filter_map(|p| p["name"].as_str()).collect();
    let want: BTreeSet<&str> = [
        "storeIds", "cities", "fromDate", "toDate", "asOfDate", "limit", "orderBy",
    ]
    .into();
    assert_eq!(names, want);
    let job = &doc["paths"]["/v1/sync/jobs/{jobId}"]["get"]["parameters"][0];
    assert_eq!(
        (&job["name"], &job["in"]),
        (&Value::from("jobId"), &Value::from("path"))
    );
    validate_independently(&doc).await;
    fed.stop().await;
}
