//! The gateway's size limit through the real server: a gRPC message or a
//! JSON body over `gateway.max_request_bytes` (4 MiB by default) is refused
//! before it is read, the rest is served. The other limits have unit tests
//! in portrait-service (limits/tests.rs).

use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{Filter, OverviewRequest};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_util::sync::CancellationToken;

const DEFAULT_LIMIT: usize = 4 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_over_the_size_limit_are_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let shutdown = CancellationToken::new();
    let stack = portrait::embedded::spawn_stack(dir.path(), shutdown.clone())
        .await
        .expect("stack");
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", stack.gateway_addr))
        .expect("url")
        .connect()
        .await
        .expect("connect");
    let mut gateway = PortraitServiceClient::new(channel);
    let asking = |bytes: usize| OverviewRequest {
        filter: Some(Filter {
            store_ids: vec!["s".repeat(bytes)],
            ..Filter::default()
        }),
    };
    let refused = gateway
        .get_overview(asking(DEFAULT_LIMIT + 1))
        .await
        .expect_err("over the limit");
    assert_eq!(
        refused.code(),
        tonic::Code::ResourceExhausted,
        "{refused:?}"
    );
    // Under the limit the request is read (and then judged on its merits).
    let read = gateway.get_overview(asking(1000)).await;
    assert!(
        read.as_ref()
            .map_or_else(|s| s.code() != tonic::Code::ResourceExhausted, |_| true),
        "{read:?}"
    );

    // A JSON body declared over the limit: 413 without sending it.
    let mut stream = tokio::net::TcpStream::connect(stack.gateway_addr)
        .await
        .expect("connect");
    let head = format!(
        "POST /v1/overview HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        DEFAULT_LIMIT + 1
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("read");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("gateway.max_request_bytes"), "{answer}");

    shutdown.cancel();
    stack.wait().await.expect("clean stop");
}
