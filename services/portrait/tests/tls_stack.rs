//! The whole in-process stack with every listener on mutual TLS and every
//! call between its services over `https://`: it answers exactly what the
//! plain-TCP stack answers for the same orders, and refuses plain text.

mod support;

use std::time::Duration;

use portrait_proto::v1::ingest_service_client::IngestServiceClient;
use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{Filter, OverviewRequest, SubmitOrderBatchRequest, SyncStatusRequest};
use portrait_service::ServerSettings;
use portrait_synth::ChainSpec;
use rcgen::{CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

const SEED: u64 = 11;

/// A CA and one certificate for 127.0.0.1 that every service uses as server
/// and as client; the file paths as the services' `server.tls_*`.
fn pki(dir: &std::path::Path) -> ServerSettings {
    let ca_key = KeyPair::generate().expect("ca key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    // rcgen names every certificate alike by default, and OpenSSL (curl)
    // takes a leaf named as its issuer for self-signed.
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "portrait test ca");
    let ca_cert = ca.self_signed(&ca_key).expect("ca cert");
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "127.0.0.1");
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let cert = params.signed_by(&key, &issuer).expect("signed");
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        path.display().to_string()
    };
    let ca = write("ca.pem", ca_cert.pem());
    ServerSettings {
        listen: String::new(),
        tls_cert: write("service.pem", cert.pem()),
        tls_key: write("service.key", key.serialize_pem()),
        tls_ca: ca.clone(),
        tls_client_ca: ca,
    }
}

async fn tls_channel(addr: std::net::SocketAddr, tls: &ServerSettings) -> Channel {
    portrait_service::tls::endpoint("test", &format!("https://{addr}"), tls)
        .expect("endpoint")
        .connect()
        .await
        .expect("tls connect")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stack_over_mutual_tls_answers_as_over_plain_tcp() {
    let plain = support::fed_stack(SEED).await;
    let filter = Some(Filter {
        as_of_date: plain.as_of.clone(),
        ..Filter::default()
    });
    let mut gateway = PortraitServiceClient::new(support::channel(plain.stack.gateway_addr).await);
    let over_tcp = gateway
        .get_overview(OverviewRequest {
            filter: filter.clone(),
        })
        .await
        .expect("overview over tcp")
        .into_inner();
    let plain_as_of = plain.as_of.clone();
    plain.stop().await;

    let certs = tempfile::tempdir().expect("dir");
    let tls = pki(certs.path());
    let data = tempfile::tempdir().expect("dir");
    let shutdown = CancellationToken::new();
    let stack = portrait::embedded::spawn_stack_over_tls(data.path(), shutdown.clone(), &tls)
        .await
        .expect("stack over tls");

    let refused = Channel::from_shared(format!("http://{}", stack.gateway_addr))
        .expect("url")
        .connect()
        .await
        .map(PortraitServiceClient::new);
    if let Ok(mut client) = refused {
        let answer = client.get_sync_status(SyncStatusRequest {}).await;
        assert!(answer.is_err(), "plain text was answered: {answer:?}");
    }

    let (_, submitted) = portrait_synth::generate(&ChainSpec::small(SEED));
    let mut ingest = IngestServiceClient::new(tls_channel(stack.ingest_addr, &tls).await);
    for chunk in submitted.chunks(500) {
        let batch = SubmitOrderBatchRequest {
            orders: chunk.to_vec(),
        };
        ingest.submit_order_batch(batch).await.expect("accepted");
    }
    let mut gateway = PortraitServiceClient::new(tls_channel(stack.gateway_addr, &tls).await);
    let mut caught_up = false;
    for _ in 0..600 {
        let status = gateway.get_sync_status(SyncStatusRequest {}).await;
        // Caught up is asked of every service through the gateway, so this
        // already crosses the services' own mutual TLS.
        if status.expect("status over tls").get_ref().caught_up {
            caught_up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(caught_up, "the stack over tls did not catch up");
    let over_tls = gateway
        .get_overview(OverviewRequest { filter })
        .await
        .expect("overview over tls")
        .into_inner();
    assert!(over_tcp.orders > 0, "the scenario has orders");
    assert_eq!(over_tls, over_tcp);

    // What `portrait run` / `demo` print for this stack, run as printed: the
    // CLI with its --gateway https://, --ca, --tls-cert and --tls-key, curl on
    // the JSON route and the page.
    let reach = portrait::hints::Reach::new(stack.gateway_addr, &tls, false);
    assert!(reach.page().starts_with("https://"), "{}", reach.page());
    let bin = env!("CARGO_BIN_EXE_portrait");
    let hinted = [
        format!(
            "{bin} query overview --as-of {plain_as_of}{}",
            reach.cli_flags()
        ),
        reach.curl(&format!("/v1/overview?asOfDate={plain_as_of}")),
    ];
    for line in hinted {
        let ran = tokio::process::Command::new("sh")
            .args(["-c", &line])
            .output()
            .await
            .expect("sh runs");
        assert!(
            ran.status.success(),
            "{line}: {}",
            String::from_utf8_lossy(&ran.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&ran.stdout).expect("json");
        assert_eq!(
            json["orders"],
            over_tls.orders.to_string(),
            "{line}: {json}"
        );
    }
    let page = reach
        .curl("/")
        .replacen("curl", "curl -sf -o /dev/null -w %{http_code}", 1);
    let ran = tokio::process::Command::new("sh")
        .args(["-c", &page])
        .output()
        .await
        .expect("sh runs");
    assert_eq!(String::from_utf8_lossy(&ran.stdout), "200", "{page}");

    // `portrait query` reaches the mutual-TLS gateway with --ca, --tls-cert and --tls-key, and is
    // refused without a certificate.
    let as_of = plain_as_of.clone();
    let url = format!("https://{}", stack.gateway_addr);
    let tls_files = tls.clone();
    let cli = move |with_cert: bool| {
        let tls = &tls_files;
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_portrait"));
        command.args(["query", "overview", "--as-of", &as_of, "--gateway", &url]);
        command.args(["--ca", &tls.tls_ca]);
        if with_cert {
            command.args(["--tls-cert", &tls.tls_cert, "--tls-key", &tls.tls_key]);
        }
        command.output().expect("portrait query runs")
    };
    let printed = tokio::task::spawn_blocking({
        let cli = cli.clone();
        move || cli(true)
    })
    .await
    .expect("ran");
    assert!(
        printed.status.success(),
        "{}",
        String::from_utf8_lossy(&printed.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&printed.stdout).expect("json");
    assert_eq!(json["orders"], over_tls.orders.to_string(), "{json}");
    let refused = tokio::task::spawn_blocking(move || cli(false))
        .await
        .expect("ran");
    assert!(
        !refused.status.success(),
        "answered without a client certificate"
    );
    shutdown.cancel();
    stack.wait().await.expect("clean stop");
}
