//! `portrait.v1.PortraitService` as JSON over HTTP, on the gRPC port. Each
//! route calls the very `PortraitService` method the gRPC server calls, on
//! the same `Gateway`, with a `tonic::Request` made from the HTTP request;
//! only the encoding differs. Routes, parameters and the OpenAPI document
//! come from the table below and the protos' descriptors.

mod calls;
mod openapi;
mod params;
mod schema;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{FromRequestParts, RawPathParams, Request};
use axum::response::Response;
use axum::routing::{MethodFilter, on};
use portrait_service::http_error::{invalid, json_response, status_response};
use portrait_service::{Error, Result};
use serde_json::Value;
use tonic::Status;
use tonic::metadata::MetadataMap;

use crate::Gateway;
use calls::Call;
use params::Param;
use schema::{Method, Schema};

pub(crate) const OPENAPI_PATH: &str = "/v1/openapi.json";
const SERVICE: &str = ".portrait.v1.PortraitService";
/// A backstop only: the limits layer cuts a body at `gateway.max_request_bytes`
/// (at most 256 MiB) first.
const MAX_BODY_BYTES: usize = 256 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verb {
    Get,
    Post,
}

impl Verb {
    fn upper(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
        }
    }

    pub(crate) fn lower(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::Post => "post",
        }
    }
}

/// One HTTP route onto one RPC, in the resource style of Google's API design
/// guide: reads are GETs with the request in the query, a custom verb is
/// `POST …:verb` with the request message as its body.
#[derive(Debug)]
pub(crate) struct Route {
    pub(crate) verb: Verb,
    pub(crate) path: &'static str,
    pub(crate) rpc: &'static str,
}

const fn get(path: &'static str, rpc: &'static str) -> Route {
    Route {
        verb: Verb::Get,
        path,
        rpc,
    }
}

pub(crate) const ROUTES: &[Route] = &[
    get("/v1/overview", "GetOverview"),
    get("/v1/segments", "GetSegmentDistribution"),
    get("/v1/hours", "GetHourDistribution"),
    get("/v1/channels", "GetChannelDistribution"),
    get("/v1/products", "GetTopProducts"),
    get("/v1/categories", "GetTopCategories"),
    get("/v1/rfm", "ListRfm"),
    get("/v1/suggestions", "ListSuggestions"),
    get("/v1/stores", "ListStores"),
    get("/v1/status", "GetSyncStatus"),
    Route {
        verb: Verb::Post,
        path: "/v1/sync:trigger",
        rpc: "TriggerSync",
    },
    get("/v1/sync/jobs", "ListSyncJobs"),
    get("/v1/sync/jobs/{jobId}", "GetSyncJob"),
    get("/v1/sync/qualityReport", "GetDataQualityReport"),
    get("/v1/customers/{customerId}", "GetCustomer"),
    get("/v1/customers/{customerId}/days", "ListCustomerDays"),
    get(
        "/v1/customers/{customerId}/preferences",
        "GetCustomerPreferences",
    ),
    get("/v1/anomalies", "ListAnomalies"),
    get("/v1/summary", "GetPortraitSummary"),
    get("/v1/customers", "ListCustomers"),
    get("/v1/clusters", "GetClusters"),
    Route {
        verb: Verb::Post,
        path: "/v1/clusters:recompute",
        rpc: "RecomputeClusters",
    },
    Route {
        verb: Verb::Post,
        path: "/v1/customers:find",
        rpc: "FindCustomer",
    },
    get("/v1/models/fit", "GetModelFit"),
    Route {
        verb: Verb::Post,
        path: "/v1/models:refit",
        rpc: "RefitModels",
    },
    get("/v1/customers/{customerId}/model", "GetCustomerModel"),
    get("/v1/associations", "GetAssociations"),
    get("/v1/patterns", "GetGroupPatterns"),
    get(
        "/v1/suggestions/{suggestionId}/audience",
        "ListSuggestionAudience",
    ),
    Route {
        verb: Verb::Post,
        path: "/v1/suggestions:adopt",
        rpc: "AdoptSuggestion",
    },
    Route {
        verb: Verb::Post,
        path: "/v1/suggestions:dismiss",
        rpc: "DismissSuggestion",
    },
    get("/v1/adoptions", "ListAdoptedSuggestions"),
    get("/v1/adoptions/{id}/effect", "GetSuggestionEffect"),
    get("/v1/adoptions/{id}/members", "ListSuggestionMembers"),
    get("/v1/segments/flows", "GetSegmentFlows"),
    get("/v1/audit", "ListAuditEvents"),
    // A POST, so the id stays out of URLs and access logs.
    Route {
        verb: Verb::Post,
        path: "/v1/customers:reveal",
        rpc: "RevealCustomer",
    },
    get("/v1/caller", "GetCaller"),
];

/// A route with what serving it needs.
pub(crate) struct Bound {
    pub(crate) route: &'static Route,
    pub(crate) method: Method,
    /// Every leaf of the request message.
    pub(crate) params: Vec<Param>,
    /// The leaves a client may set by parameter: a GET's all (query or path),
    /// a POST's only its path's, its body being the message.
    accepted: Vec<Param>,
    /// The names between braces in the route's path.
    pub(crate) path_params: Vec<String>,
    call: Call,
    label: String,
    audit: Arc<portrait_service::AuditLog>,
}

fn path_params(path: &str) -> Vec<String> {
    path.split('{')
        .skip(1)
        .filter_map(|s| s.split_once('}').map(|(name, _)| name.to_owned()))
        .collect()
}

fn bind(schema: &Schema, gateway: &Arc<Gateway>) -> Result<Vec<Bound>> {
    ROUTES
        .iter()
        .map(|route| {
            let missing =
                || Error::Config(format!("http route {}: no rpc {}", route.path, route.rpc));
            let method = schema
                .methods
                .get(&format!("{SERVICE}/{}", route.rpc))
                .ok_or_else(missing)?
                .clone();
            if method.streaming {
                return Err(Error::Config(format!(
                    "http route {}: rpc {} streams; a JSON route takes one request",
                    route.path, route.rpc
                )));
            }
            let call = calls::call(gateway, route.rpc).ok_or_else(missing)?;
            let params = params::leaves(schema, &method.input);
            let path_params = path_params(route.path);
            let accepted = params
                .iter()
                .filter(|p| route.verb == Verb::Get || path_params.contains(&p.name))
                .cloned()
                .collect();
            Ok(Bound {
                route,
                params,
                accepted,
                method,
                path_params,
                call,
                label: format!("{} {}", route.verb.upper(), route.path),
                audit: gateway.audit.own.clone(),
            })
        })
        .collect()
}

/// The JSON routes, `/v1/openapi.json`, and the 客群画像 page at `/` with its
/// assets (portrait-web), calling `gateway`.
pub(crate) fn router(gateway: Arc<Gateway>) -> Result<axum::Router> {
    let schema = Schema::load(portrait_proto::FILE_DESCRIPTOR_SET)
        .map_err(|e| Error::Config(format!("descriptors: {e}")))?;
    let schema = Arc::new(schema);
    let bound = bind(&schema, &gateway)?;
    let document = Arc::new(openapi::document(&schema, &bound));
    let mut router = axum::Router::new().route(
        OPENAPI_PATH,
        axum::routing::get(move || async move { json_response(http::StatusCode::OK, &document) }),
    );
    for b in bound {
        let (b, schema) = (Arc::new(b), schema.clone());
        let filter = match b.route.verb {
            Verb::Get => MethodFilter::GET,
            Verb::Post => MethodFilter::POST,
        };
        let path = b.route.path;
        router = router.route(
            path,
            on(filter, move |request: Request| serve(b, schema, request)),
        );
    }
    Ok(router
        .merge(portrait_web::router())
        .method_not_allowed_fallback(method_not_allowed))
}

async fn method_not_allowed(request: Request) -> Response {
    let status = Status::unimplemented(format!(
        "{} is not served on {}; /v1/openapi.json lists the routes",
        request.method(),
        request.uri().path()
    ));
    let mut response = status_response(&status);
    *response.status_mut() = http::StatusCode::METHOD_NOT_ALLOWED;
    response
}

async fn serve(b: Arc<Bound>, schema: Arc<Schema>, request: Request) -> Response {
    let started = Instant::now();
    let answer = answer(&b, &schema, request).await;
    let code = answer
        .as_ref()
        .map_or_else(Status::code, |_| tonic::Code::Ok);
    if let Some(m) = portrait_service::metrics::get() {
        m.rpc_seconds
            .with_label_values(&[b.label.as_str()])
            .observe(started.elapsed().as_secs_f64());
        if code != tonic::Code::Ok {
            let name = format!("{code:?}");
            m.rpc_errors.with_label_values(&[&b.label, &name]).inc();
        }
    }
    match answer {
        Ok(body) => json_response(http::StatusCode::OK, &body),
        Err(status) => {
            let mut response = status_response(&status);
            if status.code() == tonic::Code::ResourceExhausted
                && status.message().starts_with("body:")
            {
                *response.status_mut() = http::StatusCode::PAYLOAD_TOO_LARGE;
            }
            response
        }
    }
}

async fn answer(b: &Bound, schema: &Schema, request: Request) -> Result<Value, Status> {
    let (mut parts, body) = request.into_parts();
    // The layer authenticated the caller (portrait-service's auth layer);
    // the route knows its rpc, so the policy is checked here.
    let principal = parts
        .extensions
        .get::<portrait_auth::Principal>()
        .ok_or_else(|| Status::unauthenticated("missing token"))?;
    let peer = portrait_service::peer_of(&parts.extensions);
    let audit = |outcome: &str, reason: &str| {
        let event = portrait_service::audit_event(Some(principal), &b.label, outcome, reason, peer);
        portrait_service::AuditSink::record(&*b.audit, event);
    };
    match principal.authorize(&portrait_auth::gateway_path(b.route.rpc)) {
        Ok(rule) if rule.least == portrait_auth::Role::Admin => {
            // Written before the action runs: not recorded, not done.
            let event =
                portrait_service::audit_event(Some(principal), &b.label, "allowed", "", peer);
            (portrait_service::AuditSink::record_now(&*b.audit, event).await)
                .map_err(|r| portrait_service::unrecorded(&r))?;
        }
        Ok(_) => {}
        Err(e) => {
            let reason = e.to_string();
            audit(portrait_service::audit_outcome(&e), &reason);
            return Err(Status::permission_denied(reason));
        }
    }
    let path = RawPathParams::from_request_parts(&mut parts, &())
        .await
        .map_err(|e| invalid("path", e.body_text()))?;
    let path: Vec<(&str, &str)> = path.iter().collect();
    let body = match b.route.verb {
        Verb::Get => None,
        Verb::Post => {
            let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
                .await
                .map_err(|_| {
                    // The limits layer bounds the body (gateway.max_request_bytes).
                    Status::resource_exhausted("body: larger than gateway.max_request_bytes")
                })?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                None
            } else {
                let value = serde_json::from_slice(&bytes)
                    .map_err(|e| invalid("body", format!("not JSON: {e}")))?;
                Some(value)
            }
        }
    };
    let json = params::request_json(schema, &b.accepted, parts.uri.query(), &path, body)?;
    // The principal travels on to the trait method in the extensions.
    let extensions = std::mem::take(&mut parts.extensions);
    (b.call)(json, MetadataMap::from_headers(parts.headers), extensions).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unary_rpc_of_the_public_service_has_one_route() {
        let schema = Schema::load(portrait_proto::FILE_DESCRIPTOR_SET).unwrap();
        let mut rpcs: Vec<&str> = schema
            .service_methods(SERVICE)
            .filter(|(_, m)| !m.streaming)
            .map(|(n, _)| n)
            .collect();
        assert!(schema.service_methods(SERVICE).any(|(_, m)| m.streaming));
        let mut routed: Vec<&str> = ROUTES.iter().map(|r| r.rpc).collect();
        rpcs.sort_unstable();
        routed.sort_unstable();
        assert_eq!(rpcs, routed);
        assert_eq!(path_params("/v1/sync/jobs/{jobId}"), ["jobId"]);
    }
}
