use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use portrait_core::{Decision, Limits, Stored, ValidOrder, decide, validate_order};
use portrait_proto::v1::{IngestStatus, Order, SubmitOrderResponse, SubmitOutcome};
use portrait_service::{Error, Result, SeenIds, metrics, now_ms};
use portrait_store::{Store, Tx};
use prost::Message as _;
use sqlx::Row;
use tokio::sync::{Mutex, Notify};

/// Orders written per transaction by the streaming call, and ids per `IN` list.
pub(crate) const CHUNK: usize = 500;

#[derive(Clone)]
pub struct Ingest {
    store: Store,
    limits: Limits,
    /// One writer at a time, so two versions of an order never race for a revision.
    write: Arc<Mutex<()>>,
    outbox: Arc<Notify>,
    /// `ingest.commit_delay_ms`: plays a slow database in tests.
    commit_delay: Duration,
    /// The orders the table may hold: only those are looked up.
    seen: Arc<SeenIds>,
}

impl Ingest {
    pub fn new(store: Store, limits: Limits) -> Self {
        Self {
            store,
            limits,
            write: Arc::new(Mutex::new(())),
            outbox: Arc::new(Notify::new()),
            commit_delay: Duration::ZERO,
            seen: Arc::default(),
        }
    }

    /// Fills the filter of stored orders in the background; until then,
    /// every order is looked up.
    pub async fn index_orders(&self) -> Result<()> {
        let mut conn = self.store.acquire().await?;
        let orders = portrait_store::load_counter(&mut conn, "orders").await?;
        self.seen
            .refill(&self.store, ("orders", "order_id"), orders);
        Ok(())
    }

    /// Sleeps `delay` inside every write transaction (a test and diagnostic setting).
    pub fn with_commit_delay(mut self, delay: Duration) -> Self {
        self.commit_delay = delay;
        self
    }

    /// Woken after each commit that queued events.
    pub fn outbox_signal(&self) -> Arc<Notify> {
        self.outbox.clone()
    }

    pub fn validate(&self, order: Option<Order>) -> Result<ValidOrder> {
        let order = order.ok_or_else(|| portrait_core::Error::invalid("order", "must be set"))?;
        Ok(validate_order(order, now_ms(), &self.limits)?)
    }

    /// Accepts valid orders in one transaction, in the given order.
    pub async fn accept(&self, orders: Vec<ValidOrder>) -> Result<Vec<SubmitOrderResponse>> {
        if orders.is_empty() {
            return Ok(Vec::new());
        }
        let _one_writer = self.write.lock().await;
        let mut tx = self.store.begin().await?;
        let mut stored = {
            let ids: Vec<&str> = orders.iter().map(|o| o.get().order_id.as_str()).collect();
            load(&mut tx, &self.seen.to_look_up(&ids)).await?
        };
        let in_table: HashSet<String> = stored.keys().cloned().collect();
        let mut changed: HashMap<String, Stored> = HashMap::new();
        let mut responses = Vec::with_capacity(orders.len());
        let trace = portrait_service::inject_current()
            .into_iter()
            .find(|(k, _)| k == "traceparent")
            .map(|(_, v)| v)
            .unwrap_or_default();
        let mut events = Vec::new();
        let mut new_orders = 0_i64;
        for order in orders {
            let id = order.get().order_id.clone();
            let known = stored.contains_key(&id);
            match decide(stored.get(&id), order) {
                Decision::Unchanged { revision } => {
                    responses.push(response(id, revision, SubmitOutcome::Unchanged))
                }
                Decision::Accept { stored: s, event } => {
                    let outcome = if let Some(event) = event {
                        let key = event
                            .order
                            .as_ref()
                            .or(event.previous.as_ref())
                            .or(event.refunded.as_ref())
                            .or(event.previous_refunded.as_ref())
                            .map(|o| o.customer_id.clone())
                            .unwrap_or_default();
                        events.push((key, event.encode_to_vec()));
                        SubmitOutcome::Published
                    } else {
                        SubmitOutcome::Unchanged
                    };
                    responses.push(response(id.clone(), s.revision, outcome));
                    new_orders += i64::from(!known);
                    stored.insert(id.clone(), s.clone());
                    changed.insert(id, s);
                }
            }
        }
        let published = events.len();
        let epoch = current_epoch(&mut tx).await?;
        // Many rows per statement: one round trip to the database per
        // statement instead of one per row. A statement's rows get their
        // outbox ids in the order listed, so events keep their order.
        let params = portrait_store::PARAMS_PER_STATEMENT;
        let anonymous = portrait_store::is_sqlite(&tx);
        for rows in events.chunks(params / 4) {
            let text = portrait_store::values_text(
                "INSERT INTO outbox (msg_key, payload, traceparent, epoch) VALUES ",
                4,
                rows.len(),
                "",
                anonymous,
            );
            let mut query = sqlx::query(&text).persistent(rows.len() == params / 4);
            for (key, payload) in rows {
                query = query
                    .bind(key.as_str())
                    .bind(payload.as_slice())
                    .bind(trace.as_str())
                    .bind(epoch);
            }
            query.execute(&mut *tx).await?;
        }
        // New orders by a plain insert: on PostgreSQL an upsert checks the
        // key before and after it writes, twice the cost (this writer holds
        // the lock, so no other can add them meanwhile).
        let (new, known): (Vec<_>, Vec<_>) = (changed.values())
            .map(|s| (s, s.order.encode_to_vec()))
            .partition(|(s, _)| !in_table.contains(&s.order.order_id));
        (self.seen).add(new.iter().map(|(s, _)| s.order.order_id.as_str()));
        let upsert = " ON CONFLICT (order_id) DO UPDATE SET revision = excluded.revision, \
                      live = excluded.live, payload = excluded.payload";
        for (rows, tail) in [(new, ""), (known, upsert)] {
            for rows in rows.chunks(params / 4) {
                let text = portrait_store::values_text(
                    "INSERT INTO orders (order_id, revision, live, payload) VALUES ",
                    4,
                    rows.len(),
                    tail,
                    anonymous,
                );
                let mut query = sqlx::query(&text).persistent(rows.len() == params / 4);
                for (s, payload) in rows {
                    query = query
                        .bind(s.order.order_id.as_str())
                        .bind(s.revision)
                        .bind(i64::from(s.live))
                        .bind(payload.as_slice());
                }
                query.execute(&mut *tx).await?;
            }
        }
        let queued = i64::try_from(published).unwrap_or(i64::MAX);
        portrait_store::add_counters(&mut tx, &[("orders", new_orders), (PENDING, queued)]).await?;
        if !self.commit_delay.is_zero() {
            tokio::time::sleep(self.commit_delay).await;
        }
        tx.commit().await?;
        if published > 0 {
            self.outbox.notify_one();
        }
        if let Some(m) = metrics::get() {
            for r in &responses {
                let label = if r.outcome == SubmitOutcome::Published as i32 {
                    "published"
                } else {
                    "unchanged"
                };
                m.orders_submitted.with_label_values(&[label]).inc();
            }
        }
        Ok(responses)
    }

    pub(crate) fn parts(&self) -> (Store, Arc<Mutex<()>>, Arc<Notify>) {
        (self.store.clone(), self.write.clone(), self.outbox.clone())
    }

    pub async fn status(&self) -> Result<IngestStatus> {
        let mut conn = self.store.acquire().await?;
        let counters = portrait_store::load_counters(&mut conn).await?;
        Ok(IngestStatus {
            orders: counters.get("orders").copied().unwrap_or(0),
            outbox_pending: counters.get(PENDING).copied().unwrap_or(0),
            events_published: counters.get("events_published").copied().unwrap_or(0),
        })
    }
}

/// The counter of events waiting in the outbox (migration 0006).
pub(crate) const PENDING: &str = "outbox_pending";

/// The publication new events join (0 until the first `portrait rebuild`).
pub(crate) async fn current_epoch(tx: &mut Tx) -> Result<i64> {
    Ok(portrait_store::load_counter(tx, "epoch").await?)
}

fn response(order_id: String, revision: i64, outcome: SubmitOutcome) -> SubmitOrderResponse {
    SubmitOrderResponse {
        order_id,
        revision,
        outcome: outcome as i32,
    }
}

/// The stored versions of the orders in a chunk.
/// The stored versions of `ids`; an order left out must have no row (its
/// first version is inserted as new, and a row there fails the batch).
async fn load(tx: &mut Tx, ids: &[&str]) -> Result<HashMap<String, Stored>> {
    let head = "SELECT order_id, revision, live, payload FROM orders WHERE order_id IN (";
    let mut out = HashMap::new();
    for sql in portrait_store::in_lists(tx, head, ids) {
        for r in sql.query().fetch_all(&mut **tx).await? {
            let id: String = r.try_get(0)?;
            let payload: Vec<u8> = r.try_get(3)?;
            let order = Order::decode(payload.as_slice())
                .map_err(|e| Error::Corrupt(format!("stored order {id} is unreadable: {e}")))?;
            let live: i64 = r.try_get(2)?;
            out.insert(
                id,
                Stored {
                    revision: r.try_get(1)?,
                    order,
                    live: live != 0,
                },
            );
        }
    }
    Ok(out)
}
