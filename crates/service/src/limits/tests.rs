//! The layer around an inner service that answers when told to (or after a
//! delay): what the N+1st request, the request over the bucket, the slow one
//! and the large one get.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tower::{Layer as _, Service, ServiceExt as _};

use super::{Limits, LimitsLayer, Response, TONIC_TOO_LARGE};

fn limits() -> Limits {
    Limits {
        max_in_flight: 100,
        max_queued: 0,
        queue_wait: Duration::ZERO,
        request_timeout: None,
        rate_per_second: 0.0,
        rate_burst: 1,
        max_request_bytes: 1024,
        no_deadline: vec!["/test.Slow/Stream"],
    }
}

/// Answers OK once `gate` has a permit for it, or after `delay`.
#[derive(Clone)]
struct Inner {
    gate: Arc<Semaphore>,
    delay: Duration,
}

impl Service<http::Request<tonic::body::Body>> for Inner {
    type Response = Response;
    type Error = Infallible;
    type Future = std::pin::Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let (gate, delay) = (self.gate.clone(), self.delay);
        Box::pin(async move {
            if request.uri().path() == "/test.Big/Call" {
                return Ok(tonic::Status::out_of_range(format!(
                    "{TONIC_TOO_LARGE}: found 5000 bytes, the limit is: 1024 bytes"
                ))
                .into_http());
            }
            if request.uri().path().starts_with("/grpc.health.v1.Health/") {
                return Ok(tonic::Status::ok("").into_http());
            }
            if delay.is_zero() {
                let _ = gate
                    .acquire()
                    .await
                    .map(tokio::sync::SemaphorePermit::forget);
            } else {
                tokio::time::sleep(delay).await;
            }
            Ok(tonic::Status::ok("").into_http())
        })
    }
}

/// The layer with `limits` around an inner service that answers a request
/// per permit of the returned gate (`permits` to start with).
fn gated(permits: usize, limits: Limits) -> (Arc<Semaphore>, super::Limited<Inner>) {
    let gate = Arc::new(Semaphore::new(permits));
    let inner = Inner {
        gate: gate.clone(),
        delay: Duration::ZERO,
    };
    (gate, LimitsLayer::new(Some(limits)).layer(inner))
}

fn grpc(path: &str) -> http::Request<tonic::body::Body> {
    http::Request::builder()
        .uri(path)
        .header("content-type", "application/grpc")
        .body(tonic::body::Body::empty())
        .expect("request")
}

fn with_subject(
    mut request: http::Request<tonic::body::Body>,
    subject: &str,
) -> http::Request<tonic::body::Body> {
    let mut principal = portrait_auth::Principal::anonymous_admin();
    principal.subject = subject.into();
    request.extensions_mut().insert(principal);
    request
}

/// The gRPC code of an answer (0 = OK), as tonic's client reads it.
fn code(response: &Response) -> &str {
    response
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("none")
}

async fn call<S>(service: &mut S, request: http::Request<tonic::body::Body>) -> Response
where
    S: Service<http::Request<tonic::body::Body>, Response = Response, Error = Infallible>,
{
    service
        .ready()
        .await
        .expect("ready")
        .call(request)
        .await
        .expect("answered")
}

#[tokio::test]
async fn one_request_over_the_concurrency_limit_is_refused_at_once() {
    let (gate, service) = gated(
        0,
        Limits {
            max_in_flight: 3,
            ..limits()
        },
    );
    let mut waiting = Vec::new();
    for _ in 0..3 {
        let mut s = service.clone();
        waiting.push(tokio::spawn(async move {
            call(&mut s, grpc("/test.Slow/Call")).await
        }));
    }
    // Let the three take their places.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let refused = tokio::time::timeout(
        Duration::from_secs(1),
        call(&mut service.clone(), grpc("/test.Slow/Call")),
    )
    .await
    .expect("refused without waiting");
    assert_eq!(code(&refused), "8", "RESOURCE_EXHAUSTED");
    // Health is never refused: probes must see a busy gateway as alive.
    let health = call(&mut service.clone(), grpc("/grpc.health.v1.Health/Check")).await;
    assert_eq!(code(&health), "0");
    gate.add_permits(3);
    for w in waiting {
        assert_eq!(code(&w.await.expect("joined")), "0");
    }
    // The places are free again.
    gate.add_permits(1);
    assert_eq!(
        code(&call(&mut service.clone(), grpc("/test.Slow/Call")).await),
        "0"
    );
}

/// Over the limit a request waits for a place: admitted when one frees, in
/// time; refused when its wait runs out, or at once when the queue is full.
#[tokio::test]
async fn requests_over_the_limit_wait_a_bounded_time_in_a_bounded_queue() {
    let (gate, service) = gated(
        0,
        Limits {
            max_in_flight: 2,
            max_queued: 1,
            queue_wait: Duration::from_millis(400),
            ..limits()
        },
    );
    let spawn = |path: &'static str| {
        let mut s = service.clone();
        tokio::spawn(async move { call(&mut s, grpc(path)).await })
    };
    let answering = [spawn("/test.Slow/Call"), spawn("/test.Slow/Call")];
    tokio::time::sleep(Duration::from_millis(50)).await;
    let waiting = spawn("/test.Slow/Call");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let full = tokio::time::timeout(
        Duration::from_millis(200),
        call(&mut service.clone(), grpc("/test.Slow/Call")),
    )
    .await
    .expect("refused without waiting: the queue is full");
    assert_eq!(code(&full), "8", "RESOURCE_EXHAUSTED");
    // One answer frees a place: the waiting request takes it and is answered.
    gate.add_permits(2);
    for a in answering {
        assert_eq!(code(&a.await.expect("joined")), "0");
    }
    gate.add_permits(1);
    assert_eq!(code(&waiting.await.expect("joined")), "0", "admitted");

    // Two hold both places; a third waits out its 400 ms and is refused.
    let answering = [spawn("/test.Slow/Call"), spawn("/test.Slow/Call")];
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = std::time::Instant::now();
    let late = call(&mut service.clone(), grpc("/test.Slow/Call")).await;
    assert_eq!(code(&late), "8", "refused once its wait ran out");
    assert!(started.elapsed() >= Duration::from_millis(350), "it waited");
    gate.add_permits(2);
    for a in answering {
        assert_eq!(code(&a.await.expect("joined")), "0");
    }
    // Its place in the queue was given back.
    gate.add_permits(1);
    assert_eq!(code(&spawn("/test.Slow/Call").await.expect("joined")), "0");
}

#[tokio::test]
async fn a_burst_over_the_bucket_is_refused_until_it_refills() {
    let (_, mut service) = gated(
        1_000,
        Limits {
            rate_per_second: 20.0,
            rate_burst: 3,
            ..limits()
        },
    );
    for _ in 0..3 {
        let ok = call(&mut service, with_subject(grpc("/test.Fast/Call"), "alice")).await;
        assert_eq!(code(&ok), "0");
    }
    let refused = call(&mut service, with_subject(grpc("/test.Fast/Call"), "alice")).await;
    assert_eq!(code(&refused), "8", "RESOURCE_EXHAUSTED");
    assert!(
        refused.headers().get("retry-after").is_some(),
        "a retry hint"
    );
    // Another token has its own bucket.
    let bob = call(&mut service, with_subject(grpc("/test.Fast/Call"), "bob")).await;
    assert_eq!(code(&bob), "0");
    // The same refusal over HTTP is a 429 with Retry-After.
    let json = with_subject(
        http::Request::builder()
            .uri("/v1/overview")
            .body(tonic::body::Body::empty())
            .expect("request"),
        "alice",
    );
    let refused = call(&mut service, json).await;
    assert_eq!(refused.status(), http::StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().get(http::header::RETRY_AFTER).is_some());
    // One token comes back every 50 ms.
    tokio::time::sleep(Duration::from_millis(120)).await;
    let ok = call(&mut service, with_subject(grpc("/test.Fast/Call"), "alice")).await;
    assert_eq!(code(&ok), "0", "answered after the refill");
}

#[tokio::test]
async fn a_slow_request_ends_at_the_deadline() {
    let inner = Inner {
        gate: Arc::new(Semaphore::new(0)),
        delay: Duration::from_millis(400),
    };
    let layer = LimitsLayer::new(Some(Limits {
        request_timeout: Some(Duration::from_millis(50)),
        ..limits()
    }));
    let mut service = layer.layer(inner);
    let started = std::time::Instant::now();
    let late = call(&mut service, grpc("/test.Slow/Call")).await;
    assert_eq!(code(&late), "4", "DEADLINE_EXCEEDED");
    assert!(started.elapsed() < Duration::from_millis(300));
    let json = http::Request::builder()
        .uri("/v1/overview")
        .body(tonic::body::Body::empty())
        .expect("request");
    assert_eq!(
        call(&mut service, json).await.status(),
        http::StatusCode::GATEWAY_TIMEOUT
    );
    // A stream named as without deadline runs its course.
    assert_eq!(
        code(&call(&mut service, grpc("/test.Slow/Stream")).await),
        "0"
    );
}

#[tokio::test]
async fn a_body_over_the_size_limit_is_refused() {
    let inner = Inner {
        gate: Arc::new(Semaphore::new(10)),
        delay: Duration::ZERO,
    };
    let mut service = LimitsLayer::new(Some(limits())).layer(inner);
    let large = http::Request::builder()
        .method("POST")
        .uri("/v1/customers:search")
        .header("content-length", "1025")
        .body(tonic::body::Body::empty())
        .expect("request");
    assert_eq!(
        call(&mut service, large).await.status(),
        http::StatusCode::PAYLOAD_TOO_LARGE
    );
    let fits = http::Request::builder()
        .method("POST")
        .uri("/v1/customers:search")
        .header("content-length", "1024")
        .body(tonic::body::Body::empty())
        .expect("request");
    assert_eq!(
        call(&mut service, fits).await.status(),
        http::StatusCode::OK
    );
    // tonic's OUT_OF_RANGE for a message over max_decoding_message_size.
    assert_eq!(code(&call(&mut service, grpc("/test.Big/Call")).await), "8");
}

#[tokio::test]
async fn without_limits_everything_passes() {
    let inner = Inner {
        gate: Arc::new(Semaphore::new(0)),
        delay: Duration::from_millis(30),
    };
    let mut service = LimitsLayer::new(None).layer(inner);
    assert_eq!(
        code(&call(&mut service, grpc("/test.Slow/Call")).await),
        "0"
    );
}

/// Answers each call with a body streamed from the next queued channel, or
/// OK at once when none is queued.
#[derive(Clone)]
struct Streams(Arc<std::sync::Mutex<Vec<tokio::sync::mpsc::Receiver<tonic::codegen::Bytes>>>>);

impl Service<http::Request<tonic::body::Body>> for Streams {
    type Response = Response;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Response, Infallible>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Request<tonic::body::Body>) -> Self::Future {
        let next = self.0.lock().expect("queue").pop();
        std::future::ready(Ok(match next {
            Some(frames) => {
                use tokio_stream::StreamExt as _;
                let frames = tokio_stream::wrappers::ReceiverStream::new(frames)
                    .map(|b| Ok::<_, tonic::Status>(http_body::Frame::data(b)));
                http::Response::new(tonic::body::Body::new(http_body_util::StreamBody::new(
                    frames,
                )))
            }
            None => tonic::Status::ok("").into_http(),
        }))
    }
}

#[tokio::test]
async fn a_streamed_answer_holds_its_slot_until_its_body_ends_or_is_dropped() {
    use http_body_util::BodyExt as _;
    let queue = Arc::new(std::sync::Mutex::new(Vec::new()));
    let layer = LimitsLayer::new(Some(Limits {
        max_in_flight: 1,
        ..limits()
    }));
    let mut service = layer.layer(Streams(queue.clone()));

    let (tx, rx) = tokio::sync::mpsc::channel(4);
    queue.lock().expect("queue").push(rx);
    let mut streaming = call(&mut service, grpc("/test.Stream/Call")).await;
    assert_eq!(code(&streaming), "none", "headers sent, the stream is open");
    tx.send(tonic::codegen::Bytes::from_static(b"first"))
        .await
        .expect("send");
    let first = streaming.body_mut().frame().await.expect("a frame");
    assert_eq!(
        first.expect("data").into_data().expect("data"),
        &b"first"[..]
    );
    let refused = call(&mut service, grpc("/test.Fast/Call")).await;
    assert_eq!(code(&refused), "8", "RESOURCE_EXHAUSTED while it streams");
    drop(tx);
    assert!(
        streaming.body_mut().frame().await.is_none(),
        "the stream ended"
    );
    let admitted = call(&mut service, grpc("/test.Fast/Call")).await;
    assert_eq!(code(&admitted), "0", "admitted after the stream ended");

    // A client that goes away mid-stream frees the slot as well.
    let (_tx, rx) = tokio::sync::mpsc::channel(4);
    queue.lock().expect("queue").push(rx);
    let abandoned = call(&mut service, grpc("/test.Stream/Call")).await;
    let refused = call(&mut service, grpc("/test.Fast/Call")).await;
    assert_eq!(code(&refused), "8");
    drop(abandoned);
    let admitted = call(&mut service, grpc("/test.Fast/Call")).await;
    assert_eq!(code(&admitted), "0", "admitted after the body was dropped");
}
