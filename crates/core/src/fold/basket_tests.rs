//! The association fold parts: each product once per basket, quantity ignored,
//! retraction subtracts, whatever the order.

use portrait_proto::v1::OrderLine;

use super::*;

fn order(id: &str, store: &str, lines: &[(&str, i64)]) -> Order {
    Order {
        order_id: id.into(),
        store_id: store.into(),
        lines: lines
            .iter()
            .map(|(p, q)| OrderLine {
                product_id: (*p).into(),
                quantity: *q,
                net_amount_fen: 100 * q,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn fold(orders: &[(&Order, i64)]) -> BasketPairs {
    let calendar = Calendar::default();
    let mut b = BasketPairs::default();
    for (o, sign) in orders {
        b.add(&calendar, o, *sign);
    }
    b.prune();
    b
}

#[test]
fn each_product_counts_once_per_basket_whatever_its_lines_and_quantity() {
    let o = order("1", "s", &[("tea", 1), ("bun", 3), ("tea", 7)]);
    let b = fold(&[(&o, 1)]);
    assert_eq!(b.baskets, BTreeMap::from([("s".to_owned(), 1)]));
    let products: Vec<_> = b
        .products
        .iter()
        .map(|((_, p), n)| (p.as_str(), *n))
        .collect();
    assert_eq!(products, [("bun", 1), ("tea", 1)]);
    let pairs: Vec<_> = (b.pairs.iter())
        .map(|((_, a, c), n)| (a.as_str(), c.as_str(), *n))
        .collect();
    assert_eq!(pairs, [("bun", "tea", 1)]);
    // Another quantity of the same products counts the same.
    let more = order("2", "s", &[("tea", 9), ("bun", 1)]);
    assert_eq!(fold(&[(&more, 1)]), b);
}

#[test]
fn a_retraction_subtracts_and_an_order_without_lines_is_no_basket() {
    let first = order("1", "s", &[("a", 1), ("b", 1), ("c", 1)]);
    let changed = order("1", "s", &[("a", 1), ("c", 2)]);
    let other = order("2", "t", &[("b", 1), ("c", 1)]);
    let empty = order("3", "s", &[]);
    let got = fold(&[
        (&first, 1),
        (&other, 1),
        (&first, -1),
        (&changed, 1),
        (&empty, 1),
    ]);
    let want = fold(&[(&other, 1), (&changed, 1)]);
    assert_eq!(got, want);
    assert_eq!(got.baskets.values().sum::<i64>(), 2);
    assert!(
        !got.pairs
            .contains_key(&("s".into(), "a".into(), "b".into()))
    );
    // Retracting everything leaves nothing to write.
    assert_eq!(fold(&[(&first, 1), (&first, -1)]), BasketPairs::default());
}

proptest::proptest! {
    /// Orders added, some retracted, all in a shuffled order: the rows
    /// of folding only the kept orders, over baskets and customers.
    #[test]
    fn shuffled_additions_and_retractions_equal_the_kept_orders(
        orders in proptest::collection::vec(
            (0u8..3, 0u8..4, proptest::collection::vec((0u8..5, 1i64..4), 0..5)),
            1..30,
        ),
        retracted in proptest::collection::vec(proptest::bool::ANY, 30),
        keys in proptest::collection::vec(proptest::num::u32::ANY, 60),
    ) {
        let calendar = Calendar::default();
        let made: Vec<Order> = (orders.iter().enumerate())
            .map(|(i, (store, customer, lines))| {
                let products: Vec<(String, i64)> =
                    lines.iter().map(|(p, q)| (format!("p{p}"), *q)).collect();
                let lines: Vec<(&str, i64)> =
                    products.iter().map(|(p, q)| (p.as_str(), *q)).collect();
                let mut o = order(&i.to_string(), &format!("s{store}"), &lines);
                // Customer 0 stands for anonymous walk-ins.
                if *customer > 0 {
                    o.customer_id = format!("c{customer}");
                }
                o
            })
            .collect();
        let mut events: Vec<(u32, &Order, i64)> = Vec::new();
        for (i, o) in made.iter().enumerate() {
            events.push((keys[2 * i], o, 1));
            if retracted[i] {
                events.push((keys[2 * i + 1], o, -1));
            }
        }
        events.sort_by_key(|(k, _, _)| *k);
        let mut got = BasketPairs::default();
        for (_, o, sign) in events {
            got.add(&calendar, o, sign);
        }
        got.prune();
        let mut want = BasketPairs::default();
        for (i, o) in made.iter().enumerate() {
            if !retracted[i] {
                want.add(&calendar, o, 1);
            }
        }
        want.prune();
        proptest::prop_assert_eq!(got, want);
    }
}
