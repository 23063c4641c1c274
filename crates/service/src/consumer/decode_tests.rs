//! Fuzz-style properties of what a consumer reads from the log (issue 11): any bytes, and
//! any corruption of a real event, are answered with an event or a reason for the dead-letter
//! topic, never a panic; what is accepted passed the order check in every version it carries.

use portrait_bus::Record;
use portrait_core::{Limits, check};
use portrait_proto::v1::{Channel, Order, OrderEvent, OrderLine};
use proptest::prelude::*;
use prost::Message as _;

use super::decode;

const NOW: i64 = 1_700_000_000_000;

fn record(payload: Vec<u8>) -> Record {
    Record {
        topic: "orders.v1".into(),
        partition: 0,
        offset: 0,
        key: String::new(),
        payload,
        headers: Vec::new(),
    }
}

fn event() -> OrderEvent {
    let order = Order {
        order_id: "o-1".into(),
        customer_id: "c-1".into(),
        store_id: "s-1".into(),
        store_name: "静安店".into(),
        city: "上海".into(),
        channel: Channel::Pos as i32,
        placed_at_ms: NOW - 86_400_000,
        net_amount_fen: 3_000,
        lines: vec![OrderLine {
            product_id: "p-1".into(),
            product_name: "套餐".into(),
            category_id: "k-1".into(),
            category_name: "主食".into(),
            quantity: 2,
            net_amount_fen: 3_000,
        }],
        status: 0,
    };
    OrderEvent {
        order_id: "o-1".into(),
        revision: 2,
        order: Some(order.clone()),
        previous: Some(order),
        refunded: None,
        previous_refunded: None,
    }
}

fn accepted_holds(e: &OrderEvent) -> Result<(), TestCaseError> {
    prop_assert!(!e.order_id.is_empty() && e.revision >= 1);
    let versions = [&e.order, &e.previous, &e.refunded, &e.previous_refunded];
    prop_assert!(versions.iter().any(|v| v.is_some()));
    for o in versions.into_iter().flatten() {
        prop_assert_eq!(&o.order_id, &e.order_id);
        prop_assert!(check(o, NOW, &Limits::default()).is_ok());
    }
    Ok(())
}

#[test]
fn the_real_event_is_accepted() {
    let e = event();
    let got = decode(&record(e.encode_to_vec()), NOW, &Limits::default());
    assert_eq!(got, Ok(e));
}

#[test]
fn a_bundle_that_could_not_be_read_is_dead_lettered_with_why() {
    // Even a payload that is a good event: the bus said it is a bundle it could not read.
    let mut r = record(event().encode_to_vec());
    r.headers.push((
        portrait_bus::BUNDLE_ERROR_HEADER.to_owned(),
        "not a Bundle: x".to_owned(),
    ));
    let got = decode(&r, NOW, &Limits::default());
    assert_eq!(
        got,
        Err("an unreadable bundle of events: not a Bundle: x".to_owned())
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3_000))]

    #[test]
    fn any_bytes_are_an_event_or_a_reason(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        match decode(&record(bytes), NOW, &Limits::default()) {
            Ok(e) => accepted_holds(&e)?,
            Err(reason) => prop_assert!(!reason.is_empty()),
        }
    }

    #[test]
    fn a_corrupted_event_is_an_event_or_a_reason(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut bytes = event().encode_to_vec();
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        match decode(&record(bytes), NOW, &Limits::default()) {
            Ok(e) => accepted_holds(&e)?,
            Err(reason) => prop_assert!(!reason.is_empty()),
        }
    }

    #[test]
    fn out_of_bounds_fields_are_named_in_the_reason(
        revision in any::<i64>(),
        amount in any::<i64>(),
        quantity in any::<i64>(),
        placed_at_ms in any::<i64>(),
    ) {
        let mut e = event();
        e.revision = revision;
        if let Some(o) = e.order.as_mut() {
            o.net_amount_fen = amount;
            o.lines[0].net_amount_fen = amount;
            o.lines[0].quantity = quantity;
            o.placed_at_ms = placed_at_ms;
        }
        match decode(&record(e.encode_to_vec()), NOW, &Limits::default()) {
            Ok(e) => accepted_holds(&e)?,
            Err(reason) => prop_assert!(
                reason.starts_with("event.") || reason.contains("revision"),
                "{}", reason
            ),
        }
    }
}
