//! One tower layer that times every gRPC call, named from the request path,
//! instead of a line in every handler.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use tower::{Layer, Service};

use crate::metrics;

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RpcMetricsLayer;

impl<S> Layer<S> for RpcMetricsLayer {
    type Service = RpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcMetrics { inner }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct RpcMetrics<S> {
    inner: S,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, R> Service<http::Request<B>> for RpcMetrics<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    S::Error: 'static,
    R: 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        // The gateway's JSON routes time themselves, labelled by route
        // template: their paths hold ids and would make unbounded labels.
        let grpc = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/grpc"));
        if !grpc {
            return Box::pin(self.inner.call(request));
        }
        let path = request.uri().path().trim_start_matches('/').to_owned();
        let started = Instant::now();
        let call = self.inner.call(request);
        Box::pin(async move {
            let response = call.await;
            if let (Some(m), Ok(r)) = (metrics::get(), &response) {
                // An error without a body carries its status in the headers;
                // success reports in trailers, which a layer does not wait for.
                let code = r
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<i32>().ok())
                    .unwrap_or(0);
                // An unknown method would make a label of whatever a client sends.
                let method = if code == tonic::Code::Unimplemented as i32 {
                    "unimplemented"
                } else {
                    path.as_str()
                };
                m.rpc_seconds
                    .with_label_values(&[method])
                    .observe(started.elapsed().as_secs_f64());
                if code != 0 {
                    let name = format!("{:?}", tonic::Code::from_i32(code));
                    m.rpc_errors.with_label_values(&[method, &name]).inc();
                }
            }
            response
        })
    }
}
