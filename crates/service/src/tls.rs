//! TLS on every listener and on the channels between services: rustls with
//! the ring provider, certificates and keys read from PEM files named by
//! `server.tls_*`. Without `server.tls_cert` everything is plain TCP.

use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

use crate::{Error, Result, ServerSettings};

/// A client that opens a connection and never finishes the handshake holds
/// only its own task, and only this long.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Finished handshakes waiting for the server to take them.
const ACCEPTED_BACKLOG: usize = 128;
/// Handshakes under way at once; a connection beyond is closed at once, so a
/// flood of silent connections costs at most this many tasks.
const MAX_HANDSHAKES: usize = 1024;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(key: &str, path: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::Config(format!("{key} {path:?} cannot be read: {e}")))
}

/// Every certificate in the PEM file `path`; at least one.
fn certificates(key: &str, path: &str) -> Result<Vec<CertificateDer<'static>>> {
    let pem = read(key, path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Config(format!("{key} {path:?} is not PEM certificates: {e}")))?;
    if certs.is_empty() {
        return Err(Error::Config(format!(
            "{key} {path:?} holds no PEM certificate"
        )));
    }
    Ok(certs)
}

fn private_key(key: &str, path: &str) -> Result<PrivateKeyDer<'static>> {
    let pem = read(key, path)?;
    PrivateKeyDer::from_pem_slice(&pem)
        .map_err(|e| Error::Config(format!("{key} {path:?} is not a PEM private key: {e}")))
}

fn roots(key: &str, path: &str) -> Result<Arc<rustls::RootCertStore>> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in certificates(key, path)? {
        roots
            .add(cert)
            .map_err(|e| Error::Config(format!("{key} {path:?}: {e}")))?;
    }
    Ok(Arc::new(roots))
}

/// Refuses half a configuration: a key without its certificate, a client CA
/// without a certificate to answer with.
fn check_pairs(s: &ServerSettings) -> Result<()> {
    if s.tls_cert.is_empty() != s.tls_key.is_empty() {
        return Err(Error::Config(
            "server.tls_cert and server.tls_key must be set together".into(),
        ));
    }
    if !s.tls_client_ca.is_empty() && s.tls_cert.is_empty() {
        return Err(Error::Config(
            "server.tls_client_ca needs server.tls_cert and server.tls_key".into(),
        ));
    }
    Ok(())
}

/// The listeners' TLS, when `server.tls_cert` and `server.tls_key` are set.
/// With `server.tls_client_ca` a client must present a certificate it signed.
pub fn server_config(s: &ServerSettings) -> Result<Option<Arc<rustls::ServerConfig>>> {
    check_pairs(s)?;
    if s.tls_cert.is_empty() {
        return Ok(None);
    }
    let certs = certificates("server.tls_cert", &s.tls_cert)?;
    let key = private_key("server.tls_key", &s.tls_key)?;
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("tls: {e}")))?;
    let builder = if s.tls_client_ca.is_empty() {
        builder.with_no_client_auth()
    } else {
        let verifier = WebPkiClientVerifier::builder_with_provider(
            roots("server.tls_client_ca", &s.tls_client_ca)?,
            provider(),
        )
        .build()
        .map_err(|e| Error::Config(format!("server.tls_client_ca {:?}: {e}", s.tls_client_ca)))?;
        builder.with_client_cert_verifier(verifier)
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|e| {
        Error::Config(format!(
            "server.tls_key {:?} does not fit server.tls_cert: {e}",
            s.tls_key
        ))
    })?;
    // h2 for gRPC; http/1.1 so that the JSON routes and the page keep working
    // for clients that do not speak h2 (rustls refuses a client whose offer
    // shares nothing with this list).
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Some(Arc::new(config)))
}

/// How a client reaches `https://` peers: the CA of `server.tls_ca` (or the
/// system's roots), presenting `server.tls_cert` when set, for peers that
/// require client certificates.
pub fn client_config(s: &ServerSettings) -> Result<ClientTlsConfig> {
    check_pairs(s)?;
    let mut tls = if s.tls_ca.is_empty() {
        ClientTlsConfig::new().with_native_roots()
    } else {
        // Parsed here so that a bad file is refused at start naming its key,
        // not at the first call.
        certificates("server.tls_ca", &s.tls_ca)?;
        ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(read("server.tls_ca", &s.tls_ca)?))
    };
    if !s.tls_cert.is_empty() {
        certificates("server.tls_cert", &s.tls_cert)?;
        private_key("server.tls_key", &s.tls_key)?;
        tls = tls.identity(Identity::from_pem(
            read("server.tls_cert", &s.tls_cert)?,
            read("server.tls_key", &s.tls_key)?,
        ));
    }
    Ok(tls)
}

/// An endpoint for `url` (named by config `key`): TLS when it is `https://`.
pub fn endpoint(key: &str, url: &str, s: &ServerSettings) -> Result<Endpoint> {
    let endpoint = Endpoint::from_shared(url.to_owned())
        .map_err(|e| Error::Config(format!("{key} {url:?}: {e}")))?;
    if !url.starts_with("https://") {
        return Ok(endpoint);
    }
    endpoint
        .tls_config(client_config(s)?)
        .map_err(|e| Error::Config(format!("{key} {url:?}: {e}")))
}

/// Accepts on `listener` until `shutdown`, handshakes each connection on a
/// task of its own (one slow client holds up nobody) and hands over the
/// finished ones. A failed handshake (a plain-text client, no client
/// certificate under mTLS) closes that connection only.
pub fn accept(
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
    shutdown: CancellationToken,
) -> mpsc::Receiver<TlsStream<TcpStream>> {
    let (tx, rx) = mpsc::channel(ACCEPTED_BACKLOG);
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let handshakes = Arc::new(tokio::sync::Semaphore::new(MAX_HANDSHAKES));
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tx.closed() => break,
                accepted = listener.accept() => accepted,
            };
            let (stream, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors and the like: pause rather than spin.
                    tracing::warn!(error = %e, "failed to accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Ok(permit) = handshakes.clone().try_acquire_owned() else {
                tracing::debug!(%peer, "too many tls handshakes under way; connection closed");
                continue;
            };
            if let Err(e) = stream.set_nodelay(true) {
                tracing::warn!(error = %e, "failed to set TCP_NODELAY");
            }
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let handshake =
                    tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await;
                drop(permit);
                match handshake {
                    Ok(Ok(tls)) => {
                        let _ = tx.send(tls).await;
                    }
                    Ok(Err(e)) => tracing::debug!(%peer, error = %e, "tls handshake failed"),
                    Err(_) => tracing::debug!(%peer, "tls handshake timed out"),
                }
            });
        }
    });
    rx
}

/// The TLS connections of [`accept`] as an axum listener (the metrics port).
pub(crate) struct Listener {
    accepted: mpsc::Receiver<TlsStream<TcpStream>>,
    local: std::net::SocketAddr,
}

impl Listener {
    pub(crate) fn new(
        listener: TcpListener,
        config: Arc<rustls::ServerConfig>,
        shutdown: CancellationToken,
    ) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        Ok(Self {
            accepted: accept(listener, config, shutdown),
            local,
        })
    }
}

impl axum::serve::Listener for Listener {
    type Io = TlsStream<TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.accepted.recv().await {
                Some(tls) => match tls.get_ref().0.peer_addr() {
                    Ok(peer) => return (tls, peer),
                    Err(_) => continue,
                },
                // The accept loop ended with shutdown; graceful shutdown
                // stops asking before this matters.
                None => std::future::pending::<()>().await,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
pub(crate) mod tests;
