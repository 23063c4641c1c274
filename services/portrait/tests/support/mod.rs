//! The in-process stack fed a small synthetic chain and caught up: what the
//! HTTP, reflection and CLI tests ask.

#![allow(dead_code)] // each test binary uses its own part

pub(crate) mod cli;
pub(crate) mod http;

use std::time::Duration;

use chrono::DateTime;
use portrait::embedded::Stack;
use portrait_proto::v1::ingest_service_client::IngestServiceClient;
use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{Order, SubmitOrderBatchRequest, SyncStatusRequest};
use portrait_synth::ChainSpec;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

pub(crate) struct Fed {
    pub(crate) stack: Stack,
    pub(crate) shutdown: CancellationToken,
    /// The local day of the last accepted order: the filters' `as_of_date`.
    pub(crate) as_of: String,
    pub(crate) orders: Vec<Order>,
    dir: tempfile::TempDir,
}

impl Fed {
    /// The stack's data folder.
    pub(crate) fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub(crate) async fn stop(self) {
        self.shutdown.cancel();
        self.stack.wait().await.expect("clean stop");
    }
}

pub(crate) async fn channel(addr: std::net::SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .expect("url")
        .connect()
        .await
        .expect("connect")
}

/// `channel` sending `token` as its bearer (none when empty).
pub(crate) async fn authed(
    addr: std::net::SocketAddr,
    token: &str,
) -> portrait_service::BearerChannel {
    let bearer = portrait_service::Bearer::new(token).expect("a token");
    portrait_service::BearerChannel::new(channel(addr).await, bearer)
}

/// Starts the stack on free ports and waits until it has applied `seed`'s chain.
pub(crate) async fn fed_stack(seed: u64) -> Fed {
    let off = portrait_service::AuthSettings {
        mode: portrait_service::AuthMode::Off,
        ..portrait_service::AuthSettings::default()
    };
    fed_stack_with_auth(seed, off, "").await
}

/// `fed_stack` with `auth` on every service; `token` feeds and follows it
/// (an admin's or the service token).
pub(crate) async fn fed_stack_with_auth(
    seed: u64,
    auth: portrait_service::AuthSettings,
    token: &str,
) -> Fed {
    fed_stack_on(seed, auth, token, &[]).await
}

/// `fed_stack_with_auth` with the services' stores at `stores` (PostgreSQL).
pub(crate) async fn fed_stack_on(
    seed: u64,
    auth: portrait_service::AuthSettings,
    token: &str,
    stores: &[(portrait_service::ServiceName, String)],
) -> Fed {
    let dir = tempfile::tempdir().expect("dir");
    let shutdown = CancellationToken::new();
    let stack =
        portrait::embedded::spawn_stack_with_stores(dir.path(), shutdown.clone(), auth, stores)
            .await
            .expect("stack");
    let (_, submitted) = portrait_synth::generate(&ChainSpec::small(seed));
    let mut ingest = IngestServiceClient::new(authed(stack.ingest_addr, token).await);
    for chunk in submitted.chunks(500) {
        let batch = SubmitOrderBatchRequest {
            orders: chunk.to_vec(),
        };
        ingest.submit_order_batch(batch).await.expect("accepted");
    }
    let mut gateway = PortraitServiceClient::new(authed(stack.gateway_addr, token).await);
    let mut caught_up = false;
    for _ in 0..600 {
        let s = gateway.get_sync_status(SyncStatusRequest {}).await;
        if s.expect("status").get_ref().caught_up {
            caught_up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(caught_up, "the stack did not catch up");
    let orders = portrait_synth::accepted(&submitted);
    let last = orders.iter().map(|o| o.placed_at_ms).max().expect("orders");
    let as_of = DateTime::from_timestamp_millis(last)
        .expect("valid instant")
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    Fed {
        stack,
        shutdown,
        as_of,
        orders,
        dir,
    }
}
