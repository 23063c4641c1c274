use std::time::Duration;

use portrait_bus::{Bus, BusConfig, Message};
use portrait_proto::v1::ingest_service_client::IngestServiceClient;
use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{
    ChannelDistributionRequest, HourDistributionRequest, IngestStatusRequest, ListRfmRequest,
    Order, OrderStatus, OverviewRequest, ProductOrder, SegmentDistributionRequest,
    SubmitOrderRequest, TopCategoriesRequest, TopProductsRequest,
};
use portrait_synth::ChainSpec;
use tonic::transport::Channel;

use crate::oracle::{Oracle, Q};
use crate::stack::Stack;

const DAY_MS: i64 = 86_400_000;
/// 2025-03-01T00:00:00+08:00.
const START_MS: i64 = 1_740_758_400_000;

pub(crate) use portrait_synth::accepted;

pub(crate) async fn try_submit(
    ingest: &mut IngestServiceClient<Channel>,
    orders: &[Order],
) -> Result<(), tonic::Status> {
    for chunk in orders.chunks(400) {
        let requests: Vec<SubmitOrderRequest> = chunk
            .iter()
            .map(|o| SubmitOrderRequest {
                order: Some(o.clone()),
            })
            .collect();
        ingest.submit_orders(tokio_stream::iter(requests)).await?;
    }
    Ok(())
}

pub(crate) async fn submit(ingest: &mut IngestServiceClient<Channel>, orders: &[Order]) {
    try_submit(ingest, orders).await.expect("orders accepted");
}

/// Every figure the gateway serves, compared with the oracle for several filters.
pub(crate) async fn assert_figures(
    gateway: &mut PortraitServiceClient<Channel>,
    oracle: &Oracle,
    queries: &[Q],
) {
    for q in queries {
        let filter = Some(q.filter());
        let o = gateway
            .get_overview(OverviewRequest {
                filter: filter.clone(),
            })
            .await
            .expect("overview")
            .into_inner();
        let want = oracle.overview(q).await;
        assert!(
            want.orders > 0,
            "the oracle sees no orders for {q:?}: the test would prove nothing"
        );
        assert_eq!(
            (
                o.total_customers,
                o.active_customers,
                o.orders,
                o.revenue_fen,
                o.average_order_value_fen,
                o.lifetime_value_fen
            ),
            (
                want.total_customers,
                want.active_customers,
                want.orders,
                want.revenue,
                want.aov,
                want.ltv
            ),
            "overview for {q:?}"
        );

        let hours = gateway
            .get_hour_distribution(HourDistributionRequest {
                filter: filter.clone(),
            })
            .await
            .expect("hours")
            .into_inner();
        let got: Vec<(i32, i64, i64)> = hours
            .hours
            .iter()
            .map(|h| (h.hour, h.orders, h.revenue_fen))
            .collect();
        assert_eq!(got, oracle.hours(q).await, "hours for {q:?}");

        let channels = gateway
            .get_channel_distribution(ChannelDistributionRequest {
                filter: filter.clone(),
            })
            .await
            .expect("channels")
            .into_inner();
        let got: Vec<(i32, i64, i64)> = channels
            .channels
            .iter()
            .map(|c| (c.channel, c.orders, c.revenue_fen))
            .collect();
        assert_eq!(got, oracle.channels(q).await, "channels for {q:?}");

        for by_revenue in [false, true] {
            let order_by = if by_revenue {
                ProductOrder::Revenue
            } else {
                ProductOrder::Quantity
            } as i32;
            let top = gateway
                .get_top_products(TopProductsRequest {
                    filter: filter.clone(),
                    limit: 1000,
                    order_by,
                })
                .await
                .expect("top products")
                .into_inner();
            let got: Vec<(String, i64, i64)> = top
                .products
                .iter()
                .map(|p| (p.product_id.clone(), p.quantity, p.revenue_fen))
                .collect();
            assert_eq!(
                got,
                oracle.products(q, by_revenue).await,
                "top products (by revenue: {by_revenue}) for {q:?}"
            );
            assert!(
                top.products.iter().all(|p| !p.product_name.is_empty()),
                "product names are served"
            );

            let top = gateway
                .get_top_categories(TopCategoriesRequest {
                    filter: filter.clone(),
                    limit: 1000,
                    order_by,
                })
                .await
                .expect("top categories")
                .into_inner();
            let got: Vec<(String, i64, i64)> = top
                .categories
                .iter()
                .map(|c| (c.category_id.clone(), c.quantity, c.revenue_fen))
                .collect();
            assert_eq!(
                got,
                oracle.categories(q, by_revenue).await,
                "top categories (by revenue: {by_revenue}) for {q:?}"
            );
        }

        let want_rfm = oracle.rfm(q).await;
        let mut got_rfm = Vec::new();
        let mut token = String::new();
        loop {
            let page = gateway
                .list_rfm(ListRfmRequest {
                    filter: filter.clone(),
                    page_size: 97,
                    page_token: token,
                    ..Default::default()
                })
                .await
                .expect("rfm page")
                .into_inner();
            got_rfm.extend(page.customers.into_iter().map(crate::oracle::RfmRow::from));
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        assert_eq!(got_rfm, want_rfm, "rfm for {q:?}");

        let segments = gateway
            .get_segment_distribution(SegmentDistributionRequest {
                filter: filter.clone(),
                ..Default::default()
            })
            .await
            .expect("segments")
            .into_inner();
        assert_eq!(segments.segments.len(), 8);
        for s in &segments.segments {
            let members = want_rfm.iter().filter(|r| r.segment == s.segment);
            let (n, m) = members.fold((0, 0), |(n, m), r| (n + 1, m + r.monetary));
            assert_eq!(
                (s.customers, s.revenue_fen),
                (n, m),
                "segment {} for {q:?}",
                s.label
            );
        }
        assert_eq!(segments.customers, want_rfm.len() as i64);
        // The list of one segment is the oracle's members of it.
        let busiest = segments.segments.iter().max_by_key(|s| s.customers);
        let segment = busiest.map_or(1, |s| s.segment);
        let page = gateway
            .list_rfm(ListRfmRequest {
                filter: filter.clone(),
                page_size: 1000,
                segment,
                ..Default::default()
            })
            .await
            .expect("rfm of a segment")
            .into_inner();
        let got: Vec<&str> = page
            .customers
            .iter()
            .map(|c| c.customer_id.as_str())
            .collect();
        let want: Vec<&str> = want_rfm
            .iter()
            .filter(|r| r.segment == segment)
            .map(|r| r.customer_id.as_str())
            .collect();
        assert_eq!(got, want, "rfm of segment {segment} for {q:?}");
        crate::rfm::assert_rfm_settings(gateway, oracle, q).await;

        crate::suggestions::assert_suggestions(gateway, oracle, q).await;

        crate::customer::assert_customers(gateway, oracle, q).await;
        crate::anomaly::assert_anomalies(gateway, oracle, q).await;
        crate::week::assert_week(gateway, oracle, q).await;
        crate::summary::assert_summary(gateway, oracle, q).await;
        crate::list::assert_customer_list(gateway, oracle, q).await;
        crate::associations::assert_associations(gateway, oracle, q).await;
    }
    if let Some(q) = queries.first() {
        crate::models::assert_models(gateway, oracle, &q.as_of).await;
        let clustered = crate::clusters::assert_clusters(gateway, oracle, &q.as_of).await;
        crate::exchange::assert_exchange(gateway, oracle, &q.as_of, &clustered).await;
    }
    // After the clusters above: the patterns by cluster need some in service.
    crate::patterns::assert_patterns(gateway, oracle, queries).await;
}

/// The synthetic stream of the tests and the filters they check.
pub(crate) fn scenario() -> (Vec<Order>, Vec<Q>) {
    let mut spec = ChainSpec::small(11);
    spec.start_ms = START_MS;
    let (chain, orders) = portrait_synth::generate(&spec);
    assert!(orders.len() > 500, "a big enough stream: {}", orders.len());
    let orders = crate::anomaly::refund_wave(orders);
    assert!(
        orders
            .iter()
            .all(|o| o.placed_at_ms < START_MS + 61 * DAY_MS)
    );
    let as_of = "2025-05-01".to_owned();
    let city = chain.stores[0].city.clone();
    let queries = vec![
        Q {
            as_of: as_of.clone(),
            ..Default::default()
        },
        Q {
            cities: vec![city],
            from: "2025-03-20".into(),
            to: "2025-04-20".into(),
            as_of,
            ..Default::default()
        },
        Q {
            stores: vec![chain.stores[1].id.clone(), chain.stores[2].id.clone()],
            from: "2025-03-15".into(),
            as_of: "2025-04-25".into(),
            ..Default::default()
        },
    ];
    (orders, queries)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_pipeline_equals_sql_oracle_through_kill_and_bad_input() {
    let Some(brokers) = portrait_testkit::broker::kafka_brokers() else {
        return;
    };
    let Some((mut stack, oracle)) = Stack::distributed(brokers).await else {
        return;
    };
    stack.start_all();

    let (orders, queries) = scenario();

    let mut ingest = IngestServiceClient::new(stack.channel("ingest").await);
    let mut gateway = PortraitServiceClient::new(stack.channel("gateway").await);

    // First half, then the figures must match.
    let half = orders.len() / 2;
    submit(&mut ingest, &orders[..half]).await;
    let status = stack.wait_caught_up().await;
    oracle.load_orders(&orders[..half]).await;
    assert_figures(&mut gateway, &oracle, &queries).await;
    let published = status.ingest.expect("ingest status").events_published;

    // Bad input is refused naming the field, and publishes nothing.
    let good = orders[0].clone();
    let mut cases: Vec<(Order, &str)> = Vec::new();
    let mut o = good.clone();
    o.order_id.clear();
    cases.push((o, "order.order_id"));
    let mut o = good.clone();
    o.net_amount_fen = -1;
    cases.push((o, "order.net_amount_fen"));
    let mut o = good.clone();
    o.net_amount_fen += 1;
    cases.push((o, "order.net_amount_fen"));
    let mut o = good.clone();
    o.channel = 42;
    cases.push((o, "order.channel"));
    let mut o = good.clone();
    o.placed_at_ms = i64::MAX / 2;
    cases.push((o, "order.placed_at_ms"));
    for (bad, field) in cases {
        let err = ingest
            .submit_order(SubmitOrderRequest { order: Some(bad) })
            .await
            .expect_err("refused");
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert!(
            err.message().contains(field),
            "{field} named in {:?}",
            err.message()
        );
    }
    // Re-sending an identical order publishes nothing either.
    ingest
        .submit_order(SubmitOrderRequest { order: Some(good) })
        .await
        .expect("resend accepted");
    let after = ingest
        .get_ingest_status(IngestStatusRequest {})
        .await
        .expect("status")
        .into_inner();
    assert_eq!(after.events_published + after.outbox_pending, published);

    // A record that is not an event goes to the dead-letter topic; consumers go on.
    let bus = Bus::connect(&BusConfig::Kafka {
        brokers: stack.brokers.clone(),
        partitions: 3,
        max_batch_records: 1,
        bundle_records: 1,
        fetch_wait_ms: 50,
    })
    .await
    .expect("bus");
    let orders_topic = format!("{}orders.v1", stack.topic_prefix);
    bus.publish(
        &orders_topic,
        &[Message {
            key: "c-x".into(),
            payload: b"not protobuf \xff\xff".to_vec(),
            headers: vec![],
        }],
    )
    .await
    .expect("publish garbage");
    let status = stack.wait_caught_up().await;
    for c in &status.consumers {
        assert_eq!(c.dead_lettered, 1, "{} counts the dead letter", c.service);
    }
    let dlq_topic = format!("{}orders.dlq.v1", stack.topic_prefix);
    let mut dlq = bus.consumer(&dlq_topic, &[]).await.expect("dlq consumer");
    let mut dead = Vec::new();
    for _ in 0..50 {
        dead.extend(
            dlq.next_batch(100, Duration::from_millis(200))
                .await
                .expect("dlq batch"),
        );
        if dead.len() >= 3 {
            break;
        }
    }
    assert_eq!(dead.len(), 3, "one dead letter per consumer");
    assert!(dead.iter().all(|r| {
        r.headers
            .iter()
            .any(|(k, v)| k == "dlq-reason" && v.contains("OrderEvent"))
    }));

    // Second half, with the profiler killed with SIGKILL mid-stream and restarted.
    let rest = orders[half..].to_vec();
    let (first, second) = rest.split_at(rest.len() / 3);
    submit(&mut ingest, first).await;
    stack.kill9("profiler");
    submit(&mut ingest, second).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stack.start("profiler");
    stack.wait_caught_up().await;
    oracle.load_orders(&orders).await;
    assert_figures(&mut gateway, &oracle, &queries).await;

    // And once more after killing the rfm consumer while it is applying.
    let wave: Vec<Order> = orders
        .iter()
        .filter(|o| o.status == OrderStatus::Paid as i32)
        .take(300)
        .map(|o| Order {
            status: OrderStatus::Refunded as i32,
            ..o.clone()
        })
        .collect();
    submit(&mut ingest, &wave).await;
    stack.kill9("rfm");
    stack.start("rfm");
    stack.wait_caught_up().await;
    let mut all = orders.clone();
    all.extend(wave);
    oracle.load_orders(&all).await;
    assert_figures(&mut gateway, &oracle, &queries).await;

    // Ingest killed with SIGKILL while a wave streams in (possibly between
    // publishing its outbox and deleting it); the client re-sends the wave.
    let moved: Vec<Order> = accepted(&all)
        .into_iter()
        .filter(|o| o.channel != portrait_proto::v1::Channel::Douyin as i32)
        .take(2_000)
        .map(|o| Order {
            channel: portrait_proto::v1::Channel::Douyin as i32,
            ..o
        })
        .collect();
    let task = {
        let mut ingest = ingest.clone();
        let moved = moved.clone();
        tokio::spawn(async move { try_submit(&mut ingest, &moved).await })
    };
    tokio::time::sleep(Duration::from_millis(40)).await;
    stack.kill9("ingest");
    // The stream usually breaks off with the process gone: that is the point.
    let _interrupted = task.await.expect("submitting task").is_err();
    stack.start("ingest");
    let mut ingest = IngestServiceClient::new(stack.channel("ingest").await);
    submit(&mut ingest, &moved).await;
    stack.wait_caught_up().await;
    all.extend(moved);
    oracle.load_orders(&all).await;
    assert_figures(&mut gateway, &oracle, &queries).await;
    crate::anomaly::assert_refund_wave_flagged(&mut gateway, &orders, &queries[0].as_of).await;
}
