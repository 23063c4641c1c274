//! The streaming generator: deterministic, near the requested order count,
//! and every order's versions in a sensible sending order.

use std::collections::HashMap;

use portrait_proto::v1::OrderStatus;
use portrait_synth::{ChainSpec, OrderStream};

fn spec() -> ChainSpec {
    ChainSpec {
        customers: 2_000,
        stores: 40,
        cities: 30,
        ..ChainSpec::small(5)
    }
}

#[test]
fn same_seed_same_submissions() {
    let a: Vec<_> = OrderStream::new(&spec(), Some(20_000)).flatten().collect();
    let b: Vec<_> = OrderStream::new(&spec(), Some(20_000)).flatten().collect();
    assert_eq!(a, b);
    let other = ChainSpec { seed: 6, ..spec() };
    let c: Vec<_> = OrderStream::new(&other, Some(20_000)).flatten().collect();
    assert_ne!(a, c);
}

#[test]
fn reaches_the_requested_order_count_and_cities() {
    for target in [5_000_u64, 20_000, 60_000] {
        let stream = OrderStream::new(&spec(), Some(target));
        assert_eq!(stream.layout().stores.len(), 40);
        let mut firsts: HashMap<String, usize> = HashMap::new();
        let mut cities = std::collections::BTreeSet::new();
        for o in stream.flatten() {
            cities.insert(o.city.clone());
            *firsts.entry(o.order_id).or_default() += 1;
        }
        let n = firsts.len() as f64;
        let off = (n - target as f64).abs() / target as f64;
        assert!(off < 0.05, "{n} distinct orders for a target of {target}");
        assert_eq!(cities.len(), 30);
    }
}

#[test]
fn first_version_is_paid_and_later_ones_follow_it() {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let (mut revised, mut cancelled) = (0, 0);
    for o in OrderStream::new(&spec(), Some(20_000)).flatten() {
        let versions = seen.entry(o.order_id.clone()).or_default();
        if *versions == 0 {
            assert_eq!(o.status, OrderStatus::Paid as i32, "{}", o.order_id);
        } else {
            revised += 1;
        }
        cancelled += usize::from(o.status != OrderStatus::Paid as i32);
        *versions += 1;
    }
    // Rates of 5 % + 5 % re-sends and 3 % cancellations of ~20,000 orders.
    assert!(
        (1_400..2_600).contains(&revised),
        "{revised} later versions"
    );
    assert!((400..800).contains(&cancelled), "{cancelled} cancellations");
}
