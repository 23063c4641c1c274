//! A broker that goes away and comes back with its log (issue 12): nobody
//! restarts anything. Ingest keeps accepting into its outbox, the relay and
//! the consumers carry on by themselves, and every figure ends exact.

use std::time::Duration;

use portrait_proto::v1::ingest_service_client::IngestServiceClient;
use portrait_proto::v1::portrait_service_client::PortraitServiceClient;

use crate::pipeline::{assert_figures, scenario, submit};
use crate::stack::Stack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_is_ridden_out_without_restarting_anything() {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(mut broker) =
        portrait_testkit::broker::OwnBroker::durable(dir.path(), &dir.path().join("tansu.log"))
    else {
        return;
    };
    let Some((mut stack, oracle)) = Stack::distributed(broker.address()).await else {
        return;
    };
    stack.start_all();
    let (orders, queries) = scenario();
    let mut ingest = IngestServiceClient::new(stack.channel("ingest").await);
    let mut gateway = PortraitServiceClient::new(stack.channel("gateway").await);

    let third = orders.len() / 3;
    submit(&mut ingest, &orders[..third]).await;
    stack.wait_caught_up().await;

    broker.stop();
    // Accepted while the broker is away: they wait in the outbox. Away for
    // longer than the producer's message timeout (30 s): the relay's publish
    // fails, and a producer kept after that never published again.
    submit(&mut ingest, &orders[third..2 * third]).await;
    tokio::time::sleep(Duration::from_secs(35)).await;
    broker.start_again();
    submit(&mut ingest, &orders[2 * third..]).await;

    let status = stack.wait_caught_up().await;
    assert!(status.condition.is_empty(), "{status:?}");
    assert_eq!(stack.exited(), [], "no process ended");
    oracle.load_orders(&orders).await;
    assert_figures(&mut gateway, &oracle, &queries).await;
}
