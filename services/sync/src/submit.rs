//! Submitting to ingest: its batch call for pages, the unary call for a full
//! run's missing orders. Each order's outcome comes back in order.

use portrait_proto::v1::ingest_service_client::IngestServiceClient;
use portrait_proto::v1::{Order, SubmitOrderBatchRequest, SubmitOrderRequest, SubmitOutcome};
use portrait_service::PeerChannel as Channel;

use crate::{Error, Result};

pub(crate) async fn submit_one(
    ingest: &mut IngestServiceClient<Channel>,
    order: Order,
) -> Result<SubmitOutcome> {
    let r = ingest
        .submit_order(SubmitOrderRequest { order: Some(order) })
        .await
        .map_err(Error::Ingest)?
        .into_inner();
    Ok(SubmitOutcome::try_from(r.outcome).unwrap_or(SubmitOutcome::Unspecified))
}

/// Orders per `SubmitOrderBatch` call, one ingest transaction each: a whole
/// default page (fewer, larger commits), still half of ingest's 10,000 and a
/// few MiB of its 16 MiB.
const BATCH: usize = 5_000;

/// Each order's outcome, in order, through ingest's batch call.
pub(crate) async fn submit_batch(
    ingest: &mut IngestServiceClient<Channel>,
    mut orders: Vec<Order>,
) -> Result<Vec<SubmitOutcome>> {
    let mut outcomes = Vec::with_capacity(orders.len());
    while !orders.is_empty() {
        let rest = orders.split_off(orders.len().min(BATCH));
        let chunk = std::mem::replace(&mut orders, rest);
        let sent = chunk.len();
        let r = ingest
            .submit_order_batch(SubmitOrderBatchRequest { orders: chunk })
            .await
            .map_err(Error::Ingest)?
            .into_inner();
        if r.results.len() != sent {
            return Err(Error::Ingest(tonic::Status::internal(format!(
                "ingest answered {} results for {sent} orders",
                r.results.len()
            ))));
        }
        outcomes.extend(
            r.results
                .iter()
                .map(|x| SubmitOutcome::try_from(x.outcome).unwrap_or(SubmitOutcome::Unspecified)),
        );
    }
    Ok(outcomes)
}
