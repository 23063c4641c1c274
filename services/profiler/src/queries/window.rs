//! Associations over customers inside a date window: who bought both a and b
//! at the selected stores in [from, to). The counts kept in memory are over
//! all history, so a window is counted from the customer portrait's
//! `customer_products` rows when asked, and cached per (filter, version).

use std::sync::Arc;

use portrait_core::memory::{BasketCounts, SetCounts};
use portrait_proto::v1::Filter;
use portrait_service::Result;
use portrait_store::Sql;
use sqlx::Row;

use super::Profiler;
use crate::summary::scope_of;

impl Profiler {
    pub(super) async fn window_counts(&self, filter: Option<&Filter>) -> Result<Arc<BasketCounts>> {
        let (f, version, scope) = self.with(filter, |s, f, sel, version| {
            (f.clone(), version, scope_of(s, f, sel))
        })?;
        let key = (f.clone(), true);
        if let Some(counts) = self.association_counts.get(&key, version) {
            return Ok(counts);
        }
        if scope.is_empty() {
            return Ok(Arc::new(BasketCounts::default()));
        }
        // One scan of the portrait tables at a time (Profiler::scans).
        let _scan = self.scans.lock().await;
        let mut conn = self.ctx.store().acquire().await?;
        let table = "customer_products";
        let mut sql = Sql::for_conn(
            &conn,
            &format!("SELECT customer_id, product_id FROM {table}"),
        );
        scope.push_where(&mut sql, table, portrait_store::is_sqlite(&conn));
        sql.push(" GROUP BY customer_id, product_id ORDER BY customer_id");
        let rows = sql.query().fetch_all(&mut *conn).await?;
        drop(conn);
        let counts = {
            let (state, _) = self.projection.live.read();
            let products = state.days.product_count();
            let mut counts = SetCounts::new(products);
            let mut set: Vec<u32> = Vec::new();
            let mut current: Option<String> = None;
            for r in &rows {
                let customer: String = r.try_get(0)?;
                let product: String = r.try_get(1)?;
                if current.as_deref() != Some(customer.as_str()) {
                    counts.add(&mut set);
                    set.clear();
                    current = Some(customer);
                }
                // A product the state has not applied yet waits for its batch.
                if let Some(p) = state.days.product_id(&product) {
                    set.push(p);
                }
            }
            counts.add(&mut set);
            counts.finish()
        };
        Ok(self.association_counts.put(&key, version, counts))
    }
}
