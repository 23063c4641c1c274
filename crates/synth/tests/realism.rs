//! The generated chain is valid, deterministic, and shows the habits it claims.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, TimeZone, Timelike};
use portrait_proto::v1::{Channel, Order, OrderStatus};
use portrait_synth::{ChainSpec, generate};

fn local(ms: i64) -> chrono::DateTime<chrono_tz::Tz> {
    chrono_tz::Asia::Shanghai
        .timestamp_millis_opt(ms)
        .single()
        .expect("valid instant")
}

fn assert_valid(spec: &ChainSpec, o: &Order) {
    assert!(
        !o.order_id.is_empty()
            && !o.store_id.is_empty()
            && !o.store_name.is_empty()
            && !o.city.is_empty()
    );
    assert!(o.channel != Channel::Unspecified as i32 && Channel::try_from(o.channel).is_ok());
    let start = spec.start_midnight_ms();
    assert!(o.placed_at_ms >= start && o.placed_at_ms < start + i64::from(spec.days) * 86_400_000);
    assert!(!o.lines.is_empty());
    assert_eq!(
        o.net_amount_fen,
        o.lines.iter().map(|l| l.net_amount_fen).sum::<i64>()
    );
    for l in &o.lines {
        assert!(l.quantity >= 1 && l.net_amount_fen >= 0);
        assert!(!l.product_id.is_empty() && !l.product_name.is_empty());
        assert!(!l.category_id.is_empty() && !l.category_name.is_empty());
    }
}

#[test]
fn small_chain_is_valid_and_deterministic() {
    let spec = ChainSpec::small(3);
    let (chain, orders) = generate(&spec);
    assert_eq!(generate(&spec), (chain.clone(), orders.clone()));
    assert_ne!(generate(&ChainSpec::small(4)).1, orders);
    assert!(orders.len() > 500, "{}", orders.len());
    for o in &orders {
        assert_valid(&spec, o);
    }
    // Every re-send comes after the first version of its order.
    let mut seen = BTreeSet::new();
    for o in &orders {
        if !seen.insert(&o.order_id) {
            continue;
        }
        assert_eq!(
            o.status,
            OrderStatus::Paid as i32,
            "a first version is paid: {}",
            o.order_id
        );
    }
}

#[test]
fn demo_chain_looks_like_a_chain() {
    let started = std::time::Instant::now();
    let spec = ChainSpec::demo(1_764_000_000_000);
    let (chain, orders) = generate(&spec);
    eprintln!(
        "demo: {} submissions in {:?}",
        orders.len(),
        started.elapsed()
    );
    assert!(chain.stores.len() >= 20);
    assert!(
        chain
            .stores
            .iter()
            .map(|s| &s.city)
            .collect::<BTreeSet<_>>()
            .len()
            >= 5
    );
    let channels: BTreeSet<i32> = orders.iter().map(|o| o.channel).collect();
    assert_eq!(channels.len(), 5, "all five channels");
    let customers: BTreeSet<&str> = orders
        .iter()
        .map(|o| o.customer_id.as_str())
        .filter(|c| !c.is_empty())
        .collect();
    assert!(customers.len() >= 10_000, "{}", customers.len());
    assert!(
        (150_000..600_000).contains(&orders.len()),
        "{}",
        orders.len()
    );

    let mut first: BTreeMap<&str, &Order> = BTreeMap::new();
    let mut per_id: BTreeMap<&str, usize> = BTreeMap::new();
    for o in &orders {
        first.entry(&o.order_id).or_insert(o);
        *per_id.entry(&o.order_id).or_default() += 1;
    }
    let distinct = first.len() as f64;
    let repeated = per_id.values().filter(|&&n| n > 1).count() as f64;
    // resend 3 % + change 2 % + refund 1.5 %, with overlaps.
    assert!(
        (0.04..0.10).contains(&(repeated / distinct)),
        "{}",
        repeated / distinct
    );
    let refunded = orders
        .iter()
        .filter(|o| o.status != OrderStatus::Paid as i32)
        .count() as f64;
    assert!(
        (0.008..0.025).contains(&(refunded / distinct)),
        "{}",
        refunded / distinct
    );

    // Habits show: some customers order only on weekday lunches, some only by delivery.
    let mut by_customer: BTreeMap<&str, Vec<&Order>> = BTreeMap::new();
    for o in first.values().filter(|o| !o.customer_id.is_empty()) {
        by_customer.entry(&o.customer_id).or_default().push(o);
    }
    let frequent = |pred: &dyn Fn(&Order) -> bool| {
        by_customer
            .values()
            .filter(|os| os.len() >= 5 && os.iter().all(|o| pred(o)))
            .count()
    };
    let lunch = frequent(&|o| {
        let t = local(o.placed_at_ms);
        (11..14).contains(&t.hour()) && t.weekday().num_days_from_monday() < 5
    });
    let delivery =
        frequent(&|o| o.channel == Channel::Meituan as i32 || o.channel == Channel::Eleme as i32);
    assert!(lunch > 500, "weekday-lunch-only customers: {lunch}");
    assert!(delivery > 500, "delivery-only customers: {delivery}");
    let one_off = by_customer.values().filter(|os| os.len() == 1).count();
    assert!(one_off > 1_000, "one-off customers: {one_off}");
    let anonymous = first.values().filter(|o| o.customer_id.is_empty()).count();
    assert!(anonymous > 5_000, "walk-ins: {anonymous}");
}
