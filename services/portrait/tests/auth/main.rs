//! Who may see and do what, over the running in-process stack with
//! authentication on: every public rpc (gRPC) and every JSON route with no
//! token, a bad one, an expired JWT and each role; the internal ports; a
//! store- and a city-scoped token against an admin's answer for the filter
//! naming the same stores; start-up without credentials.

#[path = "../support/mod.rs"]
mod support;

mod audit;
mod jwt;
mod keys;
mod page;
mod scope;
mod sources;

use portrait_auth::{ApiKey, AuthSettings, JwtSettings, Role};
use portrait_service::{Config, ServiceName};
use prost::Message as _;
use tonic::Code;

use support::http::request_as;

/// The spec, written out again (not read from the policy table): the least
/// role of each public rpc.
const VIEWER: &[&str] = &[
    "GetOverview",
    "GetSegmentDistribution",
    "GetHourDistribution",
    "GetChannelDistribution",
    "GetTopProducts",
    "GetTopCategories",
    "ListSuggestions",
    "GetPortraitSummary",
    "ListAnomalies",
    "GetAssociations",
    "GetGroupPatterns",
    "ListStores",
    "GetSyncStatus",
    "GetClusters",
    "GetModelFit",
    "GetSegmentFlows",
    "GetSyncJob",
    "ListSyncJobs",
    "ListAdoptedSuggestions",
    "GetSuggestionEffect",
    "GetCaller",
];
const ANALYST: &[&str] = &[
    "ListRfm",
    "ListCustomers",
    "ListSuggestionAudience",
    "ListCustomerDays",
    "GetCustomerPreferences",
    "GetCustomer",
    "GetCustomerModel",
    "FindCustomer",
    "ListSuggestionMembers",
    "GetDataQualityReport",
];
const ADMIN: &[&str] = &[
    "TriggerSync",
    "ImportOrders",
    "AdoptSuggestion",
    "DismissSuggestion",
    "RecomputeClusters",
    "RefitModels",
    "ListAuditEvents",
    "RevealCustomer",
];

fn least(rpc: &str) -> Role {
    if VIEWER.contains(&rpc) {
        Role::Viewer
    } else if ANALYST.contains(&rpc) {
        Role::Analyst
    } else if ADMIN.contains(&rpc) {
        Role::Admin
    } else {
        panic!("the test has no expectation for {rpc}")
    }
}

fn rank(role: Role) -> u8 {
    match role {
        Role::Viewer => 1,
        Role::Analyst => 2,
        Role::Admin => 3,
        Role::Service => 0,
    }
}

/// The keys of the matrix; `tokens` in the same order as `ROLES`.
const ROLES: [Role; 3] = [Role::Viewer, Role::Analyst, Role::Admin];

pub(crate) struct Keys {
    pub(crate) tokens: Vec<String>,
    pub(crate) service: String,
    /// Analyst limited to two stores, viewer limited to one city: set by
    /// `scope` once the stores are known (keys are configured at start, so
    /// their scopes are fixed here by the synthetic chain's ids).
    pub(crate) stores_analyst: String,
    pub(crate) city_viewer: String,
}

pub(crate) const SCOPED_STORES: [&str; 2] = ["s-001", "s-002"];
pub(crate) const OTHER_STORE: &str = "s-003";

fn key(name: &str, role: Role, stores: &[&str], cities: &[&str]) -> (ApiKey, String) {
    let made = portrait_auth::new_key();
    let key = ApiKey {
        name: name.into(),
        sha256: made.sha256,
        role,
        stores: stores.iter().map(|s| (*s).to_owned()).collect(),
        cities: cities.iter().map(|s| (*s).to_owned()).collect(),
    };
    (key, made.token)
}

pub(crate) fn settings(city: &str, jwt: JwtSettings) -> (AuthSettings, Keys) {
    let mut api_keys = Vec::new();
    let mut tokens = Vec::new();
    for role in ROLES {
        let (k, t) = key(role.as_str(), role, &[], &[]);
        api_keys.push(k);
        tokens.push(t);
    }
    let (k, stores_analyst) = key("two stores", Role::Analyst, &SCOPED_STORES, &[]);
    api_keys.push(k);
    let (k, city_viewer) = key("one city", Role::Viewer, &[], &[city]);
    api_keys.push(k);
    let service = portrait_auth::new_key();
    let settings = AuthSettings {
        api_keys,
        jwt,
        service_token: service.token.clone(),
        service_token_sha256: service.sha256,
        ..AuthSettings::default()
    };
    let keys = Keys {
        tokens,
        service: service.token,
        stores_analyst,
        city_viewer,
    };
    (settings, keys)
}

/// The code a unary call of `path` gets with an empty request message.
pub(crate) async fn code(addr: std::net::SocketAddr, path: &str, token: Option<&str>) -> Code {
    let mut grpc = tonic::client::Grpc::new(support::channel(addr).await);
    grpc.ready().await.expect("ready");
    let mut request = tonic::Request::new(());
    if let Some(t) = token {
        let value = format!("Bearer {t}").parse().expect("ascii");
        request.metadata_mut().insert("authorization", value);
    }
    let path = tonic::codegen::http::uri::PathAndQuery::try_from(path).expect("a path");
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    match grpc.unary(request, path, codec).await {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    }
}

fn public_rpcs() -> Vec<String> {
    let set = prost_types::FileDescriptorSet::decode(portrait_proto::FILE_DESCRIPTOR_SET)
        .expect("descriptors");
    let mut rpcs = Vec::new();
    for file in &set.file {
        for service in file
            .service
            .iter()
            .filter(|s| s.name() == "PortraitService")
        {
            rpcs.extend(service.method.iter().map(|m| m.name().to_owned()));
        }
    }
    assert!(rpcs.len() > 30, "the public service has its rpcs");
    rpcs
}

fn refused(c: Code) -> bool {
    matches!(c, Code::Unauthenticated | Code::PermissionDenied)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_and_route_answers_each_role_as_the_policy_says() {
    let issuer = jwt::Issuer::new();
    let (settings, keys) = settings("上海", issuer.settings());
    let admin = keys.tokens[2].clone();
    let fed = support::fed_stack_with_auth(41, settings, &admin).await;
    let gw = fed.stack.gateway_addr;
    let expired = issuer.sign("admin", "admin", -3600);
    let valid_viewer = issuer.sign("jwt viewer", "viewer", 600);
    let mut failures = Vec::new();
    // What the audit log must hold afterwards: (rpc, outcome, subject) of
    // every refusal and every admin action this test makes at the gateway.
    let mut audited: Vec<(String, &str, String)> = Vec::new();

    for rpc in public_rpcs() {
        let path = format!("/portrait.v1.PortraitService/{rpc}");
        let need = least(&rpc);
        for (who, token) in [
            ("no token", None),
            ("bad token", Some("not-a-key")),
            ("expired jwt", Some(expired.as_str())),
        ] {
            let got = code(gw, &path, token).await;
            if got != Code::Unauthenticated {
                failures.push(format!("{rpc} with {who}: {got:?}"));
            }
            audited.push((path.clone(), "unauthenticated", String::new()));
        }
        for (role, token) in ROLES.iter().zip(&keys.tokens) {
            let got = code(gw, &path, Some(token)).await;
            let allowed = rank(*role) >= rank(need);
            if allowed == refused(got) || (!allowed && got != Code::PermissionDenied) {
                failures.push(format!("{rpc} as {}: {got:?}", role.as_str()));
            }
            if !allowed {
                audited.push((path.clone(), "permission_denied", role.as_str().into()));
            } else if need == Role::Admin {
                audited.push((path.clone(), "allowed", role.as_str().into()));
            }
        }
        let got = code(gw, &path, Some(&valid_viewer)).await;
        if (need == Role::Viewer) == refused(got) {
            failures.push(format!("{rpc} with a viewer's JWT: {got:?}"));
        }
        if need != Role::Viewer {
            audited.push((path.clone(), "permission_denied", "jwt viewer".into()));
        }
        // The service token is the services' own, not a user's.
        let got = code(gw, &path, Some(&keys.service)).await;
        if got != Code::PermissionDenied {
            failures.push(format!("{rpc} with the service token: {got:?}"));
        }
        audited.push((path.clone(), "permission_denied", "service".into()));
    }

    let document = request_as(gw, "GET", "/v1/openapi.json", None, None).await;
    assert_eq!(document.status, 200, "the API document needs no token");
    let mut routes = 0;
    for (template, item) in document.body["paths"].as_object().expect("paths") {
        if template == "/v1/openapi.json" {
            continue;
        }
        let target: String = template
            .split('/')
            .map(|s| if s.starts_with('{') { "x" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        for (method, op) in item.as_object().expect("methods") {
            let rpc = op["operationId"].as_str().expect("operationId");
            let method = method.to_uppercase();
            let body = (method == "POST").then_some("{}");
            routes += 1;
            for (who, token) in [
                ("no token", None),
                ("bad token", Some("not-a-key")),
                ("expired jwt", Some(expired.as_str())),
            ] {
                let a = request_as(gw, &method, &target, body, token).await;
                if a.status != 401 || a.body["code"] != 16 {
                    failures.push(format!(
                        "{method} {target} with {who}: {} {}",
                        a.status, a.body
                    ));
                }
                audited.push((target.clone(), "unauthenticated", String::new()));
            }
            let label = format!("{method} {template}");
            for (role, token) in ROLES.iter().zip(&keys.tokens) {
                let a = request_as(gw, &method, &target, body, Some(token)).await;
                let allowed = rank(*role) >= rank(least(rpc));
                let ok = if allowed {
                    a.status != 401 && a.status != 403
                } else {
                    a.status == 403 && a.body["code"] == 7
                };
                if !allowed {
                    audited.push((label.clone(), "permission_denied", role.as_str().into()));
                } else if least(rpc) == Role::Admin {
                    audited.push((label.clone(), "allowed", role.as_str().into()));
                }
                if !ok {
                    failures.push(format!(
                        "{method} {target} as {}: {} {}",
                        role.as_str(),
                        a.status,
                        a.body
                    ));
                }
            }
        }
    }
    assert!(routes > 30, "the document lists the routes");

    // Internal ports: the service token (or an admin), nobody else; health
    // answers probes without a token.
    for (service, path) in [
        (
            ServiceName::Ingest,
            "/portrait.v1.IngestService/GetIngestStatus",
        ),
        (
            ServiceName::Profiler,
            "/portrait.v1.ProfilerQuery/GetOverview",
        ),
        (ServiceName::Rfm, "/portrait.v1.RfmQuery/GetStatus"),
        (ServiceName::Suggest, "/portrait.v1.SuggestQuery/GetStatus"),
    ] {
        let addr = fed.stack.addr(service).expect("address");
        let expect = [
            (None, Code::Unauthenticated),
            (Some(keys.tokens[0].as_str()), Code::PermissionDenied),
            (Some(keys.tokens[1].as_str()), Code::PermissionDenied),
            (Some(keys.service.as_str()), Code::Ok),
            (Some(admin.as_str()), Code::Ok),
        ];
        for (token, want) in expect {
            let got = code(addr, path, token).await;
            if got != want {
                failures.push(format!("{path} with {token:?}: {got:?}, not {want:?}"));
            }
            // Each service records the refusals at its own port.
            let subject = match token {
                None => None,
                Some(t) if t == keys.tokens[0] => Some("viewer"),
                Some(t) if t == keys.tokens[1] => Some("analyst"),
                Some(_) => None,
            };
            match (token, subject) {
                (None, _) => audited.push((path.into(), "unauthenticated", String::new())),
                (_, Some(subject)) => {
                    audited.push((path.into(), "permission_denied", subject.into()));
                }
                _ => {}
            }
        }
        let health = code(addr, "/grpc.health.v1.Health/Check", None).await;
        if health != Code::Ok {
            failures.push(format!(
                "health of {} without a token: {health:?}",
                service.as_str()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    audit::assert_log(gw, &admin, audited).await;
    audit::unrecorded_admin_actions_are_not_done(&fed, &admin, &keys.tokens[0]).await;
    fed.stop().await;
}

#[tokio::test]
async fn a_service_with_auth_on_and_nothing_configured_does_not_start() {
    let dir = tempfile::tempdir().expect("dir");
    let mut config = Config::defaults(ServiceName::Ingest);
    config.data_dir = dir.path().to_path_buf();
    let config = config.validated(ServiceName::Ingest).expect("config");
    let (listener, _) = portrait_service::bind("127.0.0.1:0").await.expect("port");
    let shutdown = tokio_util::sync::CancellationToken::new();
    let started = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        portrait_ingest::run(config, listener, shutdown.clone()),
    )
    .await;
    shutdown.cancel();
    let error = started
        .expect("it stops at once")
        .expect_err("it refuses to start")
        .to_string();
    assert!(
        error.contains("auth.api_keys") && error.contains("auth.jwt"),
        "{error}"
    );
}
