//! TLS against a real server on a free port, with a CA and certificates made
//! here (rcgen): what a client without TLS, without a certificate, or with a
//! bad file gets.

use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;
use std::task::{Context, Poll};

use rcgen::{CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_util::sync::CancellationToken;
use tonic::server::NamedService;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::{Config, ServerSettings, ServiceName, Services};

/// A CA, a certificate for 127.0.0.1 signed by it (server and client use),
/// written as PEM files.
pub(crate) struct Pki {
    pub(crate) dir: tempfile::TempDir,
}

impl Pki {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().expect("dir");
        let ca_key = KeyPair::generate().expect("ca key");
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca_cert = ca.self_signed(&ca_key).expect("ca cert");
        let issuer = Issuer::new(ca, ca_key);
        let leaf = |name: &str| {
            let key = KeyPair::generate().expect("key");
            let mut params =
                CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                    .expect("params");
            params.extended_key_usages = vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ];
            let cert = params.signed_by(&key, &issuer).expect("signed");
            std::fs::write(dir.path().join(format!("{name}.pem")), cert.pem()).expect("write");
            std::fs::write(dir.path().join(format!("{name}.key")), key.serialize_pem())
                .expect("write");
        };
        leaf("server");
        leaf("client");
        std::fs::write(dir.path().join("ca.pem"), ca_cert.pem()).expect("write");
        Self { dir }
    }

    pub(crate) fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// The server's settings; `mutual` requires client certificates.
    pub(crate) fn server(&self, mutual: bool) -> ServerSettings {
        ServerSettings {
            listen: "127.0.0.1:0".into(),
            tls_cert: self.path("server.pem"),
            tls_key: self.path("server.key"),
            tls_ca: self.path("ca.pem"),
            tls_client_ca: if mutual {
                self.path("ca.pem")
            } else {
                String::new()
            },
        }
    }

    /// A client trusting the CA, with a certificate when `with_cert`.
    pub(crate) fn client(&self, with_cert: bool) -> ServerSettings {
        let (cert, key) = if with_cert {
            (self.path("client.pem"), self.path("client.key"))
        } else {
            (String::new(), String::new())
        };
        ServerSettings {
            listen: "127.0.0.1:0".into(),
            tls_cert: cert,
            tls_key: key,
            tls_ca: self.path("ca.pem"),
            tls_client_ca: String::new(),
        }
    }
}

/// The one gRPC service `Services` needs; the tests ask health, which `serve` adds.
#[derive(Clone)]
pub(crate) struct Nothing;

impl NamedService for Nothing {
    const NAME: &'static str = "test.Nothing";
}

impl tower::Service<http::Request<tonic::body::Body>> for Nothing {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Request<tonic::body::Body>) -> Self::Future {
        std::future::ready(Ok(tonic::Status::unimplemented("nothing").into_http()))
    }
}

async fn start(server: &ServerSettings, shutdown: &CancellationToken) -> std::net::SocketAddr {
    let (listener, addr) = crate::bind("127.0.0.1:0").await.expect("bind");
    let tls = super::server_config(server).expect("tls config");
    let auth = portrait_auth::Authenticator::from_settings(&portrait_auth::AuthSettings {
        mode: portrait_auth::AuthMode::Off,
        ..portrait_auth::AuthSettings::default()
    })
    .expect("auth");
    let ping = axum::Router::new().route("/ping", axum::routing::get(|| async { "pong" }));
    let services = Services::new(Nothing).with_http(ping);
    let shutdown = shutdown.clone();
    tokio::spawn(async move {
        crate::serve(listener, services, Arc::new(auth), tls, shutdown)
            .await
            .expect("served");
    });
    addr
}

/// Health's answer over `url`, or why there was none.
async fn health(url: &str, client: &ServerSettings) -> Result<i32, String> {
    let endpoint = super::endpoint("test", url, client).map_err(|e| e.to_string())?;
    let channel = endpoint.connect().await.map_err(|e| format!("{e:?}"))?;
    HealthClient::new(channel)
        .check(HealthCheckRequest::default())
        .await
        .map(|r| r.into_inner().status)
        .map_err(|e| e.to_string())
}

const SERVING: i32 = tonic_health::pb::health_check_response::ServingStatus::Serving as i32;

#[tokio::test]
async fn a_tls_listener_answers_tls_and_refuses_plain_text() {
    let pki = Pki::new();
    let shutdown = CancellationToken::new();
    let addr = start(&pki.server(false), &shutdown).await;
    assert_eq!(
        health(&format!("https://{addr}"), &pki.client(false)).await,
        Ok(SERVING)
    );
    let plain = health(&format!("http://{addr}"), &pki.client(false)).await;
    assert!(plain.is_err(), "plain text was answered: {plain:?}");
    // A client that trusts another CA refuses the server.
    let other = Pki::new();
    let stranger = health(&format!("https://{addr}"), &other.client(false)).await;
    assert!(stranger.is_err(), "an unknown CA was trusted: {stranger:?}");
    shutdown.cancel();
}

#[tokio::test]
async fn mutual_tls_refuses_a_client_without_a_certificate() {
    let pki = Pki::new();
    let shutdown = CancellationToken::new();
    let addr = start(&pki.server(true), &shutdown).await;
    let url = format!("https://{addr}");
    let anonymous = health(&url, &pki.client(false)).await;
    assert!(
        anonymous.is_err(),
        "no certificate was answered: {anonymous:?}"
    );
    assert_eq!(health(&url, &pki.client(true)).await, Ok(SERVING));
    // A certificate from another CA is no better than none.
    let other = Pki::new();
    let mut foreign = other.client(true);
    foreign.tls_ca = pki.path("ca.pem");
    let refused = health(&url, &foreign).await;
    assert!(
        refused.is_err(),
        "a foreign certificate was answered: {refused:?}"
    );
    shutdown.cancel();
}

/// GET `path` over TLS offering only http/1.1; the whole answer.
async fn http1_get(addr: std::net::SocketAddr, pki: &Pki, path: &str) -> String {
    let mut roots = rustls::RootCertStore::empty();
    for cert in super::certificates("ca", &pki.path("ca.pem")).expect("ca") {
        roots.add(cert).expect("root");
    }
    let mut config = rustls::ClientConfig::builder_with_provider(super::provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").expect("name");
    let mut tls = connector.connect(name, tcp).await.expect("handshake");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes()).await.expect("write");
    let mut answer = String::new();
    tls.read_to_string(&mut answer).await.expect("read");
    answer
}

#[tokio::test]
async fn http1_routes_and_metrics_work_over_tls() {
    let pki = Pki::new();
    let shutdown = CancellationToken::new();
    let addr = start(&pki.server(false), &shutdown).await;
    let answer = http1_get(addr, &pki, "/ping").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("pong"), "{answer}");

    let (probe, metrics_addr) = crate::bind("127.0.0.1:0").await.expect("bind");
    drop(probe);
    let tls = super::server_config(&pki.server(false)).expect("tls");
    let token = shutdown.clone();
    let served =
        tokio::spawn(
            async move { crate::metrics::serve(&metrics_addr.to_string(), tls, token).await },
        );
    let mut answer = String::new();
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(metrics_addr).await.is_ok() {
            answer = http1_get(metrics_addr, &pki, "/metrics").await;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    shutdown.cancel();
    served
        .await
        .expect("joined")
        .expect("metrics stopped cleanly");
}

fn config_with(server: ServerSettings) -> Result<Config, String> {
    let mut config = Config::defaults(ServiceName::Profiler);
    let listen = config.server.listen.clone();
    config.server = ServerSettings { listen, ..server };
    config
        .validated(ServiceName::Profiler)
        .map_err(|e| e.to_string())
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.display().to_string()
}

#[test]
fn bad_pem_fails_start_naming_the_key() {
    let pki = Pki::new();
    assert!(config_with(pki.server(true)).is_ok());
    let junk = write(pki.dir.path(), "junk.pem", "not a certificate\n");
    let cases = [
        (
            "server.tls_cert",
            ServerSettings {
                tls_cert: junk.clone(),
                ..pki.server(false)
            },
        ),
        (
            "server.tls_key",
            ServerSettings {
                tls_key: junk.clone(),
                ..pki.server(false)
            },
        ),
        (
            "server.tls_ca",
            ServerSettings {
                tls_ca: junk.clone(),
                ..pki.server(false)
            },
        ),
        (
            "server.tls_client_ca",
            ServerSettings {
                tls_client_ca: junk.clone(),
                ..pki.server(false)
            },
        ),
        (
            "server.tls_cert",
            ServerSettings {
                tls_cert: pki.path("missing.pem"),
                ..pki.server(false)
            },
        ),
        // The client's key with the server's certificate: they do not fit.
        (
            "server.tls_key",
            ServerSettings {
                tls_key: pki.path("client.key"),
                ..pki.server(false)
            },
        ),
        (
            "server.tls_key",
            ServerSettings {
                tls_key: String::new(),
                ..pki.server(false)
            },
        ),
    ];
    for (key, server) in cases {
        let error = config_with(server.clone()).expect_err(key);
        assert!(error.contains(key), "{key}: {error}");
    }
}
