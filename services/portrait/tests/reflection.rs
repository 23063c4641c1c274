//! gRPC server reflection as clients find it: each of the five servers lists
//! exactly the services it serves, over `grpc.reflection.v1` and `v1alpha`
//! alike, and each listed service resolves to its descriptor. Python's
//! official client (grpcio-reflection, v1alpha only) is asked too.

mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;

use portrait_service::ServiceName;
use prost::Message as _;
use tokio_util::sync::CancellationToken;

const HEALTH: &str = "grpc.health.v1.Health";
const REFLECTION_V1: &str = "grpc.reflection.v1.ServerReflection";
const REFLECTION_V1ALPHA: &str = "grpc.reflection.v1alpha.ServerReflection";

fn served(service: ServiceName) -> BTreeSet<String> {
    let own = match service {
        ServiceName::Gateway => "portrait.v1.PortraitService",
        ServiceName::Ingest => "portrait.v1.IngestService",
        ServiceName::Profiler => "portrait.v1.ProfilerQuery",
        ServiceName::Rfm => "portrait.v1.RfmQuery",
        ServiceName::Suggest => "portrait.v1.SuggestQuery",
    };
    // `portrait rebuild`'s halves: ingest republishes, a consumer starts over.
    let admin = match service {
        ServiceName::Gateway => None,
        ServiceName::Ingest => Some("portrait.v1.IngestAdmin"),
        _ => Some("portrait.v1.ConsumerAdmin"),
    };
    // The suggest service follows segments.v1 and answers its flows.
    let follower = (service == ServiceName::Suggest).then_some("portrait.v1.SegmentFlowsQuery");
    // Every service but the gateway answers its own audit log to the gateway.
    let audit = (service != ServiceName::Gateway).then_some("portrait.v1.AuditAdmin");
    [own, HEALTH, REFLECTION_V1, REFLECTION_V1ALPHA]
        .into_iter()
        .chain(admin)
        .chain(follower)
        .chain(audit)
        .map(str::to_owned)
        .collect()
}

/// The services a server lists, and for each the services declared by the
/// file reflection returns for it — the same code for both versions, whose
/// generated types differ only by module.
macro_rules! ask {
    ($version:ident, $addr:expr) => {{
        use tonic_reflection::pb::$version::ServerReflectionRequest;
        use tonic_reflection::pb::$version::server_reflection_client::ServerReflectionClient;
        use tonic_reflection::pb::$version::server_reflection_request::MessageRequest;
        use tonic_reflection::pb::$version::server_reflection_response::MessageResponse;

        let mut client = ServerReflectionClient::new(support::channel($addr).await);
        let mut one = async |request: MessageRequest| {
            let request = ServerReflectionRequest {
                host: String::new(),
                message_request: Some(request),
            };
            let mut answers = client
                .server_reflection_info(tokio_stream::iter([request]))
                .await
                .expect("reflection call")
                .into_inner();
            answers
                .message()
                .await
                .expect("an answer")
                .and_then(|a| a.message_response)
                .expect("a response")
        };
        let listed: BTreeSet<String> = match one(MessageRequest::ListServices(String::new())).await
        {
            MessageResponse::ListServicesResponse(r) => {
                r.service.into_iter().map(|s| s.name).collect()
            }
            other => panic!("not a list: {other:?}"),
        };
        let mut declared = BTreeSet::new();
        for name in &listed {
            match one(MessageRequest::FileContainingSymbol(name.clone())).await {
                MessageResponse::FileDescriptorResponse(r) => {
                    for bytes in r.file_descriptor_proto {
                        let file = prost_types::FileDescriptorProto::decode(bytes.as_slice())
                            .expect("a file descriptor");
                        for s in &file.service {
                            declared.insert(format!("{}.{}", file.package(), s.name()));
                        }
                    }
                }
                other => panic!("{name} does not resolve: {other:?}"),
            }
        }
        (listed, declared)
    }};
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_server_lists_exactly_its_services_over_v1_and_v1alpha() {
    let dir = tempfile::tempdir().expect("dir");
    let shutdown = CancellationToken::new();
    let stack = portrait::embedded::spawn_stack(dir.path(), shutdown.clone())
        .await
        .expect("stack");
    for service in ServiceName::ALL {
        let addr: SocketAddr = stack.addr(service).expect("an address");
        let want = served(service);
        let (v1, v1_declared) = ask!(v1, addr);
        assert_eq!(v1, want, "{} over v1", service.as_str());
        assert!(v1.is_subset(&v1_declared), "{v1_declared:?}");
        let (v1alpha, v1alpha_declared) = ask!(v1alpha, addr);
        assert_eq!(v1alpha, want, "{} over v1alpha", service.as_str());
        assert!(v1alpha.is_subset(&v1alpha_declared), "{v1alpha_declared:?}");
    }

    if let Some(python) = portrait_testkit::server_env("PORTRAIT_PYTHON", "grpcio-reflection") {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reflection_list.py");
        let output = tokio::process::Command::new(python)
            .arg(script)
            .arg(stack.gateway_addr.to_string())
            .output()
            .await
            .expect("python runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        let found: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("the script prints JSON");
        let services: BTreeSet<String> = found["services"]
            .as_array()
            .expect("services")
            .iter()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect();
        assert_eq!(services, served(ServiceName::Gateway));
        let methods = &found["methods"]["portrait.v1.PortraitService"];
        let methods: BTreeSet<&str> = methods
            .as_array()
            .expect("the public service resolves")
            .iter()
            .filter_map(|m| m.as_str())
            .collect();
        // Every rpc the public proto declares, read from the file itself.
        let proto = include_str!("../../../proto/portrait/v1/gateway.proto");
        let declared: BTreeSet<&str> = (proto.lines())
            .filter_map(|l| l.trim().strip_prefix("rpc "))
            .filter_map(|l| l.split('(').next())
            .collect();
        assert_eq!(methods, declared);
        assert!(methods.contains(&"GetOverview") && methods.contains(&"TriggerSync"));
        assert!(methods.contains(&"ListStores"));
        assert!(
            methods.contains(&"ImportOrders"),
            "the client stream is public too"
        );
    }
    shutdown.cancel();
    stack.wait().await.expect("clean stop");
}
