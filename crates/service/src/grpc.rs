use std::net::SocketAddr;

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
        .add_routes(routes)
        .add_service(health)
        .add_service(reflection)
        .serve_with_incoming_shutdown(incoming, shutdown.cancelled_owned())
        .await?;
    Ok(())
}
