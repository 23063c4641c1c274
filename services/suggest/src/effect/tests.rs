//! The effect figures against a plain recompute over the rows as they were
//! added, on a book large enough to time (printed, never asserted).

use std::sync::Mutex;
use std::time::Instant;

use portrait_core::Acc;
use portrait_core::memory::CustomerBook;

use super::{Adoption, Expected, Resolved, answer, is_control};

/// A fixed pseudo-random stream (xorshift64*), so the test is repeatable.
struct Stream(u64);

impl Stream {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) % below
    }
}

#[test]
fn group_figures_equal_a_plain_recompute() {
    const CUSTOMERS: usize = 100_000;
    let (start, window) = (100, 30);
    let mut book = CustomerBook::default();
    let mut rng = Stream(0x9e37_79b9_7f4a_7c15);
    // Per customer, (orders, revenue) on the window's days, summed as added.
    let mut plain = vec![(0i64, 0i64); CUSTOMERS];
    let names: Vec<String> = (0..CUSTOMERS).map(|c| format!("c{c:06}")).collect();
    for (c, name) in names.iter().enumerate() {
        for _ in 0..rng.next(8) {
            let day = 60 + rng.next(90) as i32;
            let store = rng.next(4) as u32;
            let acc = Acc {
                orders: 1 + rng.next(2) as i64,
                revenue: rng.next(10_000) as i64,
            };
            book.add(name, store, day, acc);
            // Some rows retracted whole: they count nowhere.
            let retracted = rng.next(10) == 0;
            if retracted {
                book.add(
                    name,
                    store,
                    day,
                    Acc {
                        orders: -acc.orders,
                        revenue: -acc.revenue,
                    },
                );
            } else if (start..start + window).contains(&day) {
                plain[c].0 += acc.orders;
                plain[c].1 += acc.revenue;
            }
        }
    }
    book.compact();
    let id = "churn:all";
    let hashed = Instant::now();
    let members: Vec<(u32, bool)> = (names.iter())
        .map(|n| {
            (
                book.customers().get(n).unwrap_or(u32::MAX),
                is_control(id, n, 10),
            )
        })
        .filter(|(c, _)| *c != u32::MAX)
        .collect();
    let hashed = hashed.elapsed();
    let adoption = Adoption {
        id: id.into(),
        kind: "SUGGESTION_TYPE_CHURN_WARNING".into(),
        title: String::new(),
        adopted_at_ms: 1,
        adopted_day: start,
        window_days: window,
        control_percent: 10,
        expected: Expected {
            reached: CUSTOMERS as i64,
            ..Expected::default()
        },
        dismissed_at_ms: 0,
        treated: 0,
        control: 0,
        resolved: Mutex::default(),
    };
    let resolved = Resolved {
        incarnation: 0,
        known: CUSTOMERS,
        members,
        unresolved: [0, 2],
    };
    let computed = Instant::now();
    let e = answer::effect(&book, &adoption, &resolved);
    let computed = computed.elapsed();
    println!(
        "effect of {} members ({} customers in the book): {:?}; control hash of {CUSTOMERS} members: {hashed:?}",
        resolved.members.len(),
        book.customers().len(),
        computed
    );
    for (control, group) in [(false, e.treated), (true, e.control)] {
        let group = group.unwrap_or_default();
        let mut want = (0i64, 0i64, 0i64, 0i64);
        for (c, n) in names.iter().enumerate() {
            if is_control(id, n, 10) != control || book.customers().get(n).is_none() {
                continue;
            }
            let (orders, revenue) = plain[c];
            want = (
                want.0 + 1,
                want.1 + i64::from(orders > 0),
                want.2 + orders,
                want.3 + revenue,
            );
        }
        // The two unresolved control members count with no order.
        want.0 += 2 * i64::from(control);
        assert_eq!(
            (
                group.customers,
                group.responders,
                group.orders,
                group.revenue_fen
            ),
            want,
            "control = {control}"
        );
    }
}
