//! The serving state of the projections: compact, exact, in memory.
//!
//! Built from a service's own tables at start and advanced by the consumer
//! loop only after each batch commits, so a query sees whole batches only.

mod baskets;
mod customer_pairs;
mod customers;
mod groups;
mod heap;
mod intern;
mod store_days;
mod stores;

pub use baskets::{BasketBook, BasketCounts};
pub use customer_pairs::{CustomerPairs, SetCounts};
pub use customers::{BookLoader, CustomerBook, Reach};
pub use groups::GroupFigures;
pub use heap::{HeapSize, nested_bytes, vec_bytes};
pub use intern::Interner;
pub use store_days::{CHANNEL_SLOTS, StoreBook};
pub use stores::{Selection, Stores};

use crate::CustomerDays;

/// Stores and customer-day rows: the serving state every consumer keeps.
#[derive(Debug, Default, Clone)]
pub struct CustomerState {
    pub stores: Stores,
    pub book: CustomerBook,
}

impl CustomerState {
    /// Adds a committed batch.
    pub fn apply(&mut self, d: &CustomerDays) {
        for (id, info) in &d.stores {
            self.stores.describe(id, info);
        }
        for ((customer, store, day), acc) in &d.rows {
            let store = self.stores.id(store);
            self.book.add(customer, store, *day, *acc);
        }
    }

    /// The state's heap by part: the customer ids, their rows, the stores.
    pub fn heap_parts(&self) -> [(&'static str, usize); 3] {
        [
            ("customer_ids", self.book.customers().heap_bytes()),
            ("customer_rows", self.book.rows_heap_bytes()),
            ("stores", self.stores.heap_bytes()),
        ]
    }
}
