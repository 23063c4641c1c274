//! The bearer token every client command sends (`--token`, `PORTRAIT_TOKEN`).

use anyhow::Context as _;
use portrait_service::{Bearer, PeerChannel};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// `channel` sending `token` (none when empty).
pub(crate) fn authed(channel: Channel, token: &str) -> anyhow::Result<PeerChannel> {
    let bearer = Bearer::new(token).context("failed to use the token")?;
    Ok(InterceptedService::new(channel, bearer))
}
