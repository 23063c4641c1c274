use crate::memory::{Interner, Selection};
use crate::{Acc, CustomerAgg, Day};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Row {
    day: Day,
    store: u32,
    acc: Acc,
}

/// Every customer's (store, day) rows in memory: the exact base of the
/// distinct-customer figures and of RFM for any store set and day range.
///
/// Rows are kept sorted by (day, store) per customer and never removed (a
/// fully retracted row stays at zero), so `by_store` never lists a customer
/// twice. Only rows with orders > 0 count as presence, as in the SQL tables.
#[derive(Debug, Default, Clone)]
pub struct CustomerBook {
    ids: Interner,
    rows: Vec<Vec<Row>>,
    by_store: Vec<Vec<u32>>,
}

/// Distinct customers of a filter and the spend of the active ones.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reach {
    /// With an order at the stores before the range's end.
    pub total: i64,
    /// With an order inside the range.
    pub active: i64,
    /// The active customers' net spend at the stores before the range's end.
    pub active_spend: i64,
}

impl CustomerBook {
    /// Adds `acc` to the (customer, store, day) row.
    pub fn add(&mut self, customer: &str, store: u32, day: Day, acc: Acc) {
        let c = self.ids.intern(customer) as usize;
        if c >= self.rows.len() {
            self.rows.resize_with(c + 1, Vec::new);
        }
        let rows = &mut self.rows[c];
        match rows.binary_search_by_key(&(day, store), |r| (r.day, r.store)) {
            Ok(i) => rows[i].acc.add(acc),
            Err(i) => {
                if !rows.iter().any(|r| r.store == store) {
                    if store as usize >= self.by_store.len() {
                        self.by_store.resize_with(store as usize + 1, Vec::new);
                    }
                    self.by_store[store as usize].push(c as u32);
                }
                rows.insert(i, Row { day, store, acc });
            }
        }
    }

    pub fn customers(&self) -> &Interner {
        &self.ids
    }

    /// Customers that may have rows at the selected stores, as a mask by id.
    fn candidates(&self, sel: &Selection) -> Option<Vec<bool>> {
        let ids = sel.ids()?;
        let mut mask = vec![false; self.rows.len()];
        for s in ids {
            for &c in self.by_store.get(s as usize).map_or(&[][..], |v| v) {
                mask[c as usize] = true;
            }
        }
        Some(mask)
    }

    /// One customer's orders, spend, first and last day at the selected
    /// stores in `[from, to)`; `None` when they have no order there.
    pub fn agg(
        &self,
        customer: u32,
        sel: &Selection,
        from: Option<Day>,
        to: Day,
    ) -> Option<CustomerAgg> {
        let mut agg: Option<CustomerAgg> = None;
        for r in self.rows.get(customer as usize)?.iter() {
            if r.day >= to {
                break;
            }
            if r.acc.orders <= 0 || from.is_some_and(|f| r.day < f) || !sel.contains(r.store) {
                continue;
            }
            let a = agg.get_or_insert(CustomerAgg {
                customer,
                orders: 0,
                revenue: 0,
                first_day: r.day,
                last_day: r.day,
            });
            a.orders += r.acc.orders;
            a.revenue += r.acc.revenue;
            a.last_day = r.day;
        }
        agg
    }

    /// Every customer with an order in the filter, in customer-id order.
    pub fn aggs(&self, sel: &Selection, from: Option<Day>, to: Day) -> Vec<CustomerAgg> {
        let mask = self.candidates(sel);
        self.ids
            .sorted()
            .filter(|(_, c)| mask.as_ref().is_none_or(|m| m[*c as usize]))
            .filter_map(|(_, c)| self.agg(c, sel, from, to))
            .collect()
    }

    pub fn reach(&self, sel: &Selection, from: Option<Day>, to: Day) -> Reach {
        let mask = self.candidates(sel);
        let mut out = Reach::default();
        for (c, rows) in self.rows.iter().enumerate() {
            if mask.as_ref().is_some_and(|m| !m[c]) {
                continue;
            }
            let (mut seen, mut active, mut spend) = (false, false, 0);
            for r in rows {
                if r.day >= to {
                    break;
                }
                if !sel.contains(r.store) {
                    continue;
                }
                spend += r.acc.revenue;
                if r.acc.orders > 0 {
                    seen = true;
                    active |= from.is_none_or(|f| r.day >= f);
                }
            }
            out.total += i64::from(seen);
            if active {
                out.active += 1;
                out.active_spend += spend;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acc(orders: i64, revenue: i64) -> Acc {
        Acc { orders, revenue }
    }

    #[test]
    fn aggs_and_reach_follow_stores_days_and_retractions() {
        let mut b = CustomerBook::default();
        b.add("b", 0, 10, acc(1, 100));
        b.add("b", 1, 12, acc(2, 50));
        b.add("a", 1, 5, acc(1, 7));
        b.add("a", 1, 5, acc(-1, -7)); // retracted: zero row, no presence
        b.add("c", 0, 3, acc(1, 30));
        let all = Selection::All;
        let aggs = b.aggs(&all, None, 100);
        assert_eq!(aggs.len(), 2);
        assert_eq!(
            (
                aggs[0].orders,
                aggs[0].revenue,
                aggs[0].first_day,
                aggs[0].last_day
            ),
            (3, 150, 10, 12)
        );
        let only1 = Selection::Only(vec![false, true]);
        assert_eq!(b.aggs(&only1, None, 100).len(), 1);
        // Range [11, 100): b active; c only before the range.
        let r = b.reach(&all, Some(11), 100);
        assert_eq!(
            r,
            Reach {
                total: 2,
                active: 1,
                active_spend: 150
            }
        );
        assert_eq!(
            b.reach(&all, None, 11),
            Reach {
                total: 2,
                active: 2,
                active_spend: 130
            }
        );
    }
}
