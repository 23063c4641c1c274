use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tonic::service::Routes;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use super::{Peer, Served, addr_of, find, register};

fn peer(url: &str) -> Peer {
    let remote = tonic::transport::Endpoint::from_shared(url.to_owned())
        .expect("url")
        .connect_timeout(Duration::from_secs(2))
        .connect_lazy();
    Peer::new(url, remote, Some(Duration::from_secs(5)))
}

#[test]
fn a_peer_is_found_in_process_only_by_its_ip_or_as_localhost() {
    let at = |s: &str| Some(s.parse().expect("addr"));
    assert_eq!(addr_of("http://127.0.0.1:50053"), at("127.0.0.1:50053"));
    assert_eq!(addr_of("https://[::1]:7"), at("[::1]:7"));
    assert_eq!(addr_of("http://LOCALHOST:9"), at("127.0.0.1:9"));
    assert_eq!(addr_of("http://10.0.0.5"), at("10.0.0.5:80"));
    assert_eq!(addr_of("http://profiler:50053"), None);
    assert_eq!(addr_of("not a url"), None);
}

#[tokio::test]
async fn a_registered_server_is_called_without_the_network_until_it_goes() {
    // Nothing listens on this port: only the registration can answer.
    let port = portrait_testkit::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let (_reporter, health) = tonic_health::server::health_reporter();
    let registration = register(
        format!("127.0.0.1:{port}").parse().expect("addr"),
        Served::new(Routes::new(health)),
    );
    let mut client = HealthClient::new(peer(&url));
    let answer = client.check(HealthCheckRequest::default()).await;
    let serving = tonic_health::pb::health_check_response::ServingStatus::Serving as i32;
    assert_eq!(answer.map(|r| r.into_inner().status).ok(), Some(serving));

    drop(registration);
    let gone = client.check(HealthCheckRequest::default()).await;
    let status = gone.expect_err("answered after the server went");
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
}

#[tokio::test]
async fn a_server_answers_in_process_through_its_layers_while_it_serves() {
    let token = "the-service-token";
    let auth = portrait_auth::Authenticator::from_settings(&portrait_auth::AuthSettings {
        service_token_sha256: portrait_auth::sha256_hex(token),
        ..portrait_auth::AuthSettings::default()
    })
    .expect("auth");
    let (listener, addr) = crate::bind("127.0.0.1:0").await.expect("bind");
    let shutdown = CancellationToken::new();
    let services = crate::Services::new(crate::tls::tests::Nothing);
    let served = tokio::spawn(crate::serve(
        listener,
        services,
        Arc::new(auth),
        None,
        shutdown.clone(),
    ));
    let started = tokio::time::timeout(Duration::from_secs(5), async {
        while find(addr).is_none() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    started.await.expect("the server registered in process");

    // The auth layer runs in process: no token, no answer.
    let call = |bearer: &str| {
        let mut client =
            tonic::client::Grpc::new(tonic::service::interceptor::InterceptedService::new(
                peer(&format!("http://{addr}")),
                crate::Bearer::new(bearer).expect("bearer"),
            ));
        async move {
            client.ready().await.expect("ready");
            // A path the service token may call, which this server does not serve.
            let path =
                http::uri::PathAndQuery::from_static("/portrait.v1.ProfilerQuery/GetOverview");
            let codec = tonic_prost::ProstCodec::<(), ()>::default();
            client
                .unary(tonic::Request::new(()), path, codec)
                .await
                .expect_err("nothing answers")
                .code()
        }
    };
    assert_eq!(call("").await, tonic::Code::Unauthenticated);
    assert_eq!(call(token).await, tonic::Code::Unimplemented);

    shutdown.cancel();
    served.await.expect("joined").expect("served");
    assert!(
        find(addr).is_none(),
        "still registered after the server stopped"
    );
}

async fn panicking(
    _: http::Request<tonic::body::Body>,
) -> Result<http::Response<tonic::body::Body>, std::convert::Infallible> {
    panic!("a bug in a handler")
}

#[tokio::test]
async fn a_handler_that_panics_in_process_is_an_internal_error_not_a_crash() {
    let port = portrait_testkit::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let panics = tower::service_fn(panicking);
    let _registration = register(
        format!("127.0.0.1:{port}").parse().expect("addr"),
        Served::new(panics),
    );
    let mut client = HealthClient::new(peer(&url));
    let status = (client.check(HealthCheckRequest::default()).await).expect_err("a panic answered");
    assert_eq!(status.code(), tonic::Code::Internal, "{status:?}");
}

/// The caller gives up; the handler finishes all the same, as a server's
/// would (a slow answer is cached for the next call only if it finishes).
#[tokio::test]
async fn a_call_whose_caller_gave_up_still_finishes() {
    let port = portrait_testkit::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let (done, mut finished) = tokio::sync::watch::channel(false);
    let done = Arc::new(done);
    let slow = tower::service_fn(move |_: http::Request<tonic::body::Body>| {
        let done = done.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            done.send_replace(true);
            Ok::<_, std::convert::Infallible>(tonic::Status::ok("").into_http())
        }
    });
    let _registration = register(
        format!("127.0.0.1:{port}").parse().expect("addr"),
        Served::new(slow),
    );
    let remote = tonic::transport::Endpoint::from_shared(url.clone())
        .expect("url")
        .connect_lazy();
    let impatient = Peer::new(&url, remote, Some(Duration::from_millis(50)));
    let status = (HealthClient::new(impatient)
        .check(HealthCheckRequest::default())
        .await)
        .expect_err("answered within 50 ms");
    assert_eq!(status.code(), tonic::Code::Cancelled, "{status:?}");
    assert!(!*finished.borrow(), "finished before its caller gave up");
    let waited = tokio::time::timeout(Duration::from_secs(5), finished.wait_for(|d| *d));
    assert!(
        waited.await.is_ok(),
        "the handler was dropped with its caller"
    );
}
