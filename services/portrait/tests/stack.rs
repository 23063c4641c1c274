//! The whole stack in this process on port 0 (`spawn_stack`), fed a small
//! synthetic chain through ingest, against a plain Rust recompute over the
//! accepted orders. Needs no server, so it runs under plain `cargo test`.

mod support;

use std::collections::BTreeSet;

use chrono::{DateTime, Timelike};
use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{Filter, HourDistributionRequest, OverviewRequest, SyncStatusRequest};

fn local(ms: i64) -> chrono::DateTime<chrono_tz::Tz> {
    DateTime::from_timestamp_millis(ms)
        .expect("valid instant")
        .with_timezone(&chrono_tz::Asia::Shanghai)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_stack_equals_a_plain_recompute() {
    // Fed through ingest and caught up, as the gateway's status says.
    let fed = support::fed_stack(3).await;
    let mut gateway = PortraitServiceClient::new(support::channel(fed.stack.gateway_addr).await);
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

    let orders = &fed.orders;
    let filter = Filter {
        as_of_date: fed.as_of.clone(),
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
    for o in orders {
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

    fed.stop().await;
}
