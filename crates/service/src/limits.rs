//! What one client can cost the gateway: requests in flight, requests per
//! second (a token bucket per caller), how long one request may take, and
//! how large a request may be. A request over the in-flight limit waits for
//! a place a bounded time in a bounded queue, so a burst of clients is
//! answered rather than refused; every other refusal is immediate.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::{Layer, Service};

/// Buckets kept before the full ones (callers idle long enough to have
/// refilled) are dropped: bounds the memory a stream of new callers costs.
const MAX_BUCKETS: usize = 10_000;
/// The prefix of tonic's own message for a request over
/// `max_decoding_message_size`, which it answers OUT_OF_RANGE.
const TONIC_TOO_LARGE: &str = "Error, decoded message length too large";

/// The gateway's limits (`gateway.*`, README).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Requests being answered at once; more wait for a place.
    pub max_in_flight: usize,
    /// Requests that may wait for a place at once; one more is refused.
    pub max_queued: usize,
    /// Longest a request waits for a place before it is refused; zero
    /// refuses at once.
    pub queue_wait: Duration,
    /// Longest a request may take; `None` = no deadline.
    pub request_timeout: Option<Duration>,
    /// Requests per second each caller may sustain; 0 = no rate limit.
    pub rate_per_second: f64,
    /// Requests a caller may make at once after being idle.
    pub rate_burst: u32,
    /// Largest request body of a JSON route, and of one gRPC message.
    pub max_request_bytes: usize,
    /// Paths without the deadline: client streams as long as their data
    /// (an import), bounded by their size and the client's own deadline.
    pub no_deadline: Vec<&'static str>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

struct Shared {
    limits: Limits,
    in_flight: Arc<Semaphore>,
    /// Requests waiting for a place in flight.
    queued: AtomicUsize,
    buckets: Mutex<HashMap<String, Bucket>>,
}

/// A request's place in the queue, given back when it is dropped (admitted,
/// timed out, or its client went away).
struct Queued(Arc<Shared>);

impl Queued {
    /// A place, if waiting is allowed and the queue is not full.
    fn join(shared: &Arc<Shared>) -> Option<Self> {
        let limits = &shared.limits;
        if limits.queue_wait.is_zero() {
            return None;
        }
        let taken = shared.queued.fetch_add(1, Ordering::AcqRel);
        let place = Self(shared.clone());
        (taken < limits.max_queued).then_some(place)
    }
}

impl Drop for Queued {
    fn drop(&mut self) {
        self.0.queued.fetch_sub(1, Ordering::AcqRel);
    }
}

/// How a request over the in-flight limit is told so.
fn busy(limits: &Limits) -> tonic::Status {
    tonic::Status::resource_exhausted(format!(
        "the gateway is answering {} requests and {} more wait (gateway.max_in_flight, \
         gateway.max_queued); retry shortly",
        limits.max_in_flight, limits.max_queued
    ))
}

impl Shared {
    /// Takes one token of `key`'s bucket, or says how long until there is one.
    fn take(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let (rate, burst) = (
            self.limits.rate_per_second,
            f64::from(self.limits.rate_burst),
        );
        if rate <= 0.0 {
            return Ok(());
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(key) {
            buckets.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate < burst
            });
        }
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let refilled = now.saturating_duration_since(bucket.at).as_secs_f64() * rate;
        bucket.tokens = (bucket.tokens + refilled).min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / rate))
        }
    }
}

/// Applies [`Limits`] to every request but health checks (probes must see a
/// busy gateway as alive).
#[derive(Clone)]
pub(crate) struct LimitsLayer(Option<Arc<Shared>>);

impl LimitsLayer {
    pub(crate) fn new(limits: Option<Limits>) -> Self {
        Self(limits.map(|limits| {
            Arc::new(Shared {
                in_flight: Arc::new(Semaphore::new(limits.max_in_flight)),
                queued: AtomicUsize::new(0),
                limits,
                buckets: Mutex::new(HashMap::new()),
            })
        }))
    }
}

impl<S> Layer<S> for LimitsLayer {
    type Service = Limited<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Limited {
            inner,
            shared: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub(crate) struct Limited<S> {
    inner: S,
    shared: Option<Arc<Shared>>,
}

type Response = http::Response<tonic::body::Body>;
type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// `status` as gRPC or as the JSON API's error, with `http` as the HTTP status.
fn refuse(status: tonic::Status, grpc: bool, http: http::StatusCode) -> Response {
    if grpc {
        return status.into_http();
    }
    let retry = status.metadata().get("retry-after").cloned();
    let (mut parts, body) = crate::http_error::status_response(&status).into_parts();
    parts.status = http;
    if let Some(retry) = retry.and_then(|v| http::HeaderValue::from_bytes(v.as_bytes()).ok()) {
        parts.headers.insert(http::header::RETRY_AFTER, retry);
    }
    http::Response::from_parts(parts, tonic::body::Body::new(body))
}

/// Who a request is, for its bucket: the token's subject, or the peer's
/// address without authentication (everyone is then "anonymous").
fn caller(request: &http::Request<tonic::body::Body>) -> String {
    match request.extensions().get::<portrait_auth::Principal>() {
        Some(p) if p.subject != portrait_auth::Principal::anonymous_admin().subject => {
            format!("sub:{}", p.subject)
        }
        _ => {
            let ip: Option<IpAddr> = crate::peer_of(request.extensions()).map(|a| a.ip());
            ip.map_or_else(|| "ip:?".to_owned(), |ip| format!("ip:{ip}"))
        }
    }
}

/// A response body holding its request's in-flight slot: a streamed answer
/// (a server stream, reflection) counts until its last frame is out or the
/// client goes away, not only until its headers.
struct Holding {
    body: tonic::body::Body,
    permit: Option<OwnedSemaphorePermit>,
}

impl http_body::Body for Holding {
    type Data = <tonic::body::Body as http_body::Body>::Data;
    type Error = <tonic::body::Body as http_body::Body>::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.body).poll_frame(cx);
        // Done or failed: free the slot now, before hyper drops the body.
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) {
            this.permit = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// `response` with `permit` released when its body ends or is dropped.
fn holding(response: Response, permit: OwnedSemaphorePermit) -> Response {
    response.map(|body| {
        tonic::body::Body::new(Holding {
            body,
            permit: Some(permit),
        })
    })
}

/// tonic answers a message over the size limit OUT_OF_RANGE; the gRPC
/// status for a request over a server's limit is RESOURCE_EXHAUSTED.
fn too_large_is_exhausted(mut response: Response) -> Response {
    let ours = tonic::Status::from_header_map(response.headers()).is_some_and(|s| {
        s.code() == tonic::Code::OutOfRange && s.message().starts_with(TONIC_TOO_LARGE)
    });
    if ours {
        response
            .headers_mut()
            .insert("grpc-status", http::HeaderValue::from_static("8"));
    }
    response
}

impl<S> Service<http::Request<tonic::body::Body>> for Limited<S>
where
    S: Service<http::Request<tonic::body::Body>, Response = Response>,
    S::Future: Send + 'static,
    S::Error: 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let Some(shared) = self.shared.clone() else {
            return Box::pin(self.inner.call(request));
        };
        let path = request.uri().path().to_owned();
        if path.starts_with("/grpc.health.v1.Health/") {
            return Box::pin(self.inner.call(request));
        }
        let grpc = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
        let limits = &shared.limits;
        if let Err(wait) = shared.take(&caller(&request), Instant::now()) {
            let secs = wait.as_secs().max(1);
            let mut status = tonic::Status::resource_exhausted(format!(
                "rate limit: at most {} requests per second (burst {}); retry in {} ms",
                limits.rate_per_second,
                limits.rate_burst,
                wait.as_millis().max(1)
            ));
            status.metadata_mut().insert("retry-after", secs.into());
            let refused = refuse(status, grpc, http::StatusCode::TOO_MANY_REQUESTS);
            return Box::pin(async move { Ok(refused) });
        }
        let admitted = match shared.in_flight.clone().try_acquire_owned() {
            Ok(permit) => Ok(permit),
            Err(_) => match Queued::join(&shared) {
                Some(place) => Err(place),
                None => {
                    let refused = refuse(busy(limits), grpc, http::StatusCode::TOO_MANY_REQUESTS);
                    return Box::pin(async move { Ok(refused) });
                }
            },
        };
        let declared = request
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        let max = limits.max_request_bytes;
        let request = if grpc {
            // Each message is bounded by max_decoding_message_size; a
            // stream's total is not.
            request
        } else if declared.is_some_and(|n| n > max as u64) {
            let status = tonic::Status::resource_exhausted(format!(
                "body: larger than {max} bytes (gateway.max_request_bytes)"
            ));
            let refused = refuse(status, grpc, http::StatusCode::PAYLOAD_TOO_LARGE);
            return Box::pin(async move { Ok(refused) });
        } else {
            // Without a length (chunked), the route reading the body fails
            // at the limit instead.
            request.map(|body| tonic::body::Body::new(http_body_util::Limited::new(body, max)))
        };
        let deadline = limits
            .request_timeout
            .filter(|_| !limits.no_deadline.contains(&path.as_str()));
        // Lazy: nothing runs before the future is polled, after admission.
        let answer = self.inner.call(request);
        Box::pin(async move {
            let permit = match admitted {
                Ok(permit) => permit,
                Err(place) => {
                    let (wait, in_flight) = (place.0.limits.queue_wait, place.0.in_flight.clone());
                    match tokio::time::timeout(wait, in_flight.acquire_owned()).await {
                        Ok(Ok(permit)) => permit,
                        _ => {
                            let status = busy(&place.0.limits);
                            return Ok(refuse(status, grpc, http::StatusCode::TOO_MANY_REQUESTS));
                        }
                    }
                }
            };
            // Dropped with the future when it fails or is cancelled; else
            // handed to the answer's body.
            let Some(deadline) = deadline else {
                return answer
                    .await
                    .map(|r| holding(too_large_is_exhausted(r), permit));
            };
            match tokio::time::timeout(deadline, answer).await {
                Ok(answered) => answered.map(|r| holding(too_large_is_exhausted(r), permit)),
                Err(_) => {
                    tracing::info!(path, ms = deadline.as_millis() as u64, "request timed out");
                    let status = tonic::Status::deadline_exceeded(format!(
                        "not answered within {} ms (gateway.request_timeout_ms)",
                        deadline.as_millis()
                    ));
                    Ok(refuse(status, grpc, http::StatusCode::GATEWAY_TIMEOUT))
                }
            }
        })
    }
}

#[cfg(test)]
mod tests;
