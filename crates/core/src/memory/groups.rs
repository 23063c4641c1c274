//! The customers of groups of stores (cities, stores): who they are, what they
//! bought and how recently, for the portrait summary and its drill-down.

use crate::memory::{CustomerBook, Selection, Tag};
use crate::{Acc, Day};

/// One group's customers inside a filter, as exact integer sums.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct GroupFigures {
    /// Distinct customers with an order at the group's stores inside the filter.
    pub customers: i64,
    /// Their orders and net spend there inside the filter.
    pub orders: i64,
    pub revenue: i64,
    /// Sum over them of (as_of − their last order day there).
    pub recency_days: i64,
    /// Their net spend there on all days before the filter's end.
    pub spend_before_end: i64,
    /// How many of them have a predicted CLV, and its sum over them.
    pub scored: i64,
    pub predicted_clv: f64,
}

/// A customer's figures at one group while their rows are visited.
#[derive(Clone, Copy)]
struct Seen {
    group: usize,
    inside: Acc,
    last: Day,
    before_end: i64,
}

impl CustomerBook {
    /// Per group, and for all selected stores together, the figures of the
    /// customers with orders at the selected stores in `[from, to)`.
    /// `group_of(customer, store, tag)` names a row's group (`None`: not
    /// counted in any): by store for cities and stores, by customer for
    /// segments and clusters, by tag for what a tagged book's orders share
    /// (a row whose orders differ counts its part in each tag's group).
    /// `clv(customer)` is a customer's predicted CLV, if any.
    pub fn group_figures(
        &self,
        sel: &Selection,
        (from, to, as_of): (Option<Day>, Day, Day),
        groups: usize,
        group_of: impl Fn(u32, u32, Tag) -> Option<usize>,
        clv: impl Fn(u32) -> Option<f64>,
    ) -> (GroupFigures, Vec<GroupFigures>) {
        let mut out = vec![GroupFigures::default(); groups];
        let mut total = GroupFigures::default();
        let mut seen: Vec<Seen> = Vec::new();
        for c in self.candidates(sel) {
            seen.clear();
            // The whole selection is one more group, at index `groups`.
            self.tagged_rows(c, None, |day, store, tag, acc| {
                if acc.orders <= 0 || day >= to || !sel.contains(store) {
                    return;
                }
                let inside = from.is_none_or(|f| day >= f);
                for g in [group_of(c, store, tag), Some(groups)]
                    .into_iter()
                    .flatten()
                {
                    let i = match seen.iter().position(|s| s.group == g) {
                        Some(i) => i,
                        None => {
                            seen.push(Seen {
                                group: g,
                                inside: Acc::default(),
                                last: Day::MIN,
                                before_end: 0,
                            });
                            seen.len() - 1
                        }
                    };
                    let s = &mut seen[i];
                    s.before_end += acc.revenue;
                    if inside {
                        s.inside.add(acc);
                        s.last = s.last.max(day);
                    }
                }
            });
            let predicted = clv(c);
            for s in seen.iter().filter(|s| s.inside.orders > 0) {
                let g = if s.group == groups {
                    &mut total
                } else {
                    &mut out[s.group]
                };
                g.customers += 1;
                g.orders += s.inside.orders;
                g.revenue += s.inside.revenue;
                g.recency_days += i64::from(as_of - s.last);
                g.spend_before_end += s.before_end;
                if let Some(v) = predicted {
                    g.scored += 1;
                    g.predicted_clv += v;
                }
            }
        }
        (total, out)
    }
}

#[cfg(test)]
mod tests {
    use crate::Acc;
    use crate::memory::{CustomerBook, Selection, Tag};

    fn acc(orders: i64, revenue: i64) -> Acc {
        Acc { orders, revenue }
    }

    #[test]
    fn customers_count_once_per_group_and_once_in_total() {
        let mut book = CustomerBook::default();
        // Stores 0 and 1 in group 0, store 2 in group 1.
        book.add("a", 0, 10, acc(1, 100));
        book.add("a", 1, 12, acc(2, 50));
        book.add("a", 2, 5, acc(1, 70));
        book.add("b", 2, 11, acc(1, 30));
        book.add("b", 2, 20, acc(1, 999));
        let group = |_: u32, s: u32, _| Some(if s < 2 { 0 } else { 1 });
        let clv = |c: u32| (c == 0).then_some(1.5);
        let span = (Some(10), 20, 19);
        let (total, groups) = book.group_figures(&Selection::All, span, 2, group, clv);
        assert_eq!((total.customers, total.orders, total.revenue), (2, 4, 180));
        // a: last 12 → 7; b: last 11 → 8.
        assert_eq!(total.recency_days, 15);
        // a: 100 + 50 + 70; b: 30.
        assert_eq!(total.spend_before_end, 250);
        assert_eq!(groups[0].customers, 1);
        assert_eq!(
            (groups[0].orders, groups[0].revenue, groups[0].recency_days),
            (3, 150, 7)
        );
        // a's store-2 order is before `from`: only b counts there.
        assert_eq!((groups[1].customers, groups[1].spend_before_end), (1, 30));
        // Only a (dense id 0) is scored: in the total and in group 0.
        assert_eq!((total.scored, total.predicted_clv), (1, 1.5));
        assert_eq!((groups[0].scored, groups[1].scored), (1, 0));
    }

    /// By tag, a row whose orders differ counts each part in its tag's
    /// group; its customer counts once in each group and once in total.
    #[test]
    fn a_mixed_row_counts_its_parts_in_their_groups() {
        let mut book = CustomerBook::tagged();
        let (one, two) = (Tag::new(1), Tag::new(2));
        let (Some(one), Some(two)) = (one, two) else {
            panic!("tags 1 and 2 exist");
        };
        book.add_tagged("a", 0, 10, acc(1, 100), one);
        book.add_tagged("a", 0, 10, acc(1, 40), two);
        book.add_tagged("a", 0, 12, acc(1, 7), one);
        book.add_tagged("b", 0, 11, acc(1, 30), one);
        assert_eq!(book.mixed_rows(), 1);
        let group = |_: u32, _: u32, t: Tag| t.value().map(|v| usize::from(v) - 1);
        let span = (None, 20, 19);
        let (total, groups) = book.group_figures(&Selection::All, span, 2, group, |_| None);
        assert_eq!((total.customers, total.orders, total.revenue), (2, 4, 177));
        assert_eq!(
            (groups[0].customers, groups[0].orders, groups[0].revenue),
            (2, 3, 137)
        );
        assert_eq!(
            (groups[1].customers, groups[1].orders, groups[1].revenue),
            (1, 1, 40)
        );
        // a's last order of tag 2 was on day 10: 19 − 10.
        assert_eq!(groups[1].recency_days, 9);
        // a's last of tag 1 on day 12, b's on day 11: 7 + 8.
        assert_eq!(groups[0].recency_days, 15);
    }
}
