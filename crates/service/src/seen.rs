//! Which ids a table may hold, so that a batch looks up only those: nearly
//! every order a consumer or ingest sees is new, and looking up all of a
//! batch's orders cost rfm and suggest more of PostgreSQL's time than any of
//! their writes (2,000 random index probes a statement), and ingest 26 s per
//! 10M orders.
//!
//! The filter answers "maybe" or a certain "no", and must hold every id with
//! a committed row. It is filled anew by a scan of the table in the
//! background (a consumer's at each load of its state: start, reload after a
//! failure, rebuild), while the one writer adds each batch's new ids itself
//! before its commit. A row is either committed before the scan began (the
//! scan reads it) or by a batch after (the writer added it). Until the scan
//! ends, every id is looked up.

use std::sync::{Arc, Mutex, MutexGuard};

use portrait_core::memory::Seen;
use portrait_store::Store;
use tracing::{info, warn};

#[derive(Debug, Default)]
pub struct SeenIds {
    state: Mutex<Filling>,
}

#[derive(Debug, Default)]
struct Filling {
    filter: Seen,
    /// The scan of the table finished for this filling.
    ready: bool,
    filling: u64,
}

impl SeenIds {
    fn lock(&self) -> MutexGuard<'_, Filling> {
        // Each critical section leaves the filter whole, so a panic elsewhere
        // cannot leave it half-updated.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets every id and fills the filter from `table`'s `column` in the
    /// background; `expected` (the rows there, about) sizes it.
    pub fn refill(
        self: &Arc<Self>,
        store: &Store,
        (table, column): (&'static str, &'static str),
        expected: i64,
    ) {
        let capacity = usize::try_from(expected).unwrap_or(0).saturating_mul(5) / 4;
        let filling = {
            let mut s = self.lock();
            s.filling += 1;
            s.filter = Seen::with_capacity(capacity);
            s.ready = false;
            s.filling
        };
        let (this, pool) = (self.clone(), store.pool().clone());
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let scanned = portrait_store::scan_ids(&pool, table, column, |id| {
                let mut s = this.lock();
                if s.filling == filling {
                    s.filter.insert(id);
                }
            })
            .await;
            match scanned {
                Ok(ids) => {
                    let mut s = this.lock();
                    if s.filling == filling {
                        s.ready = true;
                        info!(
                            table,
                            ids,
                            bytes = s.filter.heap_bytes(),
                            elapsed_ms = started.elapsed().as_millis() as u64,
                            "ids indexed"
                        );
                    }
                }
                // Still exact, only slower: every order is looked up.
                Err(e) => {
                    warn!(table, error = %e, "could not index the ids; each batch looks up all of its own")
                }
            }
        });
    }

    /// The ids a batch must look up: all of them until the filter is
    /// filled, then those it may hold.
    pub fn to_look_up<'a>(&self, ids: &[&'a str]) -> Vec<&'a str> {
        let s = self.lock();
        if !s.ready {
            return ids.to_vec();
        }
        (ids.iter().copied())
            .filter(|id| s.filter.may_contain(id))
            .collect()
    }

    /// Adds a batch's new ids; called before its commit, so the filter holds
    /// every committed row (and perhaps some of a batch that failed).
    pub fn add<'a>(&self, ids: impl Iterator<Item = &'a str>) {
        let mut s = self.lock();
        for id in ids {
            s.filter.insert(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use portrait_store::{Applied, Store};

    use super::SeenIds;

    const APPLIED: (&str, &str) = ("applied", "order_id");

    async fn store_with(dir: &tempfile::TempDir, orders: &[&str]) -> Store {
        let url = format!("sqlite://{}", dir.path().join("s.db").display());
        let store = Store::connect(&url).await.unwrap();
        (store.migrate("consumer", portrait_store::CONSUMER_MIGRATIONS))
            .await
            .unwrap();
        let mut tx = store.begin().await.unwrap();
        let mut applied = Applied::load(&mut tx, &[]).await.unwrap();
        for id in orders {
            applied.insert(id, 1);
        }
        applied.save(&mut tx).await.unwrap();
        tx.commit().await.unwrap();
        store
    }

    async fn ready(seen: &SeenIds) {
        for _ in 0..500 {
            if seen.lock().ready {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the filter was never filled");
    }

    #[tokio::test]
    async fn stored_and_added_orders_are_looked_up_and_others_rarely() {
        let dir = tempfile::tempdir().unwrap();
        let stored: Vec<String> = (0..3000).map(|i| format!("o-{i}")).collect();
        let ids: Vec<&str> = stored.iter().map(String::as_str).collect();
        let store = store_with(&dir, &ids).await;
        let seen = Arc::new(SeenIds::default());
        // Before the scan ends, every order is looked up.
        seen.refill(&store, APPLIED, 0);
        let fresh: Vec<String> = (0..3000).map(|i| format!("n-{i}")).collect();
        let fresh: Vec<&str> = fresh.iter().map(String::as_str).collect();
        if !seen.lock().ready {
            assert_eq!(seen.to_look_up(&fresh).len(), fresh.len());
        }
        ready(&seen).await;
        assert_eq!(
            seen.to_look_up(&ids),
            ids,
            "a stored order must be looked up"
        );
        let maybe = seen.to_look_up(&fresh).len();
        assert!(maybe < 100, "{maybe} of 3,000 new orders looked up");
        seen.add(fresh[..10].iter().copied());
        assert_eq!(seen.to_look_up(&fresh[..10]), &fresh[..10]);
        // A refill forgets what was added and not stored.
        seen.refill(&store, APPLIED, 3000);
        ready(&seen).await;
        assert!(seen.to_look_up(&fresh[..10]).len() < 10);
        assert_eq!(seen.to_look_up(&ids).len(), ids.len());
    }
}
