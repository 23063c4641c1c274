use std::collections::BTreeMap;

use portrait_proto::v1::{Order, OrderEvent};

use crate::{Calendar, Day};

/// Orders and net revenue in fen.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Acc {
    pub orders: i64,
    pub revenue: i64,
}

impl Acc {
    pub fn add(&mut self, by: Acc) {
        // Validation bounds every amount (see `Limits`), so sums of any
        // realistic number of orders stay far inside i64.
        self.orders += by.orders;
        self.revenue += by.revenue;
    }

    pub fn is_zero(&self) -> bool {
        *self == Acc::default()
    }
}

/// Units sold and net line revenue in fen.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ProductAcc {
    pub quantity: i64,
    pub revenue: i64,
}

impl ProductAcc {
    pub fn add(&mut self, by: ProductAcc) {
        self.quantity += by.quantity;
        self.revenue += by.revenue;
    }

    pub fn is_zero(&self) -> bool {
        *self == ProductAcc::default()
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StoreInfo {
    pub name: String,
    pub city: String,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ProductInfo {
    pub name: String,
    pub category_id: String,
    pub category_name: String,
}

/// What a batch of events adds to one projection's rows, coalesced per row key.
///
/// Every figure Portrait serves is a sum over such rows, so a retraction is a
/// subtraction and events commute: applying each event exactly once, in any
/// order, yields the figures of the latest accepted versions.
pub trait Fold: Default {
    /// Adds (`sign` = 1) or retracts (`sign` = -1) one order version.
    fn add(&mut self, calendar: &Calendar, order: &Order, sign: i64);

    /// Retracts the previous version and applies the new one.
    fn apply(&mut self, calendar: &Calendar, event: &OrderEvent) {
        if let Some(previous) = &event.previous {
            self.add(calendar, previous, -1);
        }
        if let Some(order) = &event.order {
            self.add(calendar, order, 1);
        }
    }
}

/// Per-customer day rows and the stores' latest names; what every consumer keeps.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CustomerDays {
    /// (customer, store, day); anonymous orders are left out.
    pub rows: BTreeMap<(String, String, Day), Acc>,
    /// Latest names seen in the batch; descriptive only, never summed.
    pub stores: BTreeMap<String, StoreInfo>,
}

impl Fold for CustomerDays {
    fn add(&mut self, calendar: &Calendar, order: &Order, sign: i64) {
        if sign > 0 {
            self.stores.insert(
                order.store_id.clone(),
                StoreInfo {
                    name: order.store_name.clone(),
                    city: order.city.clone(),
                },
            );
        }
        if order.customer_id.is_empty() {
            return;
        }
        let day = calendar.day(order.placed_at_ms);
        self.rows
            .entry((order.customer_id.clone(), order.store_id.clone(), day))
            .or_default()
            .add(signed(order, sign));
    }
}

impl CustomerDays {
    /// Drops rows whose changes cancelled out within the batch: nothing to write.
    pub fn prune(&mut self) {
        self.rows.retain(|_, a| !a.is_zero());
    }
}

/// Store-day figures the profiler serves: hours, channels, products and categories.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StoreDays {
    /// (store, day, local hour); every order, anonymous ones included.
    pub hours: BTreeMap<(String, Day, u8), Acc>,
    /// (store, day, channel number).
    pub channels: BTreeMap<(String, Day, i32), Acc>,
    /// (store, day, product).
    pub products: BTreeMap<(String, Day, String), ProductAcc>,
    /// (store, day, category) as each line says at the time of the order, so a
    /// product that moves category keeps its past sales where they were.
    pub categories: BTreeMap<(String, Day, String), ProductAcc>,
    /// Latest product names seen in the batch; descriptive only.
    pub product_info: BTreeMap<String, ProductInfo>,
    /// Latest category names seen in the batch; descriptive only.
    pub category_names: BTreeMap<String, String>,
}

impl Fold for StoreDays {
    fn add(&mut self, calendar: &Calendar, order: &Order, sign: i64) {
        let (day, hour) = calendar.day_hour(order.placed_at_ms);
        let store = &order.store_id;
        let one = signed(order, sign);
        self.hours
            .entry((store.clone(), day, hour))
            .or_default()
            .add(one);
        self.channels
            .entry((store.clone(), day, order.channel))
            .or_default()
            .add(one);
        for line in &order.lines {
            if sign > 0 {
                self.category_names
                    .insert(line.category_id.clone(), line.category_name.clone());
                self.product_info.insert(
                    line.product_id.clone(),
                    ProductInfo {
                        name: line.product_name.clone(),
                        category_id: line.category_id.clone(),
                        category_name: line.category_name.clone(),
                    },
                );
            }
            let sold = ProductAcc {
                quantity: sign * line.quantity,
                revenue: sign * line.net_amount_fen,
            };
            self.products
                .entry((store.clone(), day, line.product_id.clone()))
                .or_default()
                .add(sold);
            self.categories
                .entry((store.clone(), day, line.category_id.clone()))
                .or_default()
                .add(sold);
        }
    }
}

impl StoreDays {
    pub fn prune(&mut self) {
        self.hours.retain(|_, a| !a.is_zero());
        self.channels.retain(|_, a| !a.is_zero());
        self.products.retain(|_, a| !a.is_zero());
        self.categories.retain(|_, a| !a.is_zero());
    }
}

/// Two folds fed the same events, for a projection that keeps both.
impl<A: Fold, B: Fold> Fold for (A, B) {
    fn add(&mut self, calendar: &Calendar, order: &Order, sign: i64) {
        self.0.add(calendar, order, sign);
        self.1.add(calendar, order, sign);
    }

    // Each part sees the whole event: a part may read more of it than the
    // two versions (`RefundDays`).
    fn apply(&mut self, calendar: &Calendar, event: &OrderEvent) {
        self.0.apply(calendar, event);
        self.1.apply(calendar, event);
    }
}

/// Three folds fed the same events.
impl<A: Fold, B: Fold, C: Fold> Fold for (A, B, C) {
    fn add(&mut self, calendar: &Calendar, order: &Order, sign: i64) {
        self.0.add(calendar, order, sign);
        self.1.add(calendar, order, sign);
        self.2.add(calendar, order, sign);
    }

    fn apply(&mut self, calendar: &Calendar, event: &OrderEvent) {
        self.0.apply(calendar, event);
        self.1.apply(calendar, event);
        self.2.apply(calendar, event);
    }
}

/// Four folds fed the same events.
impl<A: Fold, B: Fold, C: Fold, D: Fold> Fold for (A, B, C, D) {
    fn add(&mut self, calendar: &Calendar, order: &Order, sign: i64) {
        self.0.add(calendar, order, sign);
        self.1.add(calendar, order, sign);
        self.2.add(calendar, order, sign);
        self.3.add(calendar, order, sign);
    }

    fn apply(&mut self, calendar: &Calendar, event: &OrderEvent) {
        self.0.apply(calendar, event);
        self.1.apply(calendar, event);
        self.2.apply(calendar, event);
        self.3.apply(calendar, event);
    }
}

/// Five folds fed the same events.
impl<A: Fold, B: Fold, C: Fold, D: Fold, E: Fold> Fold for (A, B, C, D, E) {
    fn add(&mut self, calendar: &Calendar, order: &Order, sign: i64) {
        self.0.add(calendar, order, sign);
        self.1.add(calendar, order, sign);
        self.2.add(calendar, order, sign);
        self.3.add(calendar, order, sign);
        self.4.add(calendar, order, sign);
    }

    fn apply(&mut self, calendar: &Calendar, event: &OrderEvent) {
        self.0.apply(calendar, event);
        self.1.apply(calendar, event);
        self.2.apply(calendar, event);
        self.3.apply(calendar, event);
        self.4.apply(calendar, event);
    }
}

fn signed(order: &Order, sign: i64) -> Acc {
    Acc {
        orders: sign,
        revenue: sign * order.net_amount_fen,
    }
}

/// Baskets per store over all history: orders with at least one line, those
/// holding each product, and those holding each pair of products. Kept per
/// store rather than per (store, day): at the bench's scale a day grain would
/// be one row per pair occurrence (~12M rows), the store grain is ~120k
/// (docs/architecture.md §3, "Associations").
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BasketPairs {
    /// store → baskets.
    pub baskets: BTreeMap<String, i64>,
    /// (store, product) → baskets holding it.
    pub products: BTreeMap<(String, String), i64>,
    /// (store, a, b) with a < b in byte order → baskets holding both.
    pub pairs: BTreeMap<(String, String, String), i64>,
}

impl Fold for BasketPairs {
    fn add(&mut self, _calendar: &Calendar, order: &Order, sign: i64) {
        // A product on several lines is still one product of the basket;
        // quantities do not matter, only presence.
        let mut items: Vec<&str> = order.lines.iter().map(|l| l.product_id.as_str()).collect();
        items.sort_unstable();
        items.dedup();
        if items.is_empty() {
            return;
        }
        let store = &order.store_id;
        *self.baskets.entry(store.clone()).or_default() += sign;
        for (i, a) in items.iter().enumerate() {
            *self
                .products
                .entry((store.clone(), (*a).to_owned()))
                .or_default() += sign;
            for b in &items[i + 1..] {
                *self
                    .pairs
                    .entry((store.clone(), (*a).to_owned(), (*b).to_owned()))
                    .or_default() += sign;
            }
        }
    }
}

impl BasketPairs {
    pub fn prune(&mut self) {
        self.baskets.retain(|_, n| *n != 0);
        self.products.retain(|_, n| *n != 0);
        self.pairs.retain(|_, n| *n != 0);
    }
}

#[cfg(test)]
mod basket_tests;

mod refunds;
pub use refunds::{RefundAcc, RefundDays};
