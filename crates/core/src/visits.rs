//! One customer's orders as the profiler keeps them for the customer portrait:
//! each order with its hour and channel, and the products and categories the
//! customer bought per day and store. Rows are sums, so retraction subtracts.

use std::collections::BTreeMap;

use portrait_proto::v1::Order;

use crate::{Acc, Calendar, Day, Fold};

/// Units, net revenue, and the orders that contained the item.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ItemAcc {
    pub orders: i64,
    pub quantity: i64,
    pub revenue: i64,
}

impl ItemAcc {
    pub fn add(&mut self, by: ItemAcc) {
        self.orders += by.orders;
        self.quantity += by.quantity;
        self.revenue += by.revenue;
    }

    pub fn is_zero(&self) -> bool {
        *self == ItemAcc::default()
    }
}

/// Key of a customer's order row: (day, store, customer, order, local hour,
/// channel number). Day first, like every day-grain table, so a batch writes
/// at the right edge of the tree.
pub type VisitKey = (Day, String, String, String, u8, i32);

/// Key of a customer's item row: (day, store, customer, product or category).
pub type ItemKey = (Day, String, String, String);

/// The customer-portrait rows of a batch; anonymous orders are left out.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CustomerVisits {
    /// One row per order version: +1 / -1 and its net amount. An order whose
    /// hour or channel changed leaves its old row at zero and adds a new one.
    pub orders: BTreeMap<VisitKey, Acc>,
    /// Per product: an order counts once however many lines name it.
    pub products: BTreeMap<ItemKey, ItemAcc>,
    /// Per category as each line named it when the order was placed.
    pub categories: BTreeMap<ItemKey, ItemAcc>,
}

impl Fold for CustomerVisits {
    fn add(&mut self, calendar: &Calendar, order: &Order, sign: i64) {
        if order.customer_id.is_empty() {
            return;
        }
        let (day, hour) = calendar.day_hour(order.placed_at_ms);
        let key = |item: &str| {
            (
                day,
                order.store_id.clone(),
                order.customer_id.clone(),
                item.to_owned(),
            )
        };
        self.orders
            .entry((
                day,
                order.store_id.clone(),
                order.customer_id.clone(),
                order.order_id.clone(),
                hour,
                order.channel,
            ))
            .or_default()
            .add(Acc {
                orders: sign,
                revenue: sign * order.net_amount_fen,
            });
        let mut products: BTreeMap<&str, ItemAcc> = BTreeMap::new();
        let mut categories: BTreeMap<&str, ItemAcc> = BTreeMap::new();
        for line in &order.lines {
            let sold = ItemAcc {
                orders: 0,
                quantity: sign * line.quantity,
                revenue: sign * line.net_amount_fen,
            };
            products.entry(&line.product_id).or_default().add(sold);
            categories.entry(&line.category_id).or_default().add(sold);
        }
        for (items, into) in [
            (products, &mut self.products),
            (categories, &mut self.categories),
        ] {
            for (item, mut acc) in items {
                acc.orders = sign;
                into.entry(key(item)).or_default().add(acc);
            }
        }
    }
}

impl CustomerVisits {
    /// Drops rows whose changes cancelled out within the batch.
    pub fn prune(&mut self) {
        self.orders.retain(|_, a| !a.is_zero());
        self.products.retain(|_, a| !a.is_zero());
        self.categories.retain(|_, a| !a.is_zero());
    }
}

/// Keeps the kind prefix (`vip:`, `wx:`, `tel:`) and two characters at each
/// end of the rest; shorter rests are masked whole.
pub fn mask_customer_id(id: &str) -> String {
    let (kind, rest) = match id.split_once(':') {
        Some((kind, rest)) => (&id[..=kind.len()], rest),
        None => ("", id),
    };
    let chars: Vec<char> = rest.chars().collect();
    if chars.len() <= 4 {
        return format!("{kind}{}", "*".repeat(chars.len()));
    }
    let head: String = chars[..2].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{kind}{head}****{tail}")
}

#[cfg(test)]
mod tests {
    use portrait_proto::v1::{OrderEvent, OrderLine};

    use super::*;

    fn line(product: &str, category: &str, quantity: i64, fen: i64) -> OrderLine {
        OrderLine {
            product_id: product.into(),
            category_id: category.into(),
            quantity,
            net_amount_fen: fen,
            ..OrderLine::default()
        }
    }

    fn order(customer: &str, hour_ms: i64, lines: Vec<OrderLine>) -> Order {
        Order {
            order_id: "o1".into(),
            customer_id: customer.into(),
            store_id: "s1".into(),
            channel: 2,
            placed_at_ms: hour_ms,
            net_amount_fen: lines.iter().map(|l| l.net_amount_fen).sum(),
            lines,
            ..Order::default()
        }
    }

    #[test]
    fn masks_keep_the_kind_and_the_ends() {
        assert_eq!(mask_customer_id("vip:12345678"), "vip:12****78");
        assert_eq!(mask_customer_id("wx:oAbc"), "wx:****");
        assert_eq!(mask_customer_id("abcdef"), "ab****ef");
        assert_eq!(mask_customer_id("tel:"), "tel:");
    }

    #[test]
    fn an_order_counts_once_per_product_and_category() {
        let cal = Calendar::default();
        let o = order(
            "c1",
            3_600_000,
            vec![
                line("p1", "k1", 2, 300),
                line("p1", "k1", 1, 100),
                line("p2", "k1", 1, 50),
            ],
        );
        let mut v = CustomerVisits::default();
        v.add(&cal, &o, 1);
        let p1 = v.products[&(0, "s1".into(), "c1".into(), "p1".into())];
        assert_eq!((p1.orders, p1.quantity, p1.revenue), (1, 3, 400));
        let k1 = v.categories[&(0, "s1".into(), "c1".into(), "k1".into())];
        assert_eq!((k1.orders, k1.quantity, k1.revenue), (1, 4, 450));
        let key = (0, "s1".into(), "c1".into(), "o1".into(), 1, 2);
        assert_eq!(
            v.orders[&key],
            Acc {
                orders: 1,
                revenue: 450
            }
        );
    }

    #[test]
    fn a_changed_resend_moves_the_order_and_retraction_empties_it() {
        let cal = Calendar::default();
        let first = order("c1", 0, vec![line("p1", "k1", 1, 100)]);
        let second = order("c1", 7_200_000, vec![line("p2", "k2", 1, 80)]);
        let mut v = CustomerVisits::default();
        v.apply(
            &cal,
            &OrderEvent {
                order_id: "o1".into(),
                revision: 1,
                order: Some(first.clone()),
                ..Default::default()
            },
        );
        v.apply(
            &cal,
            &OrderEvent {
                order_id: "o1".into(),
                revision: 2,
                order: Some(second.clone()),
                previous: Some(first),
                ..Default::default()
            },
        );
        v.prune();
        assert_eq!(v.orders.len(), 1);
        assert!(v.orders.keys().all(|k| k.4 == 2));
        assert_eq!(v.products.len(), 1);
        v.add(&cal, &second, -1);
        v.prune();
        assert!(v.orders.is_empty() && v.products.is_empty() && v.categories.is_empty());
        v.add(&cal, &order("", 0, vec![line("p1", "k1", 1, 1)]), 1);
        assert!(v.orders.is_empty(), "anonymous orders have no portrait");
    }
}
