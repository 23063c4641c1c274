//! One group's sums as the rows stream in, and its answer: histograms,
//! channel mix, and the top items with their lift over all selected customers.

use std::collections::HashMap;

use portrait_core::{Acc, ItemAcc};
use portrait_proto::v1::{
    Channel, GroupPattern, HourBucket, PatternChannel, PatternItem, WeekdayHourBucket,
};

/// A group's exact sums; slot 0 of `week` is Monday, of `channels` unused.
#[derive(Default)]
pub(crate) struct Sums {
    pub(crate) customers: i64,
    orders: Acc,
    hours: [Acc; 24],
    week: [[Acc; 24]; 7],
    channels: [Acc; 6],
    line_spend: i64,
    categories: HashMap<String, ItemAcc>,
    products: HashMap<String, ItemAcc>,
}

impl Sums {
    /// Orders and revenue of one (weekday slot, hour, channel); rows outside
    /// the ranges (which validation rules out) count in the totals only.
    pub(crate) fn add_order(&mut self, weekday: i64, hour: i64, channel: i64, n: i64, r: i64) {
        let acc = Acc {
            orders: n,
            revenue: r,
        };
        self.orders.add(acc);
        if let (Ok(w @ 0..=6), Ok(h @ 0..=23)) = (usize::try_from(weekday), usize::try_from(hour)) {
            self.hours[h].add(acc);
            self.week[w][h].add(acc);
        }
        if let Ok(c @ 1..=5) = usize::try_from(channel) {
            self.channels[c].add(acc);
        }
    }

    /// [orders containing it, units, net line spend] of a category or product.
    pub(crate) fn add_item(
        &mut self,
        product: bool,
        id: &str,
        [orders, quantity, revenue]: [i64; 3],
    ) {
        let acc = ItemAcc {
            orders,
            quantity,
            revenue,
        };
        let items = if product {
            // Line spend is the products' (each line names one product).
            self.line_spend += revenue;
            &mut self.products
        } else {
            &mut self.categories
        };
        match items.get_mut(id) {
            Some(a) => a.add(acc),
            None => {
                items.insert(id.to_owned(), acc);
            }
        }
    }
}

/// Names a product and a category by id.
pub(crate) type Names<'a> = (&'a dyn Fn(&str) -> String, &'a dyn Fn(&str) -> String);

/// A group's answer with its top `limit` items; `total` is every selected
/// customer's sums, the base of each item's lift. `names` names a product
/// and a category by id.
pub(crate) fn pattern(
    key: &str,
    label: &str,
    s: &Sums,
    total: &Sums,
    limit: i32,
    names: Names,
) -> GroupPattern {
    let channels = (1..)
        .map_while(|n| Channel::try_from(n).ok())
        .map(|c| {
            let a = s.channels.get(c as usize).copied().unwrap_or_default();
            PatternChannel {
                channel: c as i32,
                orders: a.orders,
                spend_fen: a.revenue,
                order_share: ratio(a.orders, s.orders.orders),
            }
        })
        .collect();
    let top = |items: &HashMap<String, ItemAcc>,
               all: &HashMap<String, ItemAcc>,
               name: &dyn Fn(&str) -> String| {
        top_items(items, s.line_spend, all, total.line_spend, limit)
            .into_iter()
            .map(|mut i| {
                i.name = name(&i.id);
                i
            })
            .collect()
    };
    GroupPattern {
        key: key.to_owned(),
        label: label.to_owned(),
        customers: s.customers,
        orders: s.orders.orders,
        spend_fen: s.orders.revenue,
        hours: (0..)
            .zip(&s.hours)
            .map(|(hour, a)| HourBucket {
                hour,
                orders: a.orders,
                revenue_fen: a.revenue,
            })
            .collect(),
        weekday_hours: (1..)
            .zip(&s.week)
            .flat_map(|(weekday, hours)| {
                (0..).zip(hours).map(move |(hour, a)| WeekdayHourBucket {
                    weekday,
                    hour,
                    orders: a.orders,
                    revenue_fen: a.revenue,
                })
            })
            .collect(),
        channels,
        line_spend_fen: s.line_spend,
        categories: top(&s.categories, &total.categories, names.1),
        products: top(&s.products, &total.products, names.0),
    }
}

/// The `limit` items of most spend (ties by id, byte order), each with its
/// share of the group's line spend, the same share over everyone, and the
/// lift = share / everyone's share (0 when everyone's share is 0).
fn top_items(
    items: &HashMap<String, ItemAcc>,
    line_spend: i64,
    all: &HashMap<String, ItemAcc>,
    all_line_spend: i64,
    limit: i32,
) -> Vec<PatternItem> {
    let mut list: Vec<(&String, &ItemAcc)> = items.iter().collect();
    list.sort_by(|(a, x), (b, y)| y.revenue.cmp(&x.revenue).then_with(|| a.cmp(b)));
    list.truncate(usize::try_from(limit).unwrap_or(0));
    (list.into_iter())
        .map(|(id, a)| {
            let spend_share = ratio(a.revenue, line_spend);
            let everyone = all.get(id).map_or(0, |a| a.revenue);
            let all_share = ratio(everyone, all_line_spend);
            PatternItem {
                id: id.clone(),
                name: String::new(),
                orders: a.orders,
                quantity: a.quantity,
                spend_fen: a.revenue,
                spend_share,
                all_share,
                lift: if all_share > 0.0 {
                    spend_share / all_share
                } else {
                    0.0
                },
            }
        })
        .collect()
}

fn ratio(part: i64, whole: i64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sums(items: &[(&str, i64)]) -> Sums {
        let mut s = Sums::default();
        for (id, spend) in items {
            s.add_item(true, id, [1, 2, *spend]);
        }
        s
    }

    #[test]
    fn lift_is_the_groups_share_over_everyones() {
        // The group spends 75 of 100 on a; everyone 100 of 400.
        let group = sums(&[("a", 75), ("b", 25)]);
        let all = sums(&[("a", 100), ("b", 200), ("c", 100)]);
        let none = |_: &str| String::new();
        let p = pattern("k", "l", &group, &all, 10, (&none, &none));
        let a = &p.products[0];
        assert_eq!((a.id.as_str(), a.spend_fen, a.quantity), ("a", 75, 2));
        assert_eq!((a.spend_share, a.all_share, a.lift), (0.75, 0.25, 3.0));
        let b = &p.products[1];
        assert_eq!((b.spend_share, b.all_share, b.lift), (0.25, 0.5, 0.5));
        assert_eq!(p.line_spend_fen, 100);
    }

    #[test]
    fn items_rank_by_spend_then_id_and_stop_at_the_limit() {
        let s = sums(&[("b", 5), ("a", 5), ("c", 9), ("d", 1)]);
        let none = |_: &str| String::new();
        let p = pattern("", "", &s, &s, 3, (&none, &none));
        let ids: Vec<&str> = p.products.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["c", "a", "b"]);
        assert!(p.products.iter().all(|i| i.lift == 1.0));
    }

    #[test]
    fn orders_fill_hours_weekdays_and_channels() {
        let mut s = Sums::default();
        s.add_order(0, 12, 2, 3, 300);
        s.add_order(6, 12, 1, 1, 50);
        let none = |_: &str| String::new();
        let p = pattern("", "", &s, &s, 3, (&none, &none));
        assert_eq!((p.orders, p.spend_fen), (4, 350));
        assert_eq!((p.hours[12].orders, p.hours[12].revenue_fen), (4, 350));
        assert_eq!(p.weekday_hours.len(), 168);
        // Monday noon, then Sunday noon.
        assert_eq!(p.weekday_hours[12].orders, 3);
        assert_eq!(p.weekday_hours[12].weekday, 1);
        assert_eq!(p.weekday_hours[6 * 24 + 12].orders, 1);
        assert_eq!(p.channels.len(), 5);
        assert_eq!(p.channels[1].order_share, 0.75);
        assert_eq!(p.channels[0].spend_fen, 50);
    }
}
