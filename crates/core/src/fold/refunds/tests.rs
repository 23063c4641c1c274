//! The refund counts through `decide`, as ingest publishes them: each case
//! feeds the events of a sequence of submissions and compares the counts
//! with the orders' latest versions, counted by hand.

use portrait_proto::v1::{Channel, OrderLine, OrderStatus};

use super::*;
use crate::{Decision, Limits, Stored, decide, validate_order};

/// 2023-11-14 22:13:20 UTC, 2023-11-15 in Shanghai.
const T0: i64 = 1_700_000_000_000;
const DAY: i64 = 86_400_000;

fn order(id: &str, store: &str, at: i64, amount: i64, status: OrderStatus) -> Order {
    Order {
        order_id: id.into(),
        customer_id: "c1".into(),
        store_id: store.into(),
        store_name: store.into(),
        city: "上海".into(),
        channel: Channel::Pos as i32,
        placed_at_ms: at,
        net_amount_fen: amount,
        lines: vec![OrderLine {
            product_id: "p".into(),
            product_name: "p".into(),
            category_id: "k".into(),
            category_name: "k".into(),
            quantity: 1,
            net_amount_fen: amount,
        }],
        status: status as i32,
    }
}

/// Ingest's decisions for the submissions, in order: the events published.
fn events(submissions: &[Order]) -> Vec<OrderEvent> {
    let mut stored: BTreeMap<String, Stored> = BTreeMap::new();
    let mut out = Vec::new();
    for o in submissions {
        let valid = validate_order(o.clone(), T0 + 10 * DAY, &Limits::default()).unwrap();
        if let Decision::Accept { stored: s, event } = decide(stored.get(&o.order_id), valid) {
            out.extend(event);
            stored.insert(o.order_id.clone(), s);
        }
    }
    out
}

fn fold(events: &[OrderEvent]) -> BTreeMap<(String, Day), (i64, i64)> {
    let calendar = Calendar::new("Asia/Shanghai").unwrap();
    let mut r = RefundDays::default();
    for e in events {
        r.apply(&calendar, e);
    }
    r.prune();
    (r.rows.into_iter())
        .map(|(k, a)| (k, (a.paid, a.refunded)))
        .collect()
}

fn day(at: i64) -> Day {
    Calendar::new("Asia/Shanghai").unwrap().day(at)
}

fn counts(rows: &[(&str, i64, i64, i64)]) -> BTreeMap<(String, Day), (i64, i64)> {
    (rows.iter())
        .map(|(s, at, paid, refunded)| (((*s).to_owned(), day(*at)), (*paid, *refunded)))
        .collect()
}

#[test]
fn a_refund_after_the_paid_version_moves_it_from_paid_to_refunded() {
    let paid = order("o1", "s", T0, 500, OrderStatus::Paid);
    let other = order("o2", "s", T0 + 1, 300, OrderStatus::Paid);
    let refund = order("o1", "s", T0, 500, OrderStatus::Refunded);
    let got = fold(&events(&[paid, other, refund]));
    assert_eq!(got, counts(&[("s", T0, 1, 1)]));
}

#[test]
fn a_refund_sent_again_publishes_nothing_and_a_duplicate_event_is_dropped_upstream() {
    let paid = order("o1", "s", T0, 500, OrderStatus::Paid);
    let refund = order("o1", "s", T0, 500, OrderStatus::Refunded);
    let once = events(&[paid.clone(), refund.clone()]);
    let twice = events(&[paid, refund.clone(), refund]);
    assert_eq!(once, twice);
    assert_eq!(fold(&twice), counts(&[("s", T0, 0, 1)]));
}

#[test]
fn a_refund_of_an_order_never_seen_paid_counts_and_cancelling_it_uncounts() {
    let refund = order("o9", "s", T0, 500, OrderStatus::Refunded);
    let e = events(std::slice::from_ref(&refund));
    assert_eq!(
        e.len(),
        1,
        "a refund is published even for an unknown order"
    );
    assert!(e[0].order.is_none() && e[0].previous.is_none());
    assert_eq!(fold(&e), counts(&[("s", T0, 0, 1)]));
    let cancel = order("o9", "s", T0, 500, OrderStatus::Cancelled);
    assert!(fold(&events(&[refund, cancel])).is_empty());
    // Cancelling an order nobody counted still publishes nothing.
    let cancelled = order("o8", "s", T0, 500, OrderStatus::Cancelled);
    assert!(events(&[cancelled]).is_empty());
}

#[test]
fn paid_again_after_a_refund_or_refunded_elsewhere_moves_the_counts() {
    let paid = order("o1", "s", T0, 500, OrderStatus::Paid);
    let refund = order("o1", "s", T0, 500, OrderStatus::Refunded);
    let again = order("o1", "s", T0, 450, OrderStatus::Paid);
    let got = fold(&events(&[paid.clone(), refund.clone(), again]));
    assert_eq!(got, counts(&[("s", T0, 1, 0)]));
    // A refunded order re-sent with another amount moves nothing; re-sent at
    // another store and day, its refund moves there.
    let cheaper = order("o1", "s", T0, 10, OrderStatus::Refunded);
    let subs = [paid.clone(), refund.clone(), cheaper];
    assert_eq!(events(&subs).len(), 2);
    let moved = order("o1", "t", T0 + DAY, 500, OrderStatus::Refunded);
    let got = fold(&events(&[paid, refund, moved]));
    assert_eq!(got, counts(&[("t", T0 + DAY, 0, 1)]));
}

#[test]
fn events_commute_in_any_delivery_order() {
    let subs = [
        order("o1", "s", T0, 500, OrderStatus::Paid),
        order("o1", "s", T0, 500, OrderStatus::Refunded),
        order("o1", "s", T0, 400, OrderStatus::Paid),
        order("o1", "t", T0, 400, OrderStatus::Refunded),
        order("o2", "s", T0, 100, OrderStatus::Paid),
    ];
    let e = events(&subs);
    let want = fold(&e);
    assert_eq!(want, counts(&[("s", T0, 1, 0), ("t", T0, 0, 1)]));
    let mut reversed = e.clone();
    reversed.reverse();
    assert_eq!(fold(&reversed), want);
}
