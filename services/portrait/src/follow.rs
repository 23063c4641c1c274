//! Progress on the terminal: bars, and following the stack until it caught up.

use std::time::Duration;

use crate::token::ClientChannel as Channel;
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use portrait_proto::v1::SyncStatusRequest;
use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use tokio_util::sync::CancellationToken;

pub(crate) fn progress(len: u64, what: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{msg:18} [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(what);
    bar
}

/// Polls the gateway every `poll` until it says caught up (true) or `stop` is
/// cancelled (false), showing the events applied out of those published.
pub(crate) async fn caught_up(
    gateway: &mut PortraitServiceClient<Channel>,
    poll: Duration,
    stop: &CancellationToken,
) -> anyhow::Result<bool> {
    let bar = progress(0, "applying events");
    while !stop.is_cancelled() {
        let s = gateway
            .get_sync_status(SyncStatusRequest {})
            .await
            .context("failed to read the sync status")?
            .into_inner();
        let published = s
            .ingest
            .as_ref()
            .map_or(0, |i| i.events_published + i.outbox_pending);
        let behind = s.consumers.iter().map(|c| c.lag).max().unwrap_or(0);
        bar.set_length(published.max(0) as u64);
        bar.set_position((published - behind).max(0) as u64);
        if s.caught_up {
            bar.finish_and_clear();
            return Ok(true);
        }
        tokio::time::sleep(poll).await;
    }
    bar.abandon();
    Ok(false)
}
