//! Ingest's gRPC calls against a real server on loopback (embedded log, SQLite
//! in a temp dir), including an independent Python grpcio client that streams
//! 200,000 orders in one call into an ingest slowed down on purpose.

use std::time::Duration;

use portrait_bus::{Bus, BusConfig};
use portrait_proto::v1::ingest_service_client::IngestServiceClient;
use portrait_proto::v1::{
    Channel as SaleChannel, IngestStatusRequest, Order, OrderEvent, OrderLine,
    SubmitOrderBatchRequest, SubmitOrderRequest, SubmitOutcome,
};
use portrait_service::{Config, ServiceName};
use prost::Message as _;
use tokio_util::sync::CancellationToken;
use tonic::Code;
use tonic::transport::Channel;

struct Server {
    url: String,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<portrait_service::Result<()>>,
    dir: tempfile::TempDir,
    store_url: String,
}

impl Server {
    async fn start(commit_delay_ms: u64) -> Self {
        Self::start_on(commit_delay_ms, None).await
    }

    /// `store`: the ingest database's URL; None = SQLite in the temp dir.
    async fn start_on(commit_delay_ms: u64, store: Option<String>) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let (listener, addr) = portrait_service::bind("127.0.0.1:0").await.expect("a port");
        let mut config = Config::defaults(ServiceName::Ingest);
        config.data_dir = dir.path().to_path_buf();
        config.ingest.commit_delay_ms = commit_delay_ms;
        // Its clients send no token (portrait's tests/auth covers auth).
        config.auth.mode = portrait_service::AuthMode::Off;
        if let Some(url) = store {
            config.store.url = url;
        }
        let config = config.validated(ServiceName::Ingest).expect("config");
        let store_url = config.store.url.clone();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(portrait_ingest::run(config, listener, shutdown.clone()));
        Self {
            url: format!("http://{addr}"),
            shutdown,
            task,
            dir,
            store_url,
        }
    }

    async fn client(&self) -> IngestServiceClient<Channel> {
        let endpoint = Channel::from_shared(self.url.clone()).expect("url");
        for _ in 0..200 {
            if let Ok(channel) = endpoint.connect().await {
                return IngestServiceClient::new(channel)
                    .max_decoding_message_size(portrait_ingest::MAX_MESSAGE_BYTES)
                    .max_encoding_message_size(portrait_ingest::MAX_MESSAGE_BYTES);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("ingest did not come up on {}", self.url);
    }

    fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    async fn rows(&self, table: &str) -> i64 {
        let store = portrait_store::Store::connect(&self.store_url)
            .await
            .expect("ingest's store");
        sqlx::query_scalar(&format!("SELECT CAST(COUNT(*) AS BIGINT) FROM {table}"))
            .fetch_one(store.pool())
            .await
            .expect("count")
    }

    /// The status's order count, checked against the orders table.
    async fn orders_stored(&self) -> i64 {
        let mut client = self.client().await;
        let said = client
            .get_ingest_status(IngestStatusRequest {})
            .await
            .expect("status")
            .into_inner()
            .orders;
        let counted = self.rows("orders").await;
        assert_eq!(said, counted, "the status's count is the table's");
        said
    }

    /// The status's outbox figures, once the relay has published every
    /// event: the waiting count must be the table's.
    async fn outbox_drained(&self, events: i64) -> i64 {
        let mut client = self.client().await;
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let status = loop {
            let status = client
                .get_ingest_status(IngestStatusRequest {})
                .await
                .expect("status")
                .into_inner();
            if status.events_published >= events {
                break status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "not published: {status:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let counted = self.rows("outbox").await;
        assert_eq!(
            status.outbox_pending, counted,
            "the status's waiting events are the table's"
        );
        status.outbox_pending
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.expect("ingest task").expect("ingest ran");
    }
}

fn order(i: usize) -> Order {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64;
    let amount = 1_000 + (i as i64 * 37) % 9_000;
    Order {
        order_id: format!("o-{i}"),
        customer_id: format!("c{}", i % 100),
        store_id: format!("s{}", i % 3),
        city: "Chengdu".into(),
        channel: SaleChannel::Pos as i32,
        placed_at_ms: now - 86_400_000 * (1 + (i as i64 % 200)),
        net_amount_fen: amount,
        lines: vec![OrderLine {
            product_id: format!("p{}", i % 10),
            quantity: 1,
            net_amount_fen: amount,
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_client_streams_200k_small_orders_in_one_call_into_a_slow_ingest() {
    let Some(python) = portrait_testkit::server_env("PORTRAIT_PYTHON", "the Python test libraries")
    else {
        return;
    };
    const ORDERS: i64 = 200_000;
    // Every write transaction waits 10 ms more: the database is slower than the client.
    let server = Server::start(10).await;
    let _ = server.client().await;
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = tokio::process::Command::new(python)
        .arg(manifest.join("tests/stream_orders.py"))
        .arg(manifest.join("../../proto"))
        .arg(server.url.trim_start_matches("http://"))
        .arg(ORDERS.to_string())
        .output()
        .await
        .expect("failed to run the python client");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the python client failed: {stdout}\n{stderr}"
    );
    eprintln!("python client: {stdout}");
    let field = |name: &str| -> i64 {
        let key = format!("\"{name}\": ");
        stdout
            .split(&key)
            .nth(1)
            .and_then(|rest| rest.split([',', '}']).next())
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {stdout:?}"))
    };
    assert_eq!(field("accepted"), ORDERS);
    assert_eq!(field("published"), ORDERS, "all ids are distinct and new");
    assert_eq!(server.orders_stored().await, ORDERS);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_stops_at_the_first_invalid_order_and_keeps_the_ones_before() {
    let server = Server::start(0).await;
    let mut client = server.client().await;
    let mut orders: Vec<Order> = (0..1_234).map(order).collect();
    orders[1_200].store_id.clear();
    let requests = orders
        .into_iter()
        .map(|o| SubmitOrderRequest { order: Some(o) });
    let err = client
        .submit_orders(tokio_stream::iter(requests))
        .await
        .expect_err("order #1200 is invalid");
    assert_eq!(err.code(), Code::InvalidArgument);
    let message = err.message();
    assert!(message.contains("order #1200"), "{message}");
    assert!(message.contains("store_id"), "{message}");
    assert!(message.contains("1200 orders before it"), "{message}");
    assert_eq!(server.orders_stored().await, 1_200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_of_one_order_reach_the_log_in_stream_order_on_sqlite() {
    versions_reach_the_log_in_stream_order(Server::start(0).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_of_one_order_reach_the_log_in_stream_order_on_postgres() {
    let Some(url) = portrait_testkit::postgres::fresh_database().await else {
        return;
    };
    versions_reach_the_log_in_stream_order(Server::start_on(0, Some(url)).await).await;
}

async fn versions_reach_the_log_in_stream_order(server: Server) {
    let mut client = server.client().await;
    // 450 orders in one chunk, so over several multi-row INSERTs; three of them
    // are versions of order o-7, at places 7, 250 and 440.
    let mut orders: Vec<Order> = (0..450).map(order).collect();
    for (place, quantity) in [(250, 2), (440, 3)] {
        let mut version = order(7);
        version.lines[0].quantity = quantity;
        orders[place] = version;
    }
    let requests = orders
        .into_iter()
        .map(|o| SubmitOrderRequest { order: Some(o) });
    let totals = client
        .submit_orders(tokio_stream::iter(requests))
        .await
        .expect("accepted")
        .into_inner();
    assert_eq!((totals.accepted, totals.published), (450, 450));

    let bus = Bus::connect(&BusConfig::Embedded {
        path: server.data_dir().join("log.db"),
    })
    .await
    .expect("the embedded log");
    let mut consumer = bus
        .consumer(portrait_core::ORDERS_TOPIC, &[])
        .await
        .expect("consumer");
    let mut records = Vec::new();
    for _ in 0..100 {
        records.extend(
            consumer
                .next_batch(1_000, Duration::from_millis(100))
                .await
                .expect("records"),
        );
        if records.len() >= 450 {
            break;
        }
    }
    assert_eq!(records.len(), 450, "every change published once");
    let versions: Vec<(i64, i64)> = records
        .iter()
        .map(|r| OrderEvent::decode(r.payload.as_slice()).expect("an event"))
        .filter(|e| e.order_id == "o-7")
        .map(|e| (e.revision, e.order.map_or(0, |o| o.lines[0].quantity)))
        .collect();
    assert_eq!(versions, [(1, 1), (2, 2), (3, 3)]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_applies_versions_of_one_order_in_stream_order() {
    let server = Server::start(0).await;
    let mut client = server.client().await;
    let first = order(1);
    let mut second = first.clone();
    second.lines[0].quantity = 2;
    let requests = [first, second.clone()].map(|o| SubmitOrderRequest { order: Some(o) });
    let totals = client
        .submit_orders(tokio_stream::iter(requests))
        .await
        .expect("accepted")
        .into_inner();
    assert_eq!((totals.accepted, totals.published), (2, 2));
    // Re-sending the later version changes nothing: it is the one kept.
    let again = client
        .submit_order(SubmitOrderRequest {
            order: Some(second),
        })
        .await
        .expect("accepted")
        .into_inner();
    assert_eq!(again.outcome, SubmitOutcome::Unchanged as i32);
    assert_eq!(again.revision, 2);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_counts_waiting_events_as_the_outbox_holds_them() {
    let server = Server::start(0).await;
    let mut client = server.client().await;
    let batch = SubmitOrderBatchRequest {
        orders: (0..50).map(order).collect(),
    };
    client
        .submit_order_batch(batch.clone())
        .await
        .expect("accepted");
    assert_eq!(server.outbox_drained(50).await, 0);
    // A re-sent batch publishes nothing; a changed order publishes again.
    client.submit_order_batch(batch).await.expect("accepted");
    let mut changed = order(7);
    changed.net_amount_fen += 1;
    changed.lines[0].net_amount_fen += 1;
    client
        .submit_order(SubmitOrderRequest {
            order: Some(changed),
        })
        .await
        .expect("accepted");
    assert_eq!(server.outbox_drained(51).await, 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_bounded_validated_whole_and_answered_per_order() {
    let server = Server::start(0).await;
    let mut client = server.client().await;

    let too_many = SubmitOrderBatchRequest {
        orders: (0..10_001).map(order).collect(),
    };
    let err = client
        .submit_order_batch(too_many)
        .await
        .expect_err("10,001 orders is over the bound");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().starts_with("orders:"), "{}", err.message());
    assert!(err.message().contains("10000"), "{}", err.message());

    let mut bad = SubmitOrderBatchRequest {
        orders: (0..50).map(order).collect(),
    };
    bad.orders[3].lines[0].quantity = 0;
    let err = client
        .submit_order_batch(bad)
        .await
        .expect_err("orders[3] is invalid");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        err.metadata()
            .get("x-invalid-field")
            .and_then(|v| v.to_str().ok()),
        Some("orders[3].lines[0].quantity"),
        "{}",
        err.message()
    );
    assert_eq!(server.orders_stored().await, 0, "nothing of a bad batch");

    let full: Vec<Order> = (0..10_000).map(order).collect();
    let response = client
        .submit_order_batch(SubmitOrderBatchRequest {
            orders: full.clone(),
        })
        .await
        .expect("a full batch is accepted")
        .into_inner();
    assert_eq!(
        (response.accepted, response.published, response.unchanged),
        (10_000, 10_000, 0)
    );
    let ids: Vec<&str> = response
        .results
        .iter()
        .map(|r| r.order_id.as_str())
        .collect();
    let want: Vec<&str> = full.iter().map(|o| o.order_id.as_str()).collect();
    assert_eq!(ids, want, "one result per order, in request order");
    assert_eq!(server.orders_stored().await, 10_000);

    // Re-sent, one changed, and one new twice in the batch (in place of two
    // re-sent ones, to stay within a batch): one more order.
    let mut again = full;
    again[7].net_amount_fen += 1;
    again[7].lines[0].net_amount_fen += 1;
    again.truncate(9_998);
    again.push(order(20_000));
    again.push(order(20_000));
    let resent = client
        .submit_order_batch(SubmitOrderBatchRequest { orders: again })
        .await
        .expect("a re-sent batch is accepted")
        .into_inner();
    // The changed one and the new one are published; its second copy is unchanged.
    assert_eq!((resent.published, resent.unchanged), (2, 9_998));
    assert_eq!(server.orders_stored().await, 10_001);
    server.stop().await;
}

/// An order of `lines` lines with plausible, long-ish names: ~110 bytes a line.
fn heavy_order(i: usize, lines: usize) -> Order {
    let mut o = order(i);
    let amount = 500;
    o.lines = (0..lines)
        .map(|l| OrderLine {
            product_id: format!("p{l}"),
            product_name: format!("招牌红烧牛肉面 大碗 加辣 加蛋 {l:03}"),
            category_id: "noodles".into(),
            category_name: "面食 · 招牌系列".into(),
            quantity: 1,
            net_amount_fen: amount,
        })
        .collect();
    o.net_amount_fen = amount * lines as i64;
    o
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_may_weigh_up_to_16_mib_and_no_more() {
    let server = Server::start(0).await;
    let mut client = server.client().await;

    // Over tonic's default 4 MiB, under ingest's 16 MiB.
    let big = SubmitOrderBatchRequest {
        orders: (0..10_000).map(|i| heavy_order(i, 10)).collect(),
    };
    let size = big.encoded_len();
    assert!((4 << 20..16 << 20).contains(&size), "{size} bytes");
    let response = client
        .submit_order_batch(big)
        .await
        .expect("a 10,000-order batch under 16 MiB is accepted")
        .into_inner();
    assert_eq!(response.accepted, 10_000);

    let too_big = SubmitOrderBatchRequest {
        orders: (10_000..20_000).map(|i| heavy_order(i, 20)).collect(),
    };
    assert!(too_big.encoded_len() > 16 << 20);
    // A client without a limit of its own, so the server's is what answers.
    let err = client
        .max_encoding_message_size(usize::MAX)
        .submit_order_batch(too_big)
        .await
        .expect_err("over 16 MiB");
    assert_eq!(err.code(), Code::OutOfRange, "{err}");
    assert_eq!(server.orders_stored().await, 10_000, "nothing of it stored");
    server.stop().await;
}
