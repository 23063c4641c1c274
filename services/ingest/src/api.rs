//! The gRPC face of ingest: one order, a stream of orders, a batch.

use portrait_core::ValidOrder;
use portrait_proto::v1::ingest_service_server::IngestService;
use portrait_proto::v1::{
    IngestStatus, IngestStatusRequest, SubmitOrderBatchRequest, SubmitOrderBatchResponse,
    SubmitOrderRequest, SubmitOrderResponse, SubmitOrdersResponse, SubmitOutcome,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};

use crate::submit::{CHUNK, Ingest};

/// Orders one `SubmitOrderBatch` may carry.
pub const MAX_BATCH_ORDERS: usize = 10_000;
/// What a batch of `MAX_BATCH_ORDERS` orders may weigh encoded, with room for
/// orders of many lines (~1.6 KiB each on average).
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Requests read off a stream but not yet validated and committed. The reader
/// runs ahead of the writer by this much, so HTTP/2 keeps draining while a
/// chunk commits; past it the reader waits and flow control slows the client.
const QUEUE: usize = 4 * CHUNK;

#[tonic::async_trait]
impl IngestService for Ingest {
    async fn submit_order(
        &self,
        request: Request<SubmitOrderRequest>,
    ) -> Result<Response<SubmitOrderResponse>, Status> {
        let order = self.validate(request.into_inner().order)?;
        let mut out = self.accept(vec![order]).await?;
        out.pop()
            .map(Response::new)
            .ok_or_else(|| Status::internal("no response for the order"))
    }

    async fn submit_orders(
        &self,
        request: Request<Streaming<SubmitOrderRequest>>,
    ) -> Result<Response<SubmitOrdersResponse>, Status> {
        let (sender, mut queue) = mpsc::channel(QUEUE);
        // Stops reading when this call ends, whichever way it ends.
        let _reader = AbortOnDrop(tokio::spawn(read_stream(request.into_inner(), sender)));
        let mut totals = SubmitOrdersResponse::default();
        let mut chunk = Vec::with_capacity(CHUNK);
        let mut index = 0_i64;
        while let Some(item) = queue.recv().await {
            let order = item?.order;
            let id = order.as_ref().map(|o| o.order_id.clone());
            match self.validate(order) {
                Ok(valid) => chunk.push(valid),
                Err(e) => {
                    // Orders before the bad one are accepted: say how many.
                    self.flush(&mut chunk, &mut totals).await?;
                    let status: Status = e.into();
                    return Err(Status::invalid_argument(format!(
                        "order #{index} in the stream{}: {} ({} orders before it were accepted)",
                        id.map(|id| format!(" ({id})")).unwrap_or_default(),
                        status.message(),
                        totals.accepted
                    )));
                }
            }
            index += 1;
            if chunk.len() >= CHUNK {
                self.flush(&mut chunk, &mut totals).await?;
            }
        }
        self.flush(&mut chunk, &mut totals).await?;
        Ok(Response::new(totals))
    }

    async fn submit_order_batch(
        &self,
        request: Request<SubmitOrderBatchRequest>,
    ) -> Result<Response<SubmitOrderBatchResponse>, Status> {
        let orders = request.into_inner().orders;
        if orders.len() > MAX_BATCH_ORDERS {
            return Err(invalid(
                "orders",
                format!(
                    "a batch holds at most {MAX_BATCH_ORDERS} orders, not {}; split it",
                    orders.len()
                ),
            ));
        }
        let mut valid = Vec::with_capacity(orders.len());
        for (i, order) in orders.into_iter().enumerate() {
            let id = order.order_id.clone();
            match self.validate(Some(order)) {
                Ok(v) => valid.push(v),
                Err(e) => return Err(batch_error(i, &id, e)),
            }
        }
        let results = self.accept(valid).await?;
        let mut response = SubmitOrderBatchResponse::default();
        for r in &results {
            response.accepted += 1;
            if r.outcome == SubmitOutcome::Published as i32 {
                response.published += 1;
            } else {
                response.unchanged += 1;
            }
        }
        response.results = results;
        Ok(Response::new(response))
    }

    async fn get_ingest_status(
        &self,
        _request: Request<IngestStatusRequest>,
    ) -> Result<Response<IngestStatus>, Status> {
        Ok(Response::new(self.status().await?))
    }
}

impl Ingest {
    async fn flush(
        &self,
        chunk: &mut Vec<ValidOrder>,
        totals: &mut SubmitOrdersResponse,
    ) -> portrait_service::Result<()> {
        for r in self.accept(std::mem::take(chunk)).await? {
            totals.accepted += 1;
            if r.outcome == SubmitOutcome::Published as i32 {
                totals.published += 1;
            } else {
                totals.unchanged += 1;
            }
        }
        Ok(())
    }
}

/// Moves requests off the HTTP/2 stream as they arrive, so its DATA frames are
/// consumed even while the writer waits on the database (h2 closes a
/// connection whose small frames pile up unread). A stream error is passed on
/// and ends the reading.
async fn read_stream(
    mut stream: Streaming<SubmitOrderRequest>,
    queue: mpsc::Sender<Result<SubmitOrderRequest, Status>>,
) {
    while let Some(item) = stream.next().await {
        let failed = item.is_err();
        if queue.send(item).await.is_err() || failed {
            break;
        }
    }
}

struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Names the order by its place in the batch: `orders[17].store_id`.
fn batch_error(index: usize, order_id: &str, e: portrait_service::Error) -> Status {
    let place = format!("orders[{index}]");
    match e {
        portrait_service::Error::Domain(portrait_core::Error::Invalid { field, reason }) => {
            let field = match field.strip_prefix("order") {
                Some(rest) => format!("{place}{rest}"),
                None => format!("{place}.{field}"),
            };
            invalid(
                &field,
                format!("{reason} (order_id {order_id:?}; nothing in the batch was accepted)"),
            )
        }
        portrait_service::Error::Domain(e) => {
            Status::invalid_argument(format!("{place}: {e}; nothing in the batch was accepted"))
        }
        other => other.into(),
    }
}

fn invalid(field: &str, reason: String) -> Status {
    portrait_service::Error::from(portrait_core::Error::invalid(field, reason)).into()
}
