//! The serving state of the projections: compact, exact, in memory.
//!
//! Built from a service's own tables at start and advanced by the consumer
//! loop only after each batch commits, so a query sees whole batches only.

mod baskets;
mod chunked;
mod column;
mod customer_pairs;
mod customers;
mod groups;
mod heap;
mod intern;
mod narrow;
mod seen;
mod sets;
mod store_days;
mod stores;
mod tags;

pub use baskets::{BasketBook, BasketCounts};
pub use customer_pairs::{CustomerPairs, SetCounts};
pub use customers::{BookLoader, CustomerBook, Reach};
pub use groups::GroupFigures;
pub use heap::{HeapSize, nested_bytes, vec_bytes};
pub use intern::Interner;
pub use seen::Seen;
pub use store_days::{CHANNEL_SLOTS, StoreBook};
pub use stores::{Selection, Stores};
pub use tags::Tag;

use crate::CustomerDays;

/// What a batch holds that the serving state does not: the (customer,
/// store, day) keys of its rows, and the ids of its stores whose name and
/// city the state holds otherwise or not at all.
#[derive(Debug, Default)]
pub struct NewRows<'a> {
    rows: std::collections::HashSet<(&'a str, &'a str, crate::Day)>,
    stores: std::collections::HashSet<&'a str>,
}

impl<'a> NewRows<'a> {
    /// Everything in `d` is new: for a state known to be empty.
    pub fn all(d: &'a CustomerDays) -> Self {
        Self {
            rows: (d.rows.keys())
                .map(|(c, s, day)| (c.as_str(), s.as_str(), *day))
                .collect(),
            stores: d.stores.keys().map(String::as_str).collect(),
        }
    }

    pub fn contains(&self, row: &(&str, &str, crate::Day)) -> bool {
        self.rows.contains(row)
    }

    /// Whether the store's name or city is new to the state.
    pub fn has_store(&self, store_id: &str) -> bool {
        self.stores.contains(store_id)
    }
}

/// Stores and customer-day rows: the serving state every consumer keeps.
#[derive(Debug, Default, Clone)]
pub struct CustomerState {
    pub stores: Stores,
    pub book: CustomerBook,
}

impl CustomerState {
    /// Whether the (customer, store, day) row is held: see [`CustomerBook::has_row`].
    pub fn has_row(&self, customer: &str, store: &str, day: crate::Day) -> bool {
        (self.stores.get(store)).is_some_and(|s| self.book.has_row(customer, s, day))
    }

    /// The batch's (customer, store, day) rows the state does not hold: as
    /// this state's table holds none of them, their rows are written by a
    /// plain insert.
    pub fn new_rows<'a>(&self, d: &'a CustomerDays) -> NewRows<'a> {
        let held = |id: &str| self.stores.get(id).and_then(|s| self.stores.info(s));
        NewRows {
            rows: (d.rows.keys())
                .filter(|(c, s, day)| !self.has_row(c, s, *day))
                .map(|(c, s, day)| (c.as_str(), s.as_str(), *day))
                .collect(),
            // The state mirrors the committed `stores` table: a store it
            // holds as the batch names it needs no write. Every batch names
            // its orders' stores, and rewriting them was a statement of a
            // few hundred rows per batch in every consumer (4 % of
            // PostgreSQL's time in the distributed bench).
            stores: (d.stores.iter())
                .filter(|(id, info)| held(id) != Some(*info))
                .map(|(id, _)| id.as_str())
                .collect(),
        }
    }

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

    /// Adds a committed batch to a tagged book: the stores from `d`, the
    /// rows from `parts`, (customer, store, day, tag, sums) whose sums per
    /// (customer, store, day) are `d`'s rows.
    pub fn apply_tagged<'a>(
        &mut self,
        d: &CustomerDays,
        parts: impl IntoIterator<Item = (&'a str, &'a str, crate::Day, Tag, crate::Acc)>,
    ) {
        for (id, info) in &d.stores {
            self.stores.describe(id, info);
        }
        for (customer, store, day, tag, acc) in parts {
            let store = self.stores.id(store);
            self.book.add_tagged(customer, store, day, acc, tag);
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
