//! A gRPC status as the JSON API answers it: `google.rpc.Status` in its proto3
//! JSON form, with the HTTP status of `crate::http_status`, and the invalid
//! field (when the status names one) as a `google.rpc.BadRequest` detail.

use axum::response::{IntoResponse, Response};
use http::header::CONTENT_TYPE;
use serde_json::{Value, json};

/// The metadata key that names the invalid field of an INVALID_ARGUMENT.
pub const INVALID_FIELD: &str = "x-invalid-field";

/// An INVALID_ARGUMENT naming `field` (a JSON path such as `filter.fromDate`).
pub fn invalid(field: &str, reason: impl std::fmt::Display) -> tonic::Status {
    let mut status = tonic::Status::invalid_argument(format!("{field}: {reason}"));
    if let Ok(v) = field.parse() {
        status.metadata_mut().insert(INVALID_FIELD, v);
    }
    status
}

/// `filter.from_date` (the proto name a service reports) as the JSON name
/// `filter.fromDate` the HTTP client sent: the JSON mapping's lowerCamelCase.
pub fn json_path(field: &str) -> String {
    field
        .split('.')
        .map(|segment| {
            let mut out = String::with_capacity(segment.len());
            let mut upper = false;
            for c in segment.chars() {
                if c == '_' {
                    upper = true;
                } else if upper {
                    out.extend(c.to_uppercase());
                    upper = false;
                } else {
                    out.push(c);
                }
            }
            out
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// The body of an error answer.
pub fn status_json(status: &tonic::Status) -> Value {
    let mut details = Vec::new();
    if let Some(field) = status
        .metadata()
        .get(INVALID_FIELD)
        .and_then(|v| v.to_str().ok())
    {
        details.push(json!({
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"field": json_path(field), "description": status.message()}],
        }));
    }
    json!({
        "code": status.code() as i32,
        "message": status.message(),
        "details": details,
    })
}

/// A JSON answer with `status` as its HTTP status.
pub fn json_response(status: http::StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    (status, [(CONTENT_TYPE, "application/json")], bytes).into_response()
}

/// A failed call as the JSON API answers it.
pub fn status_response(status: &tonic::Status) -> Response {
    json_response(crate::http_status(status.code()), &status_json(status))
}

/// What a server with HTTP routes answers when no route takes a request: gRPC
/// clients get UNIMPLEMENTED as gRPC says, everyone else a JSON 404.
pub async fn fallback(request: axum::extract::Request) -> Response {
    let grpc = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"));
    if grpc {
        return tonic::Status::unimplemented("").into_http::<axum::body::Body>();
    }
    let status = tonic::Status::not_found(format!(
        "no route {} {}; /v1/openapi.json lists the routes",
        request.method(),
        request.uri().path()
    ));
    status_response(&status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_services_field_reads_as_the_json_name() {
        let mut status = tonic::Status::invalid_argument("filter.from_date: not a date");
        status
            .metadata_mut()
            .insert(INVALID_FIELD, "filter.from_date".parse().unwrap());
        let body = status_json(&status);
        assert_eq!(body["code"], 3);
        assert_eq!(
            body["details"][0]["fieldViolations"][0]["field"],
            "filter.fromDate"
        );
        assert_eq!(json_path("page_size"), "pageSize");
    }
}
