//! The whole stack in this process on port 0 (`spawn_stack`), fed a small
//! synthetic chain through ingest, against a plain Rust recompute over the
//! accepted orders. Needs no server, so it runs under plain `cargo test`.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Timelike};
use portrait_proto::v1::ingest_service_client::IngestServiceClient;
use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{
    Filter, HourDistributionRequest, OverviewRequest, SubmitOrderBatchRequest, SyncStatusRequest,
};
use portrait_synth::ChainSpec;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

fn local(ms: i64) -> chrono::DateTime<chrono_tz::Tz> {
    DateTime::from_timestamp_millis(ms)
        .expect("valid instant")
        .with_timezone(&chrono_tz::Asia::Shanghai)
}

async fn channel(addr: std::net::SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .expect("url")
        .connect()
        .await
        .expect("connect")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_stack_equals_a_plain_recompute() {
    let dir = tempfile::tempdir().expect("dir");
    let shutdown = CancellationToken::new();
    let stack = portrait::embedded::spawn_stack(dir.path(), shutdown.clone())
        .await
        .expect("stack");
    let (_, submitted) = portrait_synth::generate(&ChainSpec::small(3));
    let mut ingest = IngestServiceClient::new(channel(stack.ingest_addr).await);
    for chunk in submitted.chunks(500) {
        let batch = SubmitOrderBatchRequest {
            orders: chunk.to_vec(),
        };
        ingest.submit_order_batch(batch).await.expect("accepted");
    }
    let mut gateway = PortraitServiceClient::new(channel(stack.gateway_addr).await);
    let mut caught_up = false;
    for _ in 0..600 {
        let s = gateway
            .get_sync_status(SyncStatusRequest {})
            .await
            .expect("status");
        if s.get_ref().caught_up {
            caught_up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(caught_up, "the stack did not catch up");
    // The status names the chain's zone and its today, which the page's date presets use.
    let status = gateway
        .get_sync_status(SyncStatusRequest {})
        .await
        .expect("status")
        .into_inner();
    assert_eq!(status.time_zone, "Asia/Shanghai");
    let shanghai = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai);
    let a_minute_ago = shanghai - chrono::Duration::minutes(1);
    let days = [shanghai, a_minute_ago].map(|t| t.format("%Y-%m-%d").to_string());
    assert!(
        days.contains(&status.today),
        "{} not in {days:?}",
        status.today
    );

    let orders = portrait_synth::accepted(&submitted);
    let last = orders.iter().map(|o| o.placed_at_ms).max().expect("orders");
    let as_of = local(last).date_naive().format("%Y-%m-%d").to_string();
    let filter = Filter {
        as_of_date: as_of,
        ..Default::default()
    };
    let overview = gateway
        .get_overview(OverviewRequest {
            filter: Some(filter.clone()),
        })
        .await
        .expect("overview")
        .into_inner();
    let customers: BTreeSet<&str> = orders
        .iter()
        .filter(|o| !o.customer_id.is_empty())
        .map(|o| o.customer_id.as_str())
        .collect();
    let revenue: i64 = orders.iter().map(|o| o.net_amount_fen).sum();
    assert_eq!(overview.orders, orders.len() as i64);
    assert_eq!(overview.revenue_fen, revenue);
    assert_eq!(overview.total_customers, customers.len() as i64);
    assert_eq!(overview.active_customers, customers.len() as i64);

    let hours = gateway
        .get_hour_distribution(HourDistributionRequest {
            filter: Some(filter),
        })
        .await
        .expect("hours")
        .into_inner();
    let mut want = [(0_i64, 0_i64); 24];
    for o in &orders {
        let h = local(o.placed_at_ms).hour() as usize;
        want[h].0 += 1;
        want[h].1 += o.net_amount_fen;
    }
    let got: Vec<(i64, i64)> = hours
        .hours
        .iter()
        .map(|h| (h.orders, h.revenue_fen))
        .collect();
    assert_eq!(got, want.to_vec());

    shutdown.cancel();
    stack.wait().await.expect("clean stop");
}
