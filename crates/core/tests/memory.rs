//! The in-memory customer book against a naive model: a map of rows summed
//! by brute force, under random adds (retractions and transient negative rows
//! included), compactions and filters.

use std::collections::BTreeMap;

use portrait_core::memory::{BookLoader, CustomerBook, Reach, Selection};
use portrait_core::{Acc, CustomerAgg};
use proptest::prelude::*;

type Rows = BTreeMap<(u32, u32, i32), Acc>;

fn naive_agg(
    rows: &Rows,
    c: u32,
    mask: &[bool],
    from: Option<i32>,
    to: i32,
) -> Option<CustomerAgg> {
    let mut out: Option<CustomerAgg> = None;
    for (&(rc, s, d), a) in rows {
        if rc != c || a.orders <= 0 || d >= to || from.is_some_and(|f| d < f) || !mask[s as usize] {
            continue;
        }
        let o = out.get_or_insert(CustomerAgg {
            customer: c,
            orders: 0,
            revenue: 0,
            first_day: d,
            last_day: d,
        });
        o.orders += a.orders;
        o.revenue += a.revenue;
        o.first_day = o.first_day.min(d);
        o.last_day = o.last_day.max(d);
    }
    out
}

fn naive_reach(rows: &Rows, customers: u32, mask: &[bool], from: Option<i32>, to: i32) -> Reach {
    let mut r = Reach::default();
    for c in 0..customers {
        if naive_agg(rows, c, mask, None, to).is_some() {
            r.total += 1;
        }
        if naive_agg(rows, c, mask, from, to).is_some() {
            r.active += 1;
            r.active_spend += naive_agg(rows, c, mask, None, to).map_or(0, |a| a.revenue);
        }
    }
    r
}

#[derive(Debug, Clone)]
enum Step {
    Add(u32, u32, i32, i64, i64),
    Compact,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => (0u32..6, 0u32..3, 0i32..12, -2i64..3, -50i64..100)
            .prop_map(|(c, s, d, o, r)| Step::Add(c, s, d, o, r)),
        1 => Just(Step::Compact),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn book_equals_brute_force(steps in prop::collection::vec(step(), 1..80),
                               mask in prop::collection::vec(any::<bool>(), 3),
                               from in prop::option::of(0i32..12), len in 1i32..14) {
        let mut book = CustomerBook::default();
        let mut rows = Rows::new();
        for s in &steps {
            match *s {
                Step::Add(c, st, d, o, r) => {
                    let acc = Acc { orders: o, revenue: r };
                    book.add(&format!("c{c}"), st, d, acc);
                    rows.entry((c, st, d)).or_default().add(acc);
                }
                Step::Compact => book.compact(),
            }
        }
        // What the table would hold, bulk-loaded day first (the table's key
        // order) and in reverse: the same answers as the incremental book.
        let mut by_day: Vec<_> = rows.iter().collect();
        by_day.sort_by_key(|((c, st, d), _)| (*d, *st, *c));
        let mut loaded = Vec::new();
        for order in [by_day.clone(), by_day.into_iter().rev().collect()] {
            let mut l = BookLoader::default();
            for ((c, st, d), acc) in order {
                l.push(&format!("c{c}"), *st, *d, *acc);
            }
            loaded.push(l.finish());
        }
        let to = from.unwrap_or(0) + len;
        for book in std::iter::once(&book).chain(&loaded) {
            // Book ids follow first appearance; the model uses the names' digits.
            let ids: BTreeMap<u32, u32> = book
                .customers()
                .sorted()
                .map(|(name, id)| (id, name[1..].parse().unwrap()))
                .collect();
            for (sel, m) in [(Selection::All, vec![true; 3]), (Selection::Only(mask.clone()), mask.clone())] {
                let got: Vec<CustomerAgg> = book
                    .aggs(&sel, from, to)
                    .into_iter()
                    .map(|a| CustomerAgg { customer: ids[&a.customer], ..a })
                    .collect();
                let mut want: Vec<CustomerAgg> =
                    (0..6).filter_map(|c| naive_agg(&rows, c, &m, from, to)).collect();
                let mut got = got;
                got.sort_by_key(|a| a.customer);
                want.sort_by_key(|a| a.customer);
                prop_assert_eq!(got, want);
                prop_assert_eq!(book.reach(&sel, from, to), naive_reach(&rows, 6, &m, from, to));
            }
        }
    }
}
