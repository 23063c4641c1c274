//! Calls between services that share a process skip the network. The
//! embedded stack runs all five services in one process, and every gateway
//! query used to cross two HTTP/2 hops (client → gateway → owning service),
//! each framed, written to a loopback socket and read back. A server
//! registers the same stack of layers it serves (metrics, auth, limits, its
//! routes) under its address; a peer channel whose address is registered
//! hands its request to that stack. Requests and answers are still encoded as gRPC, so a handler
//! cannot tell the difference, and auth still checks the service token.
//! Docs: architecture §9, "Calls between services".

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, PoisonError, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::FutureExt as _;
use tonic::body::Body;
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceExt as _};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// What a server answers with: its routes under its layers.
pub(crate) type Served = BoxCloneSyncService<http::Request<Body>, http::Response<Body>, Infallible>;

/// Servers of this process by the address they listen on, each with the
/// number of its registration (so a late drop never removes a successor).
static SERVED: LazyLock<RwLock<HashMap<SocketAddr, (u64, Served)>>> =
    LazyLock::new(Default::default);
static NEXT: AtomicU64 = AtomicU64::new(0);

/// Keeps a server reachable in process until dropped.
pub(crate) struct Registration {
    addr: SocketAddr,
    id: u64,
}

pub(crate) fn register(addr: SocketAddr, served: Served) -> Registration {
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut map = SERVED.write().unwrap_or_else(PoisonError::into_inner);
    map.insert(addr, (id, served));
    Registration { addr, id }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut map = SERVED.write().unwrap_or_else(PoisonError::into_inner);
        if map.get(&self.addr).is_some_and(|(id, _)| *id == self.id) {
            map.remove(&self.addr);
        }
    }
}

/// The server of this process that `addr` reaches: one listening on it, or
/// on every address (0.0.0.0, ::) at its port when `addr` is a loopback one.
fn find(addr: SocketAddr) -> Option<Served> {
    let map = SERVED.read().unwrap_or_else(PoisonError::into_inner);
    if let Some((_, served)) = map.get(&addr) {
        return Some(served.clone());
    }
    if !addr.ip().is_loopback() {
        return None;
    }
    let any = [
        IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    ];
    any.into_iter()
        .find_map(|ip| map.get(&SocketAddr::new(ip, addr.port())))
        .map(|(_, served)| served.clone())
}

/// The socket address a peer URL names, when it names one by IP or as
/// `localhost`; a host name never matches a server of this process.
pub(crate) fn addr_of(url: &str) -> Option<SocketAddr> {
    let uri: http::Uri = url.parse().ok()?;
    let default_port = match uri.scheme_str() {
        Some("https") => 443,
        _ => 80,
    };
    let port = uri.port_u16().unwrap_or(default_port);
    let host = uri.host()?;
    let ip = if host.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .ok()?
    };
    Some(SocketAddr::new(ip, port))
}

/// A channel to another service: in process while a server of this process
/// listens on its address, over the network otherwise. Which one is decided
/// per call, so a peer that stops or starts later is found either way.
#[derive(Clone)]
pub struct Peer {
    addr: Option<SocketAddr>,
    remote: tonic::transport::Channel,
    /// The remote channel's own time-out, if it has one.
    timeout: Option<Duration>,
}

impl Peer {
    /// `remote` reaches `url` over the network, with `timeout` if given.
    pub fn new(url: &str, remote: tonic::transport::Channel, timeout: Option<Duration>) -> Self {
        Self {
            addr: addr_of(url),
            remote,
            timeout,
        }
    }
}

/// A handler's future that, dropped before it is done (its caller timed out
/// or gave up), finishes on a task of its own: a server finishes a call
/// whose client went away, and a slow answer that is then cached (the group
/// patterns at 10M orders) must be, or every later call starts it again.
struct Finish<F>(Option<Pin<Box<F>>>)
where
    F: Future + Send + 'static,
    F::Output: Send;

impl<F> Future for Finish<F>
where
    F: Future + Send + 'static,
    F::Output: Send,
{
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let Some(inner) = self.0.as_mut() else {
            return Poll::Pending;
        };
        let done = std::task::ready!(inner.as_mut().poll(cx));
        self.0 = None;
        Poll::Ready(done)
    }
}

impl<F> Drop for Finish<F>
where
    F: Future + Send + 'static,
    F::Output: Send,
{
    fn drop(&mut self) {
        if let (Some(inner), Ok(runtime)) = (self.0.take(), tokio::runtime::Handle::try_current()) {
            runtime.spawn(async move {
                let _ = inner.await;
            });
        }
    }
}

impl Service<http::Request<Body>> for Peer {
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = BoxFuture<Result<Self::Response, BoxError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // Readiness is the chosen path's, awaited in `call`.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        if let Some(served) = self.addr.and_then(find) {
            let timeout = self.timeout;
            // Run in the caller's task, not spawned: a spawned handler is run
            // next on the same worker, ahead of older work, and the requests
            // that came first waited behind chains of such hops (1,000
            // clients on `runtime`: p99 55–83 ms spawned, 51–60 ms inline).
            let handled = Finish(Some(Box::pin(
                std::panic::AssertUnwindSafe(served.oneshot(request)).catch_unwind(),
            )));
            return Box::pin(async move {
                let handled = match timeout {
                    Some(limit) => tokio::time::timeout(limit, handled).await,
                    None => Ok(handled.await),
                };
                match handled {
                    Ok(Ok(Ok(response))) => Ok(response),
                    Ok(Ok(Err(never))) => match never {},
                    Ok(Err(_panic)) => {
                        Err(tonic::Status::internal("the service's handler failed").into())
                    }
                    // What the network channel's time-out gives: CANCELLED.
                    Err(_) => Err(tonic::TimeoutExpired(()).into()),
                }
            });
        }
        let mut remote = self.remote.clone();
        Box::pin(async move {
            remote.ready().await?;
            Ok(remote.call(request).await?)
        })
    }
}

#[cfg(test)]
#[path = "local_tests.rs"]
mod tests;
