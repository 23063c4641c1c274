use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
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

/// Serves `routes` plus gRPC health checking and server reflection until shutdown.
pub async fn serve(
    listener: TcpListener,
    routes: Routes,
    shutdown: CancellationToken,
) -> Result<()> {
    let (_reporter, health) = tonic_health::server::health_reporter();
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(portrait_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| Error::Config(format!("reflection: {e}")))?;
    // `Server::tcp_nodelay` only reaches sockets tonic accepts itself. Without
    // it, an answer written in more than one segment waits for the client's
    // delayed ACK (Nagle): about 40 ms on Linux for any larger response.
    let incoming = TcpListenerStream::new(listener).map(|accepted| {
        accepted.inspect(|stream| {
            if let Err(e) = stream.set_nodelay(true) {
                tracing::warn!(error = %e, "failed to set TCP_NODELAY");
            }
        })
    });
    tonic::transport::Server::builder()
        .layer(crate::rpc_metrics::RpcMetricsLayer)
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .http2_adaptive_window(Some(ADAPTIVE_WINDOW))
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
        .http2_keepalive_interval(Some(KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
        .add_routes(routes)
        .add_service(health)
        .add_service(reflection)
        .serve_with_incoming_shutdown(incoming, shutdown.cancelled_owned())
        .await?;
    Ok(())
}
