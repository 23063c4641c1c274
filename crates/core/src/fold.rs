use std::collections::BTreeMap;

use portrait_proto::v1::{Order, OrderEvent};

use crate::{Calendar, Day};

/// Orders and net revenue in fen.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Acc {
    pub orders: i64,
    pub revenue: i64,
}

/// Units sold and net line revenue in fen.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ProductAcc {
    pub quantity: i64,
    pub revenue: i64,
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

/// What a batch of events adds to the day-grain tables, coalesced per row key.
///
/// Every figure Portrait serves is a sum over these rows, so a retraction is a
/// subtraction and events commute: applying each event exactly once, in any
/// order, yields the figures of the latest accepted versions.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Deltas {
    /// (customer, store, day); anonymous orders are left out.
    pub customer_days: BTreeMap<(String, String, Day), Acc>,
    /// (store, day, local hour); every order, anonymous ones included.
    pub hours: BTreeMap<(String, Day, u8), Acc>,
    /// (store, day, channel number).
    pub channels: BTreeMap<(String, Day, i32), Acc>,
    /// (store, day, product).
    pub products: BTreeMap<(String, Day, String), ProductAcc>,
    /// Latest names seen in the batch; descriptive only, never summed.
    pub stores: BTreeMap<String, StoreInfo>,
    pub product_info: BTreeMap<String, ProductInfo>,
}

impl Deltas {
    /// Folds one event in: retract the previous version, apply the new one.
    pub fn apply(&mut self, calendar: &Calendar, event: &OrderEvent) {
        if let Some(previous) = &event.previous {
            self.add(calendar, previous, -1);
        }
        if let Some(order) = &event.order {
            self.describe(order);
            self.add(calendar, order, 1);
        }
    }

    fn add(&mut self, calendar: &Calendar, order: &Order, sign: i64) {
        let (day, hour) = calendar.day_hour(order.placed_at_ms);
        let one = Acc {
            orders: sign,
            revenue: sign * order.net_amount_fen,
        };
        let store = &order.store_id;
        if !order.customer_id.is_empty() {
            bump(
                self.customer_days
                    .entry((order.customer_id.clone(), store.clone(), day))
                    .or_default(),
                one,
            );
        }
        bump(
            self.hours.entry((store.clone(), day, hour)).or_default(),
            one,
        );
        bump(
            self.channels
                .entry((store.clone(), day, order.channel))
                .or_default(),
            one,
        );
        for line in &order.lines {
            let acc = self
                .products
                .entry((store.clone(), day, line.product_id.clone()))
                .or_default();
            acc.quantity += sign * line.quantity;
            acc.revenue += sign * line.net_amount_fen;
        }
    }

    fn describe(&mut self, order: &Order) {
        self.stores.insert(
            order.store_id.clone(),
            StoreInfo {
                name: order.store_name.clone(),
                city: order.city.clone(),
            },
        );
        for line in &order.lines {
            self.product_info.insert(
                line.product_id.clone(),
                ProductInfo {
                    name: line.product_name.clone(),
                    category_id: line.category_id.clone(),
                    category_name: line.category_name.clone(),
                },
            );
        }
    }

    /// Drops rows whose changes cancelled out within the batch: nothing to write.
    pub fn prune(&mut self) {
        let zero = Acc::default();
        self.customer_days.retain(|_, a| *a != zero);
        self.hours.retain(|_, a| *a != zero);
        self.channels.retain(|_, a| *a != zero);
        self.products.retain(|_, a| *a != ProductAcc::default());
    }

    /// Adds another set of deltas row by row (used to keep a running total).
    pub fn merge(&mut self, other: &Deltas) {
        merge_map(&mut self.customer_days, &other.customer_days, bump);
        merge_map(&mut self.hours, &other.hours, bump);
        merge_map(&mut self.channels, &other.channels, bump);
        merge_map(&mut self.products, &other.products, |a, b| {
            a.quantity += b.quantity;
            a.revenue += b.revenue;
        });
        self.stores
            .extend(other.stores.iter().map(|(k, v)| (k.clone(), v.clone())));
        self.product_info.extend(
            other
                .product_info
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
    }
}

fn bump(acc: &mut Acc, by: Acc) {
    acc.orders += by.orders;
    acc.revenue += by.revenue;
}

fn merge_map<K: Ord + Clone, V: Default + Copy>(
    into: &mut BTreeMap<K, V>,
    from: &BTreeMap<K, V>,
    add: impl Fn(&mut V, V),
) {
    for (k, v) in from {
        add(into.entry(k.clone()).or_default(), *v);
    }
}
