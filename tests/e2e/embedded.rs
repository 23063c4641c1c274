//! The embedded mode: `portrait run` alone, no servers, same figures. The
//! process is killed with SIGKILL mid-stream and restarted on the same files.

use portrait_proto::v1::ingest_service_client::IngestServiceClient;
use portrait_proto::v1::portrait_service_client::PortraitServiceClient;

use crate::oracle::Oracle;
use crate::pipeline::{assert_figures, scenario, submit};
use crate::stack::Stack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_stack_equals_sql_oracle_through_kill() {
    let Some(oracle) = Oracle::fresh().await else {
        return;
    };
    let (orders, queries) = scenario();
    let mut stack = Stack::embedded();
    stack.start_all();

    let third = orders.len() / 3;
    let mut ingest = IngestServiceClient::new(stack.channel("ingest").await);
    submit(&mut ingest, &orders[..third]).await;
    stack.kill9("portrait");
    stack.start_all();
    let mut ingest = IngestServiceClient::new(stack.channel("ingest").await);
    // Re-sending what was accepted before the kill changes nothing.
    submit(&mut ingest, &orders[..2 * third]).await;
    stack.wait_caught_up().await;
    oracle.load_orders(&orders[..2 * third]).await;
    let mut gateway = PortraitServiceClient::new(stack.channel("gateway").await);
    assert_figures(&mut gateway, &oracle, &queries).await;

    submit(&mut ingest, &orders[2 * third..]).await;
    stack.wait_caught_up().await;
    oracle.load_orders(&orders).await;
    assert_figures(&mut gateway, &oracle, &queries).await;
    crate::anomaly::assert_refund_wave_flagged(&mut gateway, &orders, &queries[0].as_of).await;
}
