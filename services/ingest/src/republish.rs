//! `IngestAdmin.Republish`: ingest's half of `portrait rebuild`. The orders
//! table holds the latest accepted version of every order, so a fresh
//! publication of it is everything a consumer needs to start over exactly.
//!
//! Under the writer lock and in one transaction: the epoch moves on, and every
//! order that counts (paid, or refunded: the refund counts) is queued as an
//! event carrying its latest version and revision as `order` or `refunded`
//! (no previous version: a rebuilt consumer starts empty), behind
//! whatever the outbox already holds. Events queued earlier keep their older
//! epoch, which a rebuilt consumer skips: their changes are in the snapshot.
//! Consumers not rebuilt apply everything and skip the snapshot's events as
//! revisions they already applied.

use std::sync::Arc;

use portrait_core::{is_live, is_refunded};
use portrait_proto::v1::ingest_admin_server::IngestAdmin;
use portrait_proto::v1::{Order, OrderEvent, RepublishRequest, RepublishResult};
use portrait_service::{Error, Result};
use portrait_store::Store;
use prost::Message as _;
use sqlx::Row;
use tokio::sync::{Mutex, Notify};
use tonic::{Request, Response, Status};
use tracing::info;

use crate::Ingest;
use crate::submit::{PENDING, current_epoch};

/// Orders read per page of the snapshot.
const PAGE: i64 = 5_000;

pub(crate) struct Republisher {
    store: Store,
    write: Arc<Mutex<()>>,
    outbox: Arc<Notify>,
}

impl Republisher {
    pub(crate) fn new(ingest: &Ingest) -> Self {
        let (store, write, outbox) = ingest.parts();
        Self {
            store,
            write,
            outbox,
        }
    }

    async fn republish(&self) -> Result<RepublishResult> {
        let _one_writer = self.write.lock().await;
        let mut tx = self.store.begin().await?;
        let epoch = current_epoch(&mut tx).await? + 1;
        sqlx::query(
            "INSERT INTO counters (name, value) VALUES ('epoch', $1) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(epoch)
        .execute(&mut *tx)
        .await?;
        let anonymous = portrait_store::is_sqlite(&tx);
        let mut after = String::new();
        let mut orders = 0_i64;
        loop {
            let rows = sqlx::query(
                "SELECT order_id, revision, payload FROM orders \
                 WHERE revision > 0 AND order_id > $1 ORDER BY order_id LIMIT $2",
            )
            .bind(after.as_str())
            .bind(PAGE)
            .fetch_all(&mut *tx)
            .await?;
            let Some(last) = rows.last() else { break };
            after = last.try_get(0)?;
            let mut events = Vec::with_capacity(rows.len());
            for r in &rows {
                let id: String = r.try_get(0)?;
                let payload: Vec<u8> = r.try_get(2)?;
                let order = Order::decode(payload.as_slice())
                    .map_err(|e| Error::Corrupt(format!("stored order {id} is unreadable: {e}")))?;
                let (live, refunded) = (is_live(&order), is_refunded(&order));
                if !live && !refunded {
                    // Cancelled: counted nowhere, so nothing to publish.
                    continue;
                }
                let key = order.customer_id.clone();
                let event = OrderEvent {
                    order_id: id,
                    revision: r.try_get(1)?,
                    order: live.then(|| order.clone()),
                    previous: None,
                    refunded: refunded.then_some(order),
                    previous_refunded: None,
                };
                events.push((key, event.encode_to_vec()));
            }
            let params = portrait_store::PARAMS_PER_STATEMENT;
            for chunk in events.chunks(params / 4) {
                let text = portrait_store::values_text(
                    "INSERT INTO outbox (msg_key, payload, traceparent, epoch) VALUES ",
                    4,
                    chunk.len(),
                    "",
                    anonymous,
                );
                let mut query = sqlx::query(&text).persistent(chunk.len() == params / 4);
                for (key, payload) in chunk {
                    query = query
                        .bind(key.as_str())
                        .bind(payload.as_slice())
                        .bind("")
                        .bind(epoch);
                }
                query.execute(&mut *tx).await?;
            }
            orders += events.len() as i64;
        }
        portrait_store::add_counters(&mut tx, &[(PENDING, orders)]).await?;
        let pending = portrait_store::load_counter(&mut tx, PENDING).await?;
        tx.commit().await?;
        self.outbox.notify_one();
        info!(
            epoch,
            orders,
            outbox_pending = pending,
            "fresh publication queued"
        );
        Ok(RepublishResult {
            epoch,
            orders,
            outbox_pending: pending,
        })
    }
}

#[tonic::async_trait]
impl IngestAdmin for Republisher {
    async fn republish(
        &self,
        _: Request<RepublishRequest>,
    ) -> Result<Response<RepublishResult>, Status> {
        Ok(Response::new(Republisher::republish(self).await?))
    }
}
