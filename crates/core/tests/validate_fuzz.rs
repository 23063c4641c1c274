//! Fuzz-style properties of the order check every ingest request and every event from the
//! log goes through (issue 11): on any input it answers, never panics; a refusal names a field
//! of the order; an acceptance holds every documented bound, recomputed here on its own.

use portrait_core::{Error, Limits, check};
use portrait_proto::v1::{Order, OrderLine};
use proptest::prelude::*;

const NOW: i64 = 1_700_000_000_000;

/// Text from the edges: empty, blank, multi-byte, around the limits, far over them.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("  ".to_owned()),
        "[a-z0-9-]{1,20}",
        "\\PC{0,40}",
        (120usize..140).prop_map(|n| "x".repeat(n)),
        (40usize..50).prop_map(|n| "店".repeat(n)),
        (395usize..410).prop_map(|n| "y".repeat(n)),
    ]
}

fn amount() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(0),
        0i64..10_000,
        99_999_990i64..100_000_010,
        any::<i64>(),
        Just(i64::MAX),
        Just(i64::MIN),
    ]
}

fn line() -> impl Strategy<Value = OrderLine> {
    (
        text(),
        text(),
        text(),
        text(),
        prop_oneof![any::<i64>(), -2i64..12_000],
        amount(),
    )
        .prop_map(
            |(product_id, product_name, category_id, category_name, quantity, net_amount_fen)| {
                OrderLine {
                    product_id,
                    product_name,
                    category_id,
                    category_name,
                    quantity,
                    net_amount_fen,
                }
            },
        )
}

fn order() -> impl Strategy<Value = Order> {
    let ids = (text(), text(), text(), text(), text());
    let instant = prop_oneof![
        any::<i64>(),
        (NOW - 400 * 86_400_000)..(NOW + 2 * 86_400_000),
        Just(946_684_800_000 - 1),
    ];
    let lines = prop_oneof![
        proptest::collection::vec(line(), 0..4),
        // A well-formed tail: lines whose amounts add up, so the total check is reached.
        proptest::collection::vec(line(), 1..3),
    ];
    (
        ids,
        -1i32..8,
        -1i32..6,
        instant,
        amount(),
        lines,
        any::<bool>(),
    )
        .prop_map(
            |(
                (order_id, customer_id, store_id, store_name, city),
                channel,
                status,
                placed_at_ms,
                net,
                lines,
                summed,
            )| {
                let sum = lines
                    .iter()
                    .try_fold(0i64, |t, l| t.checked_add(l.net_amount_fen));
                Order {
                    order_id,
                    customer_id,
                    store_id,
                    store_name,
                    city,
                    channel,
                    placed_at_ms,
                    net_amount_fen: if summed { sum.unwrap_or(net) } else { net },
                    lines,
                    status,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn any_order_is_answered_and_an_accepted_one_holds_every_bound(o in order()) {
        let limits = Limits::default();
        match check(&o, NOW, &limits) {
            Ok(()) => {
                for id in [&o.order_id, &o.store_id] {
                    prop_assert!(!id.trim().is_empty() && id.len() <= limits.max_id_len);
                }
                prop_assert!(o.customer_id.len() <= limits.max_id_len);
                prop_assert!(o.store_name.len() <= limits.max_name_len);
                prop_assert!(o.city.len() <= limits.max_name_len);
                prop_assert!((1..=5).contains(&o.channel));
                prop_assert!(o.placed_at_ms >= limits.earliest_ms);
                prop_assert!(o.placed_at_ms <= NOW + limits.max_future_ms);
                prop_assert!((0..=limits.max_order_fen).contains(&o.net_amount_fen));
                prop_assert!(!o.lines.is_empty() && o.lines.len() <= limits.max_lines);
                let mut total: i128 = 0;
                for l in &o.lines {
                    prop_assert!((1..=limits.max_line_quantity).contains(&l.quantity));
                    prop_assert!((0..=limits.max_order_fen).contains(&l.net_amount_fen));
                    prop_assert!(!l.product_id.trim().is_empty());
                    total += i128::from(l.net_amount_fen);
                }
                prop_assert_eq!(total, i128::from(o.net_amount_fen));
            }
            Err(Error::Invalid { field, reason }) => {
                prop_assert!(field.starts_with("order."), "{}: {}", field, reason);
                prop_assert!(!reason.is_empty());
            }
            Err(other) => prop_assert!(false, "not a field error: {}", other),
        }
    }
}

/// Orders inside every bound, at the bounds too.
fn valid_order() -> impl Strategy<Value = Order> {
    let line = (
        "[a-z0-9]{1,128}",
        "\\PC{0,100}",
        1i64..=10_000,
        0i64..=1_000_000,
    )
        .prop_map(
            |(product_id, product_name, quantity, net_amount_fen)| OrderLine {
                product_id,
                product_name,
                category_id: String::new(),
                category_name: String::new(),
                quantity,
                net_amount_fen,
            },
        );
    let lines = proptest::collection::vec(line, 1..20);
    let instant = 946_684_800_000i64..=NOW + 24 * 3_600_000;
    (
        "[a-z0-9-]{1,128}",
        "[a-z0-9]{0,128}",
        1i32..=5,
        0i32..=2,
        instant,
        lines,
    )
        .prop_map(
            |(order_id, customer_id, channel, status, placed_at_ms, lines)| Order {
                order_id,
                customer_id,
                store_id: "s-1".into(),
                store_name: "店".repeat(133),
                city: "上海".into(),
                channel,
                placed_at_ms,
                net_amount_fen: lines.iter().map(|l| l.net_amount_fen).sum(),
                lines,
                status,
            },
        )
}

proptest! {
    #[test]
    fn an_order_inside_every_bound_is_accepted(o in valid_order()) {
        prop_assert_eq!(check(&o, NOW, &Limits::default()), Ok(()));
    }
}
