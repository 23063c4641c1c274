use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tokio_util::sync::CancellationToken;
use tonic::server::NamedService;
use tonic::service::Routes;

use crate::{Error, Result};

/// Binds before serving so that a taken port fails start-up with a clear message.
pub async fn bind(addr: &str) -> Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind {
            addr: addr.to_owned(),
            source,
        })?;
    let local = listener.local_addr().map_err(|source| Error::Bind {
        addr: addr.to_owned(),
        source,
    })?;
    Ok((listener, local))
}

// HTTP/2 flow control, sized on purpose. h2 (>= 0.4.16) closes a connection
// with GOAWAY ENHANCE_YOUR_CALM "too_many_data_frames" when the framing overhead
// of small DATA frames received but not yet read exceeds a budget of half the
// connection window: each unread frame of n < 256 bytes costs 256 - n. A
// client-streaming call whose handler is busy (ingest waiting on its database)
// leaves at most one stream window unread, so what one stalled stream can cost
// is STREAM_WINDOW / n * (256 - n): for the smallest valid orders (~30-byte
// frames) about 7.5 × STREAM_WINDOW = 960 KiB, for typical ones (60-100 bytes)
// 2-3 ×. The connection window's half (16 MiB) covers 16 such stalled streams
// of the smallest orders on one connection. Unread data stays bounded by the
// connection window however many streams there are.
// The stream window still lets one stream move 128 KiB per round trip
// (~6 MB/s at 20 ms), above what one ingest writer commits.
const STREAM_WINDOW: u32 = 128 * 1024;
const CONNECTION_WINDOW: u32 = 32 * 1024 * 1024;
// Off: BDP probing grows the stream window past what the budget above was
// sized for (with equal windows one stalled stream of small frames is over it).
const ADAPTIVE_WINDOW: bool = false;
// The gateway multiplexes every query of its clients over one connection per
// service; unary requests are read whole before their handler runs, so they
// never sit unread. This only stops a runaway client.
const MAX_CONCURRENT_STREAMS: u32 = 1024;
// Finds peers that vanished without a FIN (a killed pod, a dropped NAT entry)
// so their calls end instead of holding a writer.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// What one server serves: its gRPC services, each named so that reflection
/// advertises exactly these, and on the gateway the HTTP JSON routes beside them.
pub struct Services {
    routes: Routes,
    names: Vec<&'static str>,
    http: Option<axum::Router>,
    /// False while the service cannot answer truthfully (its log went
    /// backwards): health says NOT_SERVING for every service listed above.
    serving: Option<tokio::sync::watch::Receiver<bool>>,
    /// Where the auth layer records refusals and admin actions.
    audit: Option<std::sync::Arc<dyn crate::AuditSink>>,
    /// The gateway's abuse limits; none on the internal services.
    limits: Option<crate::Limits>,
}

impl Services {
    pub fn new<S>(service: S) -> Self
    where
        S: tower::Service<http::Request<tonic::body::Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Response: axum::response::IntoResponse,
        S::Future: Send + 'static,
    {
        Self {
            routes: Routes::new(service),
            names: vec![S::NAME],
            http: None,
            serving: None,
            audit: None,
            limits: None,
        }
    }

    /// One more gRPC service on the same server.
    pub fn and<S>(mut self, service: S) -> Self
    where
        S: tower::Service<http::Request<tonic::body::Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Response: axum::response::IntoResponse,
        S::Future: Send + 'static,
    {
        self.routes = self.routes.add_service(service);
        self.names.push(S::NAME);
        self
    }

    /// Health follows `serving` for the services listed so far; given more
    /// than once, it is SERVING only while every one is true.
    pub fn with_serving(mut self, serving: tokio::sync::watch::Receiver<bool>) -> Self {
        self.serving = Some(match self.serving.take() {
            Some(before) => all_of(before, serving),
            None => serving,
        });
        self
    }

    /// Refused requests and admin actions go to `audit`.
    pub fn with_audit(mut self, audit: std::sync::Arc<dyn crate::AuditSink>) -> Self {
        self.audit = Some(audit);
        self
    }

    /// Every request but health checks within `limits`.
    pub fn with_limits(mut self, limits: crate::Limits) -> Self {
        self.limits = Some(limits);
        self
    }

    /// HTTP/1.1 (and HTTP/2) routes on the same port. Their paths must not
    /// look like gRPC's (`/package.Service/Method`); a request no route takes
    /// gets gRPC's UNIMPLEMENTED when it is gRPC, a JSON 404 otherwise.
    pub fn with_http(mut self, router: axum::Router) -> Self {
        self.http = Some(router);
        self
    }

    /// Refusals and admin actions go to the service's own audit log, which
    /// the gateway reads through `AuditAdmin` on the same port.
    pub fn with_audit_log(self, log: &std::sync::Arc<crate::AuditLog>) -> Self {
        self.and(log.server()).with_audit(log.clone())
    }
}

/// True while both are; follows either until both senders are gone.
fn all_of(
    mut a: tokio::sync::watch::Receiver<bool>,
    mut b: tokio::sync::watch::Receiver<bool>,
) -> tokio::sync::watch::Receiver<bool> {
    let both = |a: &tokio::sync::watch::Receiver<bool>, b: &tokio::sync::watch::Receiver<bool>| {
        *a.borrow() && *b.borrow()
    };
    let (tx, rx) = tokio::sync::watch::channel(both(&a, &b));
    tokio::spawn(async move {
        loop {
            let changed = tokio::select! {
                c = a.changed() => c,
                c = b.changed() => c,
            };
            if changed.is_err() {
                break;
            }
            let now = both(&a, &b);
            tx.send_if_modified(|v| std::mem::replace(v, now) != now);
            if tx.is_closed() {
                break;
            }
        }
    });
    rx
}

// Both reflection versions list the same services: grpcurl and tonic speak
// v1, Python's grpcio-reflection and several GUI clients only v1alpha.
fn reflection(served: &[&'static str]) -> tonic_reflection::server::Builder<'static> {
    let mut builder = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(portrait_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET)
        .include_reflection_service(false);
    for name in served {
        builder = builder.with_service_name(*name);
    }
    builder
}

/// Serves `services` plus gRPC health checking and server reflection (v1 and
/// v1alpha) until shutdown.
pub async fn serve(
    listener: TcpListener,
    services: Services,
    auth: std::sync::Arc<portrait_auth::Authenticator>,
    tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    shutdown: CancellationToken,
) -> Result<()> {
    let (reporter, health) = tonic_health::server::health_reporter();
    let mut names = services.names;
    let health_task = services.serving.map(|mut serving| {
        let served = names.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            loop {
                let status = if *serving.borrow_and_update() {
                    tonic_health::ServingStatus::Serving
                } else {
                    tonic_health::ServingStatus::NotServing
                };
                for name in &served {
                    reporter.set_service_status(*name, status).await;
                }
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    changed = serving.changed() => if changed.is_err() { break },
                }
            }
        })
    });
    names.extend([
        tonic_health::pb::health_server::SERVICE_NAME,
        tonic_reflection::pb::v1::server_reflection_server::SERVICE_NAME,
        tonic_reflection::pb::v1alpha::server_reflection_server::SERVICE_NAME,
    ]);
    let reflection_error =
        |e: tonic_reflection::server::Error| Error::Config(format!("reflection: {e}"));
    let v1 = reflection(&names).build_v1().map_err(reflection_error)?;
    let v1alpha = reflection(&names)
        .build_v1alpha()
        .map_err(reflection_error)?;
    let mut routes = services
        .routes
        .add_service(health)
        .add_service(v1)
        .add_service(v1alpha);
    let http1 = services.http.is_some();
    if let Some(http) = services.http {
        routes = Routes::from(
            routes
                .into_axum_router()
                .reset_fallback()
                .merge(http)
                .fallback(crate::http_error::fallback),
        );
    }
    // One stack of layers for the network and for callers in this process.
    let layers = tower::ServiceBuilder::new()
        .layer(crate::rpc_metrics::RpcMetricsLayer)
        .layer(crate::auth_layer::AuthLayer {
            auth,
            audit: services.audit,
        })
        // After authentication: the rate limit is per token.
        .layer(crate::limits::LimitsLayer::new(services.limits));
    let _local = match listener.local_addr() {
        Ok(addr) => Some(crate::local::register(
            addr,
            crate::local::Served::new(layers.clone().service(routes.clone())),
        )),
        Err(_) => None,
    };
    let router = tonic::transport::Server::builder()
        .layer(layers)
        .accept_http1(http1)
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .http2_adaptive_window(Some(ADAPTIVE_WINDOW))
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
        .http2_keepalive_interval(Some(KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
        .add_routes(routes);
    match tls {
        // Handshakes happen on tasks of their own (crate::tls::accept), which
        // also set TCP_NODELAY; tonic's own TLS would offer only h2.
        Some(tls) => {
            let incoming = ReceiverStream::new(crate::tls::accept(listener, tls, shutdown.clone()))
                .map(Ok::<_, std::io::Error>);
            router
                .serve_with_incoming_shutdown(incoming, shutdown.cancelled_owned())
                .await?;
        }
        None => {
            // `Server::tcp_nodelay` only reaches sockets tonic accepts itself.
            // Without it, an answer written in more than one segment waits for
            // the client's delayed ACK (Nagle): about 40 ms on Linux for any
            // larger response.
            let incoming = TcpListenerStream::new(listener).map(|accepted| {
                accepted.inspect(|stream| {
                    if let Err(e) = stream.set_nodelay(true) {
                        tracing::warn!(error = %e, "failed to set TCP_NODELAY");
                    }
                })
            });
            router
                .serve_with_incoming_shutdown(incoming, shutdown.cancelled_owned())
                .await?;
        }
    }
    if let Some(task) = health_task {
        task.abort();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::sync::watch;

    #[tokio::test]
    async fn health_given_twice_is_serving_only_while_both_are() {
        let (a, ra) = watch::channel(true);
        let (b, rb) = watch::channel(true);
        let mut all = super::all_of(ra, rb);
        assert!(*all.borrow());
        for (x, y, want) in [
            (false, true, false),
            (false, false, false),
            (true, false, false),
            (true, true, true),
        ] {
            a.send_replace(x);
            b.send_replace(y);
            let settled = tokio::time::timeout(Duration::from_secs(5), async {
                while *all.borrow_and_update() != want {
                    all.changed().await.expect("combined sender alive");
                }
            });
            settled.await.expect("the combined health follows");
        }
    }
}
