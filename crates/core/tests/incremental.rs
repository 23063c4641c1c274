//! Random order streams with duplicates, changed re-sends and retractions, applied
//! incrementally in random batch splits and delivery orders, must equal a
//! from-scratch recompute over the final accepted orders.

use std::collections::{BTreeMap, BTreeSet};

use portrait_core::{
    Calendar, CustomerDays, Decision, Fold, Limits, RefundAcc, RefundDays, StoreDays, Stored,
    decide, is_refunded, validate_order,
};
use portrait_proto::v1::{Channel, Order, OrderEvent, OrderLine, OrderStatus};
use proptest::prelude::*;

const T0: i64 = 1_700_000_000_000;
const HOUR: i64 = 3_600_000;

#[derive(Debug, Clone)]
struct Sub {
    order: u8,
    customer: u8,
    store: u8,
    channel: u8,
    hour: u16,
    lines: Vec<(u8, u8, u16)>,
    status: u8,
}

fn sub() -> impl Strategy<Value = Sub> {
    (
        0u8..12,
        0u8..5,
        0u8..3,
        1u8..6,
        0u16..24 * 20,
        prop::collection::vec((0u8..6, 1u8..4, 0u16..5000), 1..4),
        prop::sample::select(vec![0u8, 0, 0, 0, 1, 2]),
    )
        .prop_map(
            |(order, customer, store, channel, hour, lines, status)| Sub {
                order,
                customer,
                store,
                channel,
                hour,
                lines,
                status,
            },
        )
}

fn to_order(s: &Sub) -> Order {
    let lines: Vec<OrderLine> = s
        .lines
        .iter()
        .map(|&(p, q, a)| OrderLine {
            product_id: format!("p{p}"),
            product_name: format!("product {p}"),
            category_id: format!("k{}", p % 2),
            category_name: format!("category {}", p % 2),
            quantity: q.into(),
            net_amount_fen: a.into(),
        })
        .collect();
    Order {
        order_id: format!("o{}", s.order),
        // Customer 0 stands for anonymous walk-ins.
        customer_id: if s.customer == 0 {
            String::new()
        } else {
            format!("c{}", s.customer)
        },
        store_id: format!("s{}", s.store),
        store_name: format!("store {}", s.store),
        city: format!("city {}", s.store % 2),
        channel: Channel::try_from(i32::from(s.channel)).unwrap_or(Channel::Pos) as i32,
        placed_at_ms: T0 + i64::from(s.hour) * HOUR,
        net_amount_fen: lines.iter().map(|l| l.net_amount_fen).sum(),
        lines,
        status: match s.status {
            1 => OrderStatus::Cancelled,
            2 => OrderStatus::Refunded,
            _ => OrderStatus::Paid,
        } as i32,
    }
}

fn scenario() -> impl Strategy<Value = (Vec<Sub>, Vec<usize>, Vec<u64>, Vec<usize>)> {
    prop::collection::vec(sub(), 1..60).prop_flat_map(|subs| {
        let n = subs.len();
        (
            Just(subs),
            // Indices of submissions re-sent verbatim later (duplicates).
            prop::collection::vec(0..n, 0..n),
            // Random keys that shuffle the delivery order and duplicate events.
            prop::collection::vec(any::<u64>(), 2 * n + 2),
            // Batch sizes.
            prop::collection::vec(1usize..8, 1..40),
        )
    })
}

type Tables = (CustomerDays, StoreDays, RefundDays);

fn numeric(d: &Tables) -> Tables {
    let (mut c, mut s, mut r) = d.clone();
    c.prune();
    s.prune();
    r.prune();
    c.stores.clear();
    s.product_info.clear();
    s.category_names.clear();
    (c, s, r)
}

fn merge<K: Ord + Clone, V: Default + Copy>(
    into: &mut BTreeMap<K, V>,
    from: &BTreeMap<K, V>,
    add: impl Fn(&mut V, V),
) {
    for (k, v) in from {
        add(into.entry(k.clone()).or_default(), *v);
    }
}

fn merge_tables(into: &mut Tables, from: &Tables) {
    merge(&mut into.0.rows, &from.0.rows, |a, b| a.add(b));
    merge(&mut into.1.hours, &from.1.hours, |a, b| a.add(b));
    merge(&mut into.1.channels, &from.1.channels, |a, b| a.add(b));
    merge(&mut into.1.products, &from.1.products, |a, b| a.add(b));
    merge(&mut into.1.categories, &from.1.categories, |a, b| a.add(b));
    merge(&mut into.2.rows, &from.2.rows, |a, b| a.add(b));
}

/// Far enough after the generated orders that none is in the future.
const NOW: i64 = T0 + 100 * 24 * HOUR;

fn valid(order: Order) -> portrait_core::ValidOrder {
    validate_order(order, NOW, &Limits::default()).expect("generated orders are valid")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn incremental_equals_recompute((subs, resend, keys, batches) in scenario()) {
        let calendar = Calendar::new("Asia/Shanghai").unwrap();
        let mut submissions: Vec<Order> = subs.iter().map(to_order).collect();
        submissions.extend(resend.iter().map(|&i| to_order(&subs[i])));

        // Ingest: keep the latest version per order, emit events for real changes.
        let mut stored: BTreeMap<String, Stored> = BTreeMap::new();
        let mut events: Vec<OrderEvent> = Vec::new();
        for order in submissions {
            let id = order.order_id.clone();
            if let Decision::Accept { stored: s, event } = decide(stored.get(&id), valid(order)) {
                events.extend(event);
                stored.insert(id, s);
            }
        }

        // Delivery: each event at least once, in a shuffled order.
        let mut delivered: Vec<(u64, OrderEvent)> = events
            .iter()
            .enumerate()
            .map(|(i, e)| (keys[i % keys.len()], e.clone()))
            .collect();
        for (i, e) in events.iter().enumerate() {
            if keys[(i + 1) % keys.len()] % 3 == 0 {
                delivered.push((keys[(i + 2) % keys.len()], e.clone()));
            }
        }
        delivered.sort_by_key(|(k, _)| *k);

        // Consumer: dedup by (order, revision), fold each batch, add to the tables.
        let mut applied: BTreeSet<(String, i64)> = BTreeSet::new();
        let mut tables = Tables::default();
        let mut rest = delivered.into_iter().map(|(_, e)| e).peekable();
        let mut sizes = batches.iter().cycle();
        while rest.peek().is_some() {
            let size = *sizes.next().unwrap_or(&1);
            let mut batch = Tables::default();
            for e in rest.by_ref().take(size) {
                if applied.insert((e.order_id.clone(), e.revision)) {
                    batch.apply(&calendar, &e);
                }
            }
            batch.0.prune();
            batch.1.prune();
            batch.2.prune();
            merge_tables(&mut tables, &batch);
        }

        // Oracle: fold every live order once, from scratch.
        let mut scratch = Tables::default();
        for s in stored.values().filter(|s| s.live) {
            scratch.apply(&calendar, &OrderEvent {
                order_id: s.order.order_id.clone(),
                revision: 1,
                order: Some(s.order.clone()),
                ..Default::default()
            });
        }
        // The refund counts: every order whose latest version is refunded,
        // at its store and day, whether or not it was ever seen paid.
        for s in stored.values().filter(|s| is_refunded(&s.order)) {
            let day = calendar.day(s.order.placed_at_ms);
            let by = RefundAcc { paid: 0, refunded: 1 };
            scratch.2.rows.entry((s.order.store_id.clone(), day)).or_default().add(by);
        }
        prop_assert_eq!(numeric(&tables), numeric(&scratch));
    }
}

#[test]
fn identical_resend_publishes_nothing_and_cancel_retracts() {
    let s = Sub {
        order: 1,
        customer: 1,
        store: 0,
        channel: 2,
        hour: 5,
        lines: vec![(1, 1, 100)],
        status: 0,
    };
    let first = decide(None, valid(to_order(&s)));
    let Decision::Accept {
        stored,
        event: Some(e1),
    } = first
    else {
        panic!("first version must publish")
    };
    assert_eq!(e1.revision, 1);
    assert!(e1.previous.is_none());
    assert_eq!(
        decide(Some(&stored), valid(to_order(&s))),
        Decision::Unchanged { revision: 1 }
    );
    let cancelled = Sub { status: 1, ..s };
    let Decision::Accept {
        stored: s2,
        event: Some(e2),
    } = decide(Some(&stored), valid(to_order(&cancelled)))
    else {
        panic!("cancel must publish a retraction")
    };
    assert_eq!(e2.revision, 2);
    assert!(e2.order.is_none());
    assert_eq!(e2.previous.as_ref(), Some(&stored.order));
    assert!(!s2.live);
}
